"""Tools for developers of the service (not used by it at run time)."""
