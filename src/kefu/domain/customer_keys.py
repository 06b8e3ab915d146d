"""What a customer key may be, wherever one enters: the 360's path and gRPC request, a
ticket's body or filter, a conversation's link, an event.

A key names a customer in the company's systems; kefu sends it on to them, stores it with
tickets and routing, and shows it to agents. A control character in one (a trailing line
break from a copy-paste, a NUL, an escape sequence) is never a real key, and passing it on
would only make some system answer oddly, so every entry point refuses it the same way:
400 ``bad_customer_key`` (docs/rest.md).
"""

from __future__ import annotations

# Longest key taken anywhere a key is stored (tickets, events, links): the 360's own
# limit (``customer360.max_key_chars``) defaults to the same.
MAX_KEY_CHARS = 200
CUSTOMER_KEY_RULE = (
    "a customer key must not contain control characters (line breaks, tabs, NUL) "
    "or other unprintable ones"
)


def key_problem(key: str, max_chars: int = MAX_KEY_CHARS) -> str | None:
    """Why ``key`` cannot be a customer key, or None when it can.

    "Printable" is ``str.isprintable``: it refuses every control character (Cc), and also
    format characters (zero-width spaces, direction marks) and separators other than the
    ASCII space, which make two different keys look alike to the agent reading them.
    """
    if not key or len(key) > max_chars:
        return f"a customer key is 1 to {max_chars} characters"
    if not key.isprintable():
        return CUSTOMER_KEY_RULE
    return None
