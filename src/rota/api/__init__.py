"""The HTTP API: a thin face over :mod:`rota.services` (FastAPI), served by ``rota up`` and
``rota web``. It authenticates callers and maps errors; every rule lives in the services."""
