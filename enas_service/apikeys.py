"""API keys: random tokens shown once; only their sha256 is stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.orm import Session

from enas_service import repository

KEY_PREFIX = "enas_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, *, owner: str, name: str = "") -> str:
    """Store a new key for `owner` and return it (the only time it is readable)."""
    token = secrets.token_urlsafe(32)
    while token.startswith("-"):  # `enas keys revoke -xyz` would read the prefix as a flag
        token = secrets.token_urlsafe(32)
    key = KEY_PREFIX + token
    repository.create_api_key(
        session, owner=owner, name=name, prefix=token[:8], key_hash=hash_key(key)
    )
    return key
