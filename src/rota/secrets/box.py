"""The key and the cipher of the secret store.

The key lives outside the database: in ``ROTA_SECRET_KEY`` (for containers and secret
managers) or in a key file created at first need with owner-only permissions
(``.rota/secret.key`` by default). A copy of the database alone opens nothing. Fernet
(AES-128-CBC with HMAC-SHA256) authenticates every token, so a wrong key is told apart from
damaged data and refused, never turned into garbage values.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from rota.model.errors import InvalidInputError, RotaError
from rota.settings import Settings
from rota.store.base import Store

KEY_ENV = "ROTA_SECRET_KEY"


class SecretKeyError(RotaError):
    """The key is missing, unreadable, or does not open the stored secrets."""


class SecretBox:
    def __init__(self, key: bytes, origin: str) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise SecretKeyError(
                f"{origin}: not a secret key (32 url-safe base64-encoded bytes; "
                "make one with `rota secrets new-key`)"
            ) from None
        self.origin = origin

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, name: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretKeyError(
                f"secret {name!r} cannot be opened with the key from {self.origin} "
                "(a different key, or the secret was damaged)"
            ) from None


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def key_file(settings: Settings) -> Path:
    path = settings.secret_key_file
    return path if path.is_absolute() else settings.project / path


def open_box(settings: Settings, *, create: bool) -> SecretBox | None:
    """The box of ``settings``' key; ``None`` when there is no key yet and ``create`` is off
    (no key means no secret was ever stored with this project's key)."""
    from_env = settings.secret_key.get_secret_value()
    if from_env:
        return SecretBox(from_env.encode("ascii", "replace"), KEY_ENV)
    path = key_file(settings)
    if not path.exists():
        if not create:
            return None
        _write_new_key(path)
    return SecretBox(_read_key(path), str(path))


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first: use theirs
    with os.fdopen(handle, "w", encoding="ascii") as out:
        out.write(new_key() + "\n")


def _read_key(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise SecretKeyError(f"{path}: cannot read the secret key: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretKeyError(
            f"{path}: the secret key may be read by others; `chmod 600 {path}` and restart"
        )
    try:
        return path.read_bytes().strip()
    except OSError as exc:
        raise SecretKeyError(f"{path}: cannot read the secret key: {exc.strerror}") from None


def self_test(store: Store, settings: Settings) -> int:
    """Refuse to start when stored secrets exist that the key cannot open; the number of
    secrets checked. Runs at the start of every long-running process."""
    stored = store.list_secrets()
    if not stored:
        return 0
    box = open_box(settings, create=False)
    if box is None:
        raise SecretKeyError(
            f"{len(stored)} secrets are stored but there is no key: restore "
            f"{key_file(settings)} or set {KEY_ENV}"
        )
    for secret in stored:
        box.decrypt(secret.ciphertext, secret.name)
    return len(stored)


def check_value(value: str) -> str:
    if not value:
        raise InvalidInputError("value", "is empty")
    if "\x00" in value:
        raise InvalidInputError("value", "contains a NUL character")
    return value
