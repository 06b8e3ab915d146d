"""The email texts of kefu's one server-side catalog (``kefu.texts``), by their short
names: a site's ``locale`` chooses; anything else falls back to English."""

from __future__ import annotations

from typing import Final

from kefu import texts as catalog

DEFAULT_LOCALE: Final = catalog.DEFAULT_LOCALE
LOCALES: Final = catalog.LOCALES
PREFIX: Final = "email."


def texts(locale: str | None) -> dict[str, str]:
    """The locale's email texts (``subject``, ``greeting``…); English when unknown."""
    return {
        key.removeprefix(PREFIX): value
        for key, value in catalog.texts(locale).items()
        if key.startswith(PREFIX)
    }
