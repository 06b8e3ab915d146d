"""Event bus adapters: ``memory://`` (default) and ``nats://`` (JetStream, the events issue)."""
