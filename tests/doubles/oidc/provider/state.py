"""How the provider behaves right now; one process, so a module value is the whole state.

  * normal: a well-behaved provider;
  * expired: ID tokens are signed correctly but expired ten minutes ago;
  * tampered: the token endpoint's ID token has its payload rewritten after signing (the signature no longer
    matches), as an attacker in the middle would;
  * wrong_audience: ID tokens are signed correctly but issued to another client.
"""

MODES = ("normal", "expired", "tampered", "wrong_audience")
mode = "normal"
