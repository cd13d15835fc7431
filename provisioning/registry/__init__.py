"""OCI registries: the distribution API client and the tag policies of the registry watch."""

from provisioning.registry.client import ManifestInfo, RegistryClient, parse_challenge, validate_repository_name
from provisioning.registry.policy import KINDS, LATEST_BUILD, REGEX, SEMVER, TagPolicy, parse_version, select

__all__ = ["KINDS", "LATEST_BUILD", "REGEX", "SEMVER", "ManifestInfo", "RegistryClient", "TagPolicy",
           "parse_challenge", "parse_version", "select", "validate_repository_name"]
