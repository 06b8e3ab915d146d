"""The token-signing secret: from config, else generated once and kept in the data dir.

Never a constant in code: a leaked source tree must not mint tokens. Several nodes must
share one secret, so multi-node deployments set ``auth.secret_key`` (docs/operations.md).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_FILE = "secret.key"  # noqa: S105 - a file name, not a secret


def load_or_create_secret(data_dir: Path, configured: str | None) -> str:
    if configured:
        return configured
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # see kefu.store.private_files
    secret = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once cannot both write; the loser reads the winner's.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret)
    return secret
