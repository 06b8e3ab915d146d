"""Tickets: the work that outlives a chat — with priorities, SLAs and a full history."""
