"""Where an untrusted repository URL may make the worker connect: checked when the URL is accepted, and
checked again right before every git process that talks to it (resolve, check, pin).

A repository URL is typed by a project maintainer, and the worker connects to it. Without these checks a
maintainer could make the worker probe the platform's own network (the cluster's services, the cloud
metadata endpoint, the internal forge) and read the answers back from the run's error message.

Two layers:

* ``check_url`` (pure, no I/O) refuses URLs that are not canonical https URLs, or whose host is an
  address or name that is not public: loopback in every notation, private and link-local ranges,
  IPv4-mapped IPv6, non-canonical IPv4 forms (``127.1``, ``0x7f.1``, ``2130706433``) that resolvers
  accept but humans misread, single-label and cluster-internal names. Serializers, forms and services all
  reach it through model validation.
* ``connection_config`` resolves the host, checks every address it resolves to, and returns git config
  that pins curl to exactly those addresses (``http.curloptResolve``), so a DNS answer that changes
  between the check and the connection (DNS rebinding) cannot move the connection elsewhere.

Platforms that mirror from their own network list those hosts in a ``NetworkPolicy`` (the console's
``DSO_ALLOWED_INTERNAL_HOSTS``); loopback is reachable only with ``allow_loopback`` (tests, the embedded
demo). No Django here: the console builds the policy from its settings.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

from provisioning.errors import InvalidInput, Unreachable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ACCEPTED = "use an https:// URL such as https://gitlab.example.com/group/project.git"
_WHY_NO_SSH = ("SSH URLs (git@host:path, ssh://) are not supported: DSO Console authenticates with a token "
               "over HTTPS")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# The WHATWG URL rule: a host whose last label is a number is an IPv4 address, whatever else it looks like.
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_PORT = re.compile(r"[1-9][0-9]{0,4}")
_SCP_LIKE = re.compile(r"[^/:@]+@[^/:]+:")
# Names that only ever resolve inside a site or cluster (RFC 6761/6762/8375, Kubernetes, common practice).
_INTERNAL_SUFFIXES = ("localhost", "local", "localdomain", "internal", "intranet", "lan", "home", "corp",
                      "private", "home.arpa", "arpa", "svc", "svc.cluster.local", "cluster.local")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_DEFAULT_PORTS = {"https": 443, "http": 80}

# One message for every refusal or failure to resolve at connection time: which of the two it was, and
# what the name resolved to, is not the business of whoever typed the URL.
NOT_PUBLIC = ("could not reach the repository: its host does not resolve to a public address (the platform "
              "team can allow internal hosts)")


_NOT_PUBLIC_HOST = ("the host is not a public address: DSO Console only connects to public hosts (the platform "
                    "team can allow internal hosts)")


class UrlRefused(ValueError):
    """A URL refused by ``check_url``; ``message`` says what is accepted instead."""

    def __init__(self, message: str, code: str = "invalid_url"):
        super().__init__(message)
        self.message = message
        self.code = code


class AddressRefused(InvalidInput):
    """Connection time: the URL or the address its host resolves to is not allowed. Never retried."""

    code = "address_not_allowed"


@dataclass(frozen=True)
class NetworkPolicy:
    """What untrusted URLs may reach beyond the public internet.

    ``allowed_hosts``: exact host names whose addresses may be private (RFC 1918, unique-local), never
    loopback or link-local. ``allowed_networks``: address ranges allowed whatever they are.
    ``forbidden``: ``(host, port, path prefix)`` never reachable (port ``None`` = any), e.g. the internal
    forge's root group, whose copies an external URL must not mirror into another project.
    """

    allow_loopback: bool = False
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()
    forbidden: frozenset[tuple[str, int | None, str]] = field(default_factory=frozenset)

    @classmethod
    def build(cls, *, allow_loopback: bool = False, allowed_internal_hosts: Iterable[str] = (),
              forbidden_urls: Iterable[str] = (), forbidden_any_port_urls: Iterable[str] = ()) -> NetworkPolicy:
        """From plain setting values: host names or CIDR ranges, and URLs that nothing at or below may
        name (on their port, or on any port of their host)."""
        hosts, networks = set(), []
        for entry in (e.strip().lower() for e in allowed_internal_hosts):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.rstrip("."))
        forbidden = set()
        for any_port, urls in ((False, forbidden_urls), (True, forbidden_any_port_urls)):
            for url in urls:
                try:
                    target = _split(url)
                except UrlRefused:
                    continue
                loopback = _is_loopback_name(target.host) or (
                    target.address is not None and target.address.is_loopback)
                # Loopback is shared by unrelated services (tests, the embedded demo): there, only the exact port.
                port = None if any_port and not loopback else target.port
                forbidden.add((target.host, port, _prefix(target.path)))
        return cls(allow_loopback=allow_loopback, allowed_hosts=frozenset(hosts),
                   allowed_networks=tuple(networks), forbidden=frozenset(forbidden))


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lowercase; an IPv6 literal without its brackets
    port: int  # explicit or the scheme's default
    origin: str  # scheme://host[:port] exactly as git writes it in a credential prompt, lowercase
    address: IPAddress | None  # set when the host is an IP literal
    path: str = "/"


def check_syntax(url: str, *, allow_loopback_http: bool) -> Target:
    """A canonical https URL (http only to loopback when allowed), else UrlRefused. Says nothing yet about
    whether the host may be reached; no network access."""
    target = _split(url)
    loopback = _is_loopback_name(target.host) or (target.address is not None and target.address.is_loopback)
    if target.scheme == "http" and not (loopback and allow_loopback_http):
        raise UrlRefused(f"plain http:// is accepted only for loopback in test and demo setups: {ACCEPTED}",
                         code="insecure_url")
    return target


def check_url(url: str, policy: NetworkPolicy) -> Target:
    """The URL's target if the policy lets untrusted git reach it, else UrlRefused saying why and what is
    accepted. No network access: names are checked again, resolved, at connection time."""
    target = check_syntax(url, allow_loopback_http=policy.allow_loopback)
    host_listed = target.host in policy.allowed_hosts
    if any(host == target.host and port in (None, target.port) and _prefix(target.path).startswith(prefix)
           for host, port, prefix in policy.forbidden):
        raise UrlRefused("this is DSO Console's internal forge: register the external repository it mirrors, "
                         "not the internal copy", code="internal_forge")
    loopback = _is_loopback_name(target.host) or (target.address is not None and target.address.is_loopback)
    if target.address is not None:
        if not address_allowed(target.address, policy, host_listed=False):
            raise UrlRefused(_NOT_PUBLIC_HOST, code="internal_address")
    elif loopback:
        if not policy.allow_loopback:
            raise UrlRefused(_NOT_PUBLIC_HOST, code="internal_address")
    elif not host_listed and ("." not in target.host or target.host.endswith(_dotted(_INTERNAL_SUFFIXES))):
        raise UrlRefused(
            "the host is a single-label or site-internal name; give the repository's public, fully qualified "
            "host name (the platform team can allow internal hosts)",
            code="internal_address",
        )
    return target


def address_allowed(address: IPAddress, policy: NetworkPolicy, *, host_listed: bool) -> bool:
    """Whether an untrusted URL may reach ``address``; ``host_listed``: its name is an allowed host."""
    if any(address.version == net.version and address in net for net in policy.allowed_networks):
        return True
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None)
        if embedded is not None:
            return address_allowed(embedded, policy, host_listed=host_listed)
        if address.teredo is not None:
            return False
    if address.is_loopback:
        return policy.allow_loopback
    if address.is_multicast or address.is_unspecified or address.is_link_local or address.is_reserved:
        return False
    if address.is_global:
        return True
    return host_listed and address.is_private


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to for a TCP connection (the function tests replace)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))


def checked_addresses(url: str, policy: NetworkPolicy) -> tuple[Target, list[IPAddress] | None]:
    """The URL's target and every address its host resolves to, each checked against the policy (None for an
    IP literal: nothing to resolve). Raises AddressRefused (the URL or an address is not allowed) or
    Unreachable (the name does not resolve) before anything connects."""
    try:
        target = check_url(url, policy)
    except UrlRefused as exc:
        raise AddressRefused(f"DSO Console does not connect to this repository URL: {exc.message}") from None
    if target.address is not None:
        return target, None
    try:
        found = resolve_host(target.host, target.port)
    except (OSError, UnicodeError):
        raise Unreachable(NOT_PUBLIC) from None
    addresses: list[IPAddress] = []
    for text in found:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            raise AddressRefused(NOT_PUBLIC) from None
        if "%" in text or not address_allowed(address, policy, host_listed=target.host in policy.allowed_hosts):
            raise AddressRefused(NOT_PUBLIC)
        addresses.append(address)
    if not addresses:
        raise Unreachable(NOT_PUBLIC)
    return target, addresses


def connection_config(url: str, policy: NetworkPolicy) -> list[tuple[str, str]]:
    """git config entries that confine the next git process's connection to checked addresses.

    Raises AddressRefused (the URL or an address is not allowed) or Unreachable (the name does not
    resolve) before anything connects.
    """
    target, addresses = checked_addresses(url, policy)
    if addresses is None:
        return []  # curl connects to the literal itself: nothing to resolve, nothing to rebind
    pinned = ",".join(f"[{a}]" if a.version == 6 else str(a) for a in addresses)
    # An empty value first clears any entry inherited from elsewhere; curl then knows only these addresses.
    return [("http.curloptResolve", ""), ("http.curloptResolve", f"{target.host}:{target.port}:{pinned}")]


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` as git names it in credential prompts (lowercase), or "" without a scheme.

    Deliberately lenient: trusted remotes (the internal forge) need not pass ``check_url`` to get their
    credentials, e.g. a compose host name with an underscore."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return ""
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    return f"{scheme}://{authority}".lower()


def normalized_url(url: str) -> str:
    """The URL compared for "same repository": lowercase origin without a default port, no trailing
    ``/`` or ``.git``. Unparsable URLs compare as themselves."""
    try:
        target = _split(url, check_scheme=False)
    except UrlRefused:
        return url
    path = url.split("://", 1)[1].partition("/")[2].rstrip("/").removesuffix(".git").rstrip("/")
    host = f"[{target.host}]" if target.address is not None and target.address.version == 6 else target.host
    port = "" if target.port == _DEFAULT_PORTS.get(target.scheme) else f":{target.port}"
    return f"{target.scheme}://{host}{port}/{path}"


# --- parsing -------------------------------------------------------------------------------------------------


def _split(url: str, *, check_scheme: bool = True) -> Target:
    """Parse by hand rather than with urlsplit, which silently drops tabs, newlines and leading control
    characters, so that the URL checked is exactly the URL stored and given to git."""
    if not isinstance(url, str) or not url:
        raise UrlRefused(f"the URL is empty: {ACCEPTED}")
    if any(not ("\x21" <= ch <= "\x7e") for ch in url):
        raise UrlRefused(
            "the URL contains spaces, control characters or non-ASCII characters; international host names "
            f"must be written in their xn-- form: {ACCEPTED}"
        )
    if "\\" in url:
        raise UrlRefused(f"the URL contains a backslash: {ACCEPTED}")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        if _SCP_LIKE.match(url):
            raise UrlRefused(f"{_WHY_NO_SSH}; {ACCEPTED}", code="unsupported_scheme")
        raise UrlRefused(f"not a URL: {ACCEPTED}; {_WHY_NO_SSH}", code="invalid_url")
    if check_scheme and scheme not in _DEFAULT_PORTS:
        why = {"file": "file:// would read the worker's own disk, not a repository of yours",
               "http": "", "git": "git:// is unauthenticated and unencrypted"}.get(
            scheme, _WHY_NO_SSH if "ssh" in scheme else "only https:// is supported (the token travels encrypted)")
        raise UrlRefused(f"unsupported URL scheme {scheme!r}: {ACCEPTED}; {why}", code="unsupported_scheme")
    authority, slash, _ = rest.partition("/")
    if "?" in url or "#" in url:
        raise UrlRefused("the URL must not have a query or fragment")
    if "@" in authority:
        raise UrlRefused("the URL must not contain credentials: give the username and token in their own fields",
                         code="credentials_in_url")
    if not authority:
        raise UrlRefused(f"the URL has no host: {ACCEPTED}; {_WHY_NO_SSH}")
    host, port = _split_authority(authority)
    address = None
    if host.startswith("["):
        address = _ipv6_literal(host)
        host = host[1:-1].lower()
    else:
        host = host.lower()
        if host.endswith("."):
            raise UrlRefused("write the host name without a trailing dot")
        labels = host.split(".")
        if _NUMERIC_LABEL.fullmatch(labels[-1]):
            if not _CANONICAL_IPV4.fullmatch(host):
                raise UrlRefused("write an IPv4 address as four decimal numbers without leading zeros "
                                 "(like 203.0.113.7)")
            address = ipaddress.IPv4Address(host)
        elif len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
            raise UrlRefused("the host is not a valid host name: use letters, digits and '-' between dots")
    path = "/" + rest.partition("/")[2]
    segments = path.split("/")[1:]
    if any(s in {".", ".."} for s in segments) or "" in segments[:-1] or any(
            encoded in path.lower() for encoded in ("%2e", "%2f", "%5c", "%00")):
        # curl resolves dot segments itself: the path checked must be the path requested.
        raise UrlRefused("the URL's path must not contain '.' or '..' segments, '//' or encoded '.', '/' or '\\'")
    effective = port if port is not None else _DEFAULT_PORTS.get(scheme, 0)
    origin = f"{scheme}://{authority.lower()}"
    return Target(scheme=scheme, host=host, port=effective, origin=origin, address=address, path=path)


def _prefix(path: str) -> str:
    """A path as a prefix to compare: lowercase, ending with exactly one '/'."""
    return path.lower().rstrip("/") + "/"


def _split_authority(authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise UrlRefused("the URL's IPv6 address is missing its closing ']'")
        host, after = authority[: end + 1], authority[end + 1 :]
        if after and not after.startswith(":"):
            raise UrlRefused("unexpected characters after the URL's IPv6 address")
        port_text = after[1:] if after else None
    else:
        host, colon, port_text = authority.partition(":")
        if not colon:
            port_text = None
        if "[" in host or "]" in host:
            raise UrlRefused("brackets are allowed only around an IPv6 address")
    if not host or host == "[]":
        raise UrlRefused(f"the URL has no host: {ACCEPTED}; {_WHY_NO_SSH}")
    if port_text is None:
        return host, None
    if not _PORT.fullmatch(port_text) or int(port_text) > 65535:
        raise UrlRefused("the port must be a number from 1 to 65535 without leading zeros")
    return host, int(port_text)


def _ipv6_literal(bracketed: str) -> ipaddress.IPv6Address:
    inner = bracketed[1:-1]
    if "%" in inner:
        raise UrlRefused("IPv6 zone identifiers are not accepted in repository URLs")
    try:
        return ipaddress.IPv6Address(inner)
    except ValueError:
        raise UrlRefused("the URL's IPv6 address is not valid") from None


def _is_loopback_name(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def _dotted(suffixes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f".{suffix}" for suffix in suffixes)


