"""Cache adapters: ``memory://`` (default) and ``redis://``."""
