"""Errors that cross a layer boundary.

Hierarchy::

    KefuError                  every error kefu raises on purpose; carries code + status
    ├── BadInput               400  the request is malformed or fails validation
    ├── Unauthenticated        401  no token, a bad token, bad credentials
    ├── Forbidden              403  the caller is known but may not do this
    ├── NotFound               404
    ├── Conflict               409  state forbids it (illegal transition, duplicate)
    ├── TooLarge               413
    ├── RateLimited            429  carries ``retry_after`` seconds
    ├── Unavailable            503  a dependency (store, bus, cache) is down
    └── ConfigError            -    a bad configuration, reported at start, names the key

The REST layer and the WebSocket gateway turn these into CONTRACT.md's error shape;
anything else that escapes becomes ``internal_error`` with no detail for the client.
"""

from __future__ import annotations


class KefuError(Exception):
    """Base: ``code`` is the snake_case code clients switch on, ``status`` the HTTP status."""

    code = "error"
    status = 500

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadInput(KefuError):
    code = "bad_request"
    status = 400


class Unauthenticated(KefuError):
    code = "unauthenticated"
    status = 401


class Forbidden(KefuError):
    code = "forbidden"
    status = 403


class NotFound(KefuError):
    code = "not_found"
    status = 404


class Conflict(KefuError):
    code = "conflict"
    status = 409


class TooLarge(KefuError):
    code = "too_large"
    status = 413


class RateLimited(KefuError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: float, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class Unavailable(KefuError):
    code = "unavailable"
    status = 503


class ConfigError(KefuError):
    """A configuration value is wrong; ``key`` names it so the operator can fix one line."""

    code = "config_error"

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config error: {key}: {problem}")
        self.key = key
        self.problem = problem
