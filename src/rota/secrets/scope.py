"""The secrets one run uses: resolved on demand, remembered for masking and for the record of
which versions the run used.

A scope is set for the thread that runs an attempt (a context variable), so
``${secret:NAME}`` in a header or a connection URL resolves only inside a run, against the
store, at the moment it is needed: a rotated secret is picked up by the next run without a
restart, and nothing outside a run can turn a reference into a value.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from urllib.parse import quote, quote_plus

from rota.model.errors import InvalidInputError, NotFoundError
from rota.secrets.box import SecretBox
from rota.store.base import Store

MASK = "***"
MIN_MASKED = 3
"""Shorter values are not masked: replacing every "ab" in a log would hide the log, not the
secret (and a two-character secret protects nothing)."""

CURRENT: ContextVar[SecretScope | None] = ContextVar("rota_secret_scope", default=None)


class SecretScope:
    def __init__(self, store: Store, box: SecretBox | None, tenant: str) -> None:
        self._store = store
        self._box = box
        self._tenant = tenant
        self._lock = threading.Lock()
        self.used: dict[str, int] = {}
        """Name -> version of every secret resolved in this run."""
        self._values: list[str] = []

    def value(self, name: str, field: str) -> str:
        try:
            stored = self._store.get_secret(self._tenant, name)
        except NotFoundError:
            raise InvalidInputError(
                field, f"secret {name!r} does not exist (rota secrets set {name})"
            ) from None
        if self._box is None:
            raise InvalidInputError(field, "no secret key here to open secrets with")
        value = self._box.decrypt(stored.ciphertext, name)
        with self._lock:
            self.used[name] = stored.version
            forms = {value, quote(value, safe=""), quote_plus(value)}
            # Output is logged line by line: each line of a multi-line secret (a PEM key) is
            # masked on its own too.
            forms.update(line.strip() for line in value.splitlines())
            for form in forms:
                if len(form) >= MIN_MASKED and form not in self._values:
                    self._values.append(form)
            self._values.sort(key=len, reverse=True)  # a longer form before its parts
        return value

    def mask(self, text: str) -> str:
        """``text`` with every secret value (also URL-encoded, also inside longer text)
        replaced by ``***``."""
        if not self._values or not text:
            return text
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text


@contextlib.contextmanager
def using(scope: SecretScope) -> Iterator[SecretScope]:
    token = CURRENT.set(scope)
    try:
        yield scope
    finally:
        CURRENT.reset(token)
