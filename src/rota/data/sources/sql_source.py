"""An SQL query on a named connection as the source of a data job.

```yaml
source: {type: sql, connection: crm, query: "SELECT * FROM members WHERE country = :country",
         params: {country: DE}}
```

One read-only statement (``SELECT`` or ``WITH``), its parameters always bound, never formatted
into the text; rows are streamed ``batch_size`` at a time.
"""

from __future__ import annotations

import pickle
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult, Engine

from rota.data.records import SourceError, SourceRow
from rota.data.sources.streamed import StreamedSource
from rota.model.errors import InvalidInputError

OPTIONS = {"type", "connection", "query", "params", "batch_size"}
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_BIND = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_STRINGS = re.compile(r"'(?:[^']|'')*'")


def check_sql_config(config: Mapping[str, Any], field: str = "source") -> None:
    """Refuse what is not one bound, read-only query, naming the option."""
    for key in config:
        if key not in OPTIONS:
            raise InvalidInputError(
                f"{field}.{key}", f"is not an option of sql sources ({', '.join(sorted(OPTIONS))})"
            )
    connection = config.get("connection")
    if not isinstance(connection, str) or not connection.strip():
        raise InvalidInputError(f"{field}.connection", "is required (a name from rota.toml)")
    query = config.get("query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError(f"{field}.query", "is required")
    bare = _STRINGS.sub("''", _COMMENTS.sub(" ", query)).strip().rstrip(";").strip()
    if ";" in bare:
        raise InvalidInputError(f"{field}.query", "must be one statement")
    if not re.match(r"(?i)(select|with)\b", bare):
        raise InvalidInputError(f"{field}.query", "must be a SELECT (or WITH ... SELECT) query")
    params = config.get("params", {})
    if not isinstance(params, Mapping):
        raise InvalidInputError(f"{field}.params", "must be a mapping of parameter values")
    named = set(_BIND.findall(bare))
    missing = sorted(named - set(params))
    if missing:
        raise InvalidInputError(f"{field}.params", f"no value for :{missing[0]}")
    unused = sorted(set(params) - named)
    if unused:
        raise InvalidInputError(f"{field}.params", f"{unused[0]!r} is not used by the query")
    batch = config.get("batch_size", 1000)
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 100_000:
        raise InvalidInputError(f"{field}.batch_size", "must be between 1 and 100000")


class SqlSource(StreamedSource):
    """Rows of one query, streamed from the server in batches.

    On SQLite the result is first copied to a temporary file and the read transaction ended:
    an open SQLite read blocks every commit to the same file, so an update driven by a query
    on the database it updates would wait on itself until the busy timeout. The copy also
    gives ``total()``.
    """

    def __init__(
        self, engine: Engine, query: str, params: Mapping[str, Any], batch_size: int
    ) -> None:
        self._connection: Connection = engine.connect()
        self._batch = batch_size
        self._spool: IO[bytes] | None = None
        self._count: int | None = None
        try:
            self._result: CursorResult[Any] = self._connection.execution_options(
                stream_results=True, max_row_buffer=batch_size
            ).execute(sa.text(query), dict(params))
            self._fields = list(self._result.keys())
            if engine.dialect.name == "sqlite":
                self._spool_rows()
        except sa.exc.DBAPIError as exc:
            self.close()
            lines = str(exc.orig).strip().splitlines()
            raise SourceError(f"the query failed: {lines[0] if lines else exc}") from None
        except BaseException:
            self.close()
            raise

    def _spool_rows(self) -> None:
        spool = self._spool = tempfile.TemporaryFile(prefix="rota-sql-")  # noqa: SIM115 - closed by close()
        count = 0
        while batch := self._result.fetchmany(self._batch):
            pickle.dump([tuple(row) for row in batch], spool, protocol=pickle.HIGHEST_PROTOCOL)
            count += len(batch)
        self._count = count
        spool.seek(0)
        self._result.close()
        self._connection.close()

    def total(self) -> int | None:
        return self._count

    def _batches(self) -> Iterator[Sequence[Any]]:
        spool = self._spool
        if spool is None:
            while batch := self._result.fetchmany(self._batch):
                yield batch
            return
        while True:
            try:
                yield pickle.load(spool)  # our own file, written just above
            except EOFError:
                return

    def _rows(self) -> Iterator[SourceRow]:
        number = 0
        fields = self._fields
        for batch in self._batches():
            for row in batch:
                number += 1
                yield SourceRow(number, dict(zip(fields, row, strict=True)))

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
        result = getattr(self, "_result", None)
        if result is not None:
            result.close()
        self._connection.close()
