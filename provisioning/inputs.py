"""The one definition of each kind of value DSO Console hands to git, Helm, Argo CD and Kubernetes.

Each ``*_problem`` function returns ``None`` for an acceptable value or a sentence saying what is wrong.
They are plain Python so the renderer and the adapters (no Django here) and the model validators
(``console.models.validators``) apply the very same rules: what registration accepts, provisioning renders.
"""

from __future__ import annotations

import re
import unicodedata

DNS_LABEL_MAX = 63
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# The OCI distribution spec's tag grammar.
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# Characters git refuses anywhere in a ref name (git-check-ref-format(1), rules 3-5 and 10); ".." and "@{"
# are sequences, checked apart.
_REF_FORBIDDEN = set(" ~^:?*[\\")
# Unicode that git lets through (it only looks at ASCII bytes) but that no one can see or type reliably,
# and that YAML 1.1 readers (kubectl) take as line breaks: NEL, LINE/PARAGRAPH SEPARATOR.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"}


def dns_label_problem(value: str, *, max_length: int = DNS_LABEL_MAX) -> str | None:
    if not isinstance(value, str) or not _DNS_LABEL.match(value) or len(value) > max_length:
        return (
            f"{value!r} is not a valid name: use lowercase letters, digits and '-', starting and ending with "
            f"a letter or digit, at most {max_length} characters (DNS-1123 label)"
        )
    return None


# Namespaces the platform itself runs in. Entries ending in '*' are prefixes.
PLATFORM_RESERVED_NAMESPACES = ("kube-*", "default")


def namespace_reserved_problem(namespace: str, *, reserved: tuple[str, ...] = ()) -> str | None:
    """Whether a tenant namespace would take one of the platform's (``reserved`` adds to the built-in ones)."""
    for entry in (*PLATFORM_RESERVED_NAMESPACES, *reserved):
        entry = entry.strip()
        if entry and (namespace == entry or (entry.endswith("*") and namespace.startswith(entry[:-1]))):
            return f"the namespace {namespace!r} is reserved by the platform ({entry}): choose other slugs"
    return None


def namespace_prefix_reserved_problem(prefix: str, *, reserved: tuple[str, ...] = ()) -> str | None:
    """Whether every namespace starting with ``prefix`` is reserved (an organization slug "kube" gives
    "kube-<project>" to all of its projects)."""
    for entry in (*PLATFORM_RESERVED_NAMESPACES, *reserved):
        entry = entry.strip()
        if entry.endswith("*") and prefix.startswith(entry[:-1]):
            return f"every namespace starting with {prefix!r} is reserved by the platform ({entry})"
    return None


def git_ref_name_problem(name: str, *, allow_onelevel: bool = False) -> str | None:
    """The rules of ``git check-ref-format [--allow-onelevel] <name>``, as its manual lists them.

    git checks bytes; a ``str`` is checked as its UTF-8 encoding would be (non-ASCII passes, as in git).
    """
    if not isinstance(name, str) or not name:
        return "a ref name cannot be empty"
    if name == "@":
        return "a ref name cannot be the single character '@'"
    for char in name:
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return "a ref name cannot contain control characters"
        if char in _REF_FORBIDDEN:
            return f"a ref name cannot contain {'spaces' if char == ' ' else repr(char)}"
    if ".." in name:
        return "a ref name cannot contain '..'"
    if "@{" in name:
        return "a ref name cannot contain '@{'"
    if name.endswith("."):
        return "a ref name cannot end with '.'"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "a ref name cannot begin or end with '/' or contain '//'"
    components = name.split("/")
    for component in components:
        if component.startswith("."):
            return "no '/'-separated part of a ref name can begin with '.'"
        if component.endswith(".lock"):
            return "no '/'-separated part of a ref name can end with '.lock'"
    if len(components) < 2 and not allow_onelevel:
        return "a ref name needs at least one '/' here"
    return None


def git_branch_name_problem(name: str) -> str | None:
    """``git check-ref-format --branch <name>`` for a plain name (no ``@{-N}`` shorthand)."""
    if isinstance(name, str) and name.startswith("-"):
        return "a branch name cannot begin with '-'"
    if name == "HEAD":
        return "'HEAD' is not a valid branch name"
    problem = git_ref_name_problem(f"refs/heads/{name}" if isinstance(name, str) else name)
    return problem and problem.replace("ref name", "branch name")


def git_revision_problem(revision: str) -> str | None:
    """What a deploy revision may be: ``HEAD``, a branch, a tag, ``refs/...`` or a commit SHA.

    All of those are one-level-or-more ref names, so git's rules decide; on top of them a leading '-' (read
    as an option by every git command) and invisible Unicode are refused.
    """
    if isinstance(revision, str) and revision.startswith("-"):
        return "a revision cannot begin with '-'"
    problem = git_ref_name_problem(revision, allow_onelevel=True)
    if problem:
        return problem.replace("a ref name", "a revision (branch, tag or commit)")
    if _has_invisible(revision):
        return "a revision cannot contain invisible or non-printing characters"
    return None


def repo_relative_path_problem(path: str) -> str | None:
    """A file or folder inside the repository, as Argo CD and Helm receive it (``source.path``, ``valueFiles``).

    Argo CD expands ``$VAR`` in value files and fetches any ``scheme:`` value as a URL, so '$' and ':' are
    refused; glob characters are refused so a path names exactly one file. Spaces inside a name are fine:
    the YAML is quoted and Argo CD passes the path to Helm as one argument, never through a shell.
    """
    if not isinstance(path, str) or not path:
        return "a path cannot be empty"
    if path != path.strip():
        return "a path cannot begin or end with whitespace"
    if path.startswith("/"):
        return "must be a path inside the repository: no leading '/'"
    if "\\" in path:
        return "use '/' between folders, not '\\'"
    if any(part == ".." for part in path.split("/")):
        return "must be a path inside the repository: no '..'"
    if "//" in path:
        return "a path cannot contain '//'"
    bad = sorted(set(path) & set("$:*?[]"))
    if bad:
        return f"a path cannot contain {', '.join(repr(c) for c in bad)}"
    if _has_invisible(path.replace(" ", "")):
        return "a path cannot contain control or invisible characters"
    return None


def image_tag_problem(tag: str) -> str | None:
    if not isinstance(tag, str) or not _IMAGE_TAG.match(tag):
        return (
            f"{tag!r} is not a valid image tag: letters, digits, '_', '.' and '-', not starting with '.' or '-', "
            "at most 128 characters"
        )
    return None


def display_name_problem(name: str) -> str | None:
    if not isinstance(name, str) or any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in name):
        return "a name cannot contain line breaks, tabs or other control characters"
    return None


def _has_invisible(value: str) -> bool:
    return any(unicodedata.category(char) in _INVISIBLE_CATEGORIES for char in value)
