"""Portal views, one module per sub-domain."""
