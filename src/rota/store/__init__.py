"""Storage: the :class:`Store` interface and the one place that picks an implementation."""

from rota.store.base import ReapResult, RunFilter, Store, SyncResult
from rota.store.factory import open_store

__all__ = ["ReapResult", "RunFilter", "Store", "SyncResult", "open_store"]
