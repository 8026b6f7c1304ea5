"""The `cosnet` command line."""
