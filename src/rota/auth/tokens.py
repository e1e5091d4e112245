"""API tokens and session ids: random secrets, stored only as hashes.

A token reads ``rota_<id>_<secret>``: the id finds the row without a scan, the secret
(160 random bits) is compared by its SHA-256. A slow hash would add nothing against guessing
160 bits and would cost every API call.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "rota_"
ID_BYTES = 6
SECRET_BYTES = 20


def new_token() -> tuple[str, str, str]:
    """(id, the token to show once, the hash to store)."""
    token_id = secrets.token_hex(ID_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return token_id, f"{PREFIX}{token_id}_{secret}", digest(secret)


def split_token(token: str) -> tuple[str, str] | None:
    if not token.startswith(PREFIX):
        return None
    token_id, sep, secret = token[len(PREFIX) :].partition("_")
    if not sep or len(token_id) != 2 * ID_BYTES or not secret:
        return None
    return token_id, secret


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)


def new_session() -> tuple[str, str, str]:
    """(session id for the cookie, its hash to store, a CSRF token bound to it)."""
    session_id = secrets.token_urlsafe(32)
    return session_id, digest(session_id), secrets.token_urlsafe(32)
