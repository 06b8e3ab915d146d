"""Authentication: password hashing, signed tokens, login throttling, identity verification."""
