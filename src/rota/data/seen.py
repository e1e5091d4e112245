"""The keys a run has already applied, for ``duplicates: reject`` across a whole source.

A million keys in a dict cost well over 100 MB; the keys of earlier chunks live instead in a
temporary SQLite file (removed when closed) whose page cache stays small, so memory is flat in
the number of records. The current chunk is checked in memory by the caller.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

_BATCH = 500


class SeenKeys:
    def __init__(self) -> None:
        # "" opens a private temporary database on disk, deleted when the connection closes.
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, row INTEGER) WITHOUT ROWID")

    def first_rows(self, keys: Sequence[str]) -> dict[str, int]:
        """The row where each of ``keys`` that was added before first appeared."""
        found: dict[str, int] = {}
        for start in range(0, len(keys), _BATCH):
            part = keys[start : start + _BATCH]
            marks = ",".join("?" * len(part))
            found.update(
                self._db.execute(f"SELECT key, row FROM seen WHERE key IN ({marks})", part)
            )
        return found

    def add(self, items: Iterable[tuple[str, int]]) -> None:
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", items)
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()
