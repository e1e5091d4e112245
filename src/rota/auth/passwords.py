"""Password hashing with argon2id (the library's defaults follow RFC 9106's recommendations)."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from rota.model.errors import InvalidInputError

MIN_LENGTH = 12
_hasher = PasswordHasher()


@functools.cache
def _dummy() -> str:
    """Hashed at first need, not at import: every CLI command imports this module, and an
    argon2 hash costs a noticeable fraction of a second by design."""
    return _hasher.hash("a password nobody has, hashed once")


def check_password_rules(password: str, field_name: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInputError(field_name, f"at least {MIN_LENGTH} characters")
    if password.strip() != password or not password.strip():
        raise InvalidInputError(field_name, "no leading or trailing spaces")


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches. An unknown user is checked against a dummy hash so
    that both answers take as long (no user-name probing by timing)."""
    try:
        return _hasher.verify(password_hash or _dummy(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
