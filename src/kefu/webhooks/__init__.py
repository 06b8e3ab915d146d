"""Outgoing webhooks: signed, retried with backoff, logged, disabled when they keep failing."""
