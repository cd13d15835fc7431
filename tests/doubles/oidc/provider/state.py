"""How the provider behaves right now; one process, so a module value is the whole state.

  * normal: a well-behaved provider;
  * expired: ID tokens are signed correctly but expired ten minutes ago;
  * tampered: the token endpoint's ID token has its payload rewritten after signing (the signature no longer
    matches), as an attacker in the middle would;
  * wrong_audience: ID tokens are signed correctly but issued to another client;
  * userinfo_groups: ID tokens carry no `groups`; userinfo has them when the `groups` scope was asked for.
"""

MODES = ("normal", "expired", "tampered", "wrong_audience", "userinfo_groups")
mode = "normal"
