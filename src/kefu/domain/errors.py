"""Domain errors.

Hierarchy::

    DomainError
    ├── IllegalTransition   a state machine was asked for a move it does not allow
    └── InvalidPeriod       a report's period is no date, reversed or too long
"""

from __future__ import annotations

from enum import Enum


class DomainError(Exception):
    """Base of every rule the domain refuses."""


class IllegalTransition(DomainError):
    """Carries the machine, the state it was in and the move asked for."""

    def __init__(self, machine: str, state: Enum, action: str) -> None:
        super().__init__(f"{machine} in state {state.value!r} cannot {action}")
        self.machine = machine
        self.state = state
        self.action = action


class InvalidPeriod(DomainError):
    """Carries the snake_case ``code`` the REST answer uses (``invalid_date``,
    ``invalid_period``, ``period_too_long``) and the human ``message``."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
