"""Metrics, event-loop lag and health."""
