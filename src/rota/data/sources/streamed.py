"""What every file source shares: fields known after opening, rows read once, closing."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from types import TracebackType
from typing import Self

from rota.data.records import SourceRow


class StreamedSource(ABC):
    """A source read front to back once: a second ``rows()`` is a programming error, since the
    file (or sheet) is streamed and memory stays bounded by design."""

    _fields: list[str]
    _started: bool = False

    @property
    def fields(self) -> list[str]:
        return list(self._fields)

    def total(self) -> int | None:
        return None

    def rows(self) -> Iterator[SourceRow]:
        if self._started:
            raise RuntimeError(f"{type(self).__name__}.rows() reads its source once")
        self._started = True
        return self._rows()

    @abstractmethod
    def _rows(self) -> Iterator[SourceRow]: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
