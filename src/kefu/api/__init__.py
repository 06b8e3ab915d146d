"""REST entry points (FastAPI), served on the same host:port as ``/ws``."""
