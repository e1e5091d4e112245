"""procrastinate's side of bench/cluster.py: the app and its three tasks.

The bench defers through :func:`make_app`; its worker processes are procrastinate's own CLI,
``procrastinate --app=cluster_tasks.app worker``, with this folder on ``PYTHONPATH`` and the
database in ``ROTA_BENCH_CLUSTER_URL``. This module imports procrastinate only, so a worker
process starts as fast as procrastinate allows (the bench itself imports Rota).
"""

from __future__ import annotations

import os
import time
from typing import Any

from procrastinate import App, PsycopgConnector

URL_VARIABLE = "ROTA_BENCH_CLUSTER_URL"
NOOP_TASK = "bench.noop"
SLEEP_TASK = "bench.sleep"
STAMP_TASK = "bench.stamp"
SLEEP_SECONDS = 0.01


def make_app(url: str) -> App:
    app = App(connector=PsycopgConnector(conninfo=url))

    @app.task(name=NOOP_TASK)
    def noop() -> None:
        return None

    @app.task(name=SLEEP_TASK)
    def sleep() -> None:
        time.sleep(SLEEP_SECONDS)

    @app.task(name=STAMP_TASK, pass_context=True)
    def stamp(context: Any, path: str) -> None:
        """When the task's code started, appended to ``path`` (one short write per line)."""
        began = time.time()
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{context.job.id} {began!r}\n")

    return app


app = make_app(os.environ.get(URL_VARIABLE, ""))
