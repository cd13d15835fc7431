"""Loopback test doubles of the outside systems DSO Console talks to."""
