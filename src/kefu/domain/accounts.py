"""What identifies an agent's account: its email, spelled one way.

Login looks the account up, the login throttle counts failures against it, and
``kefu agents add`` / ``POST /api/v1/agents`` store it. All of them go through
``account_email``: if two of them normalised differently, ``" bob@acme.test"`` would reach
Bob's account through a lookup that trims while the lockout counted a key that does not,
and re-spelling the email would reset the lock.
"""

from __future__ import annotations


def account_email(email: str) -> str:
    """The canonical spelling: surrounding whitespace (spaces, tabs, newlines, any Unicode
    space) removed, lower-cased.

    Lower-case rather than ``casefold``: emails were stored lower-cased before this
    function existed, and a different folding would strand those accounts.
    """
    return email.strip().lower()
