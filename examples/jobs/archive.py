"""A long batch that checkpoints: if its worker dies, another resumes from the last checkpoint.

It is idempotent (re-processing an item gives the same result), so the reaper re-queues it
when its worker is lost; ``ctx.save_state`` keeps the position across attempts and Rota drops
record results written after the last checkpoint, so each item is counted exactly once.
"""

from __future__ import annotations

import hashlib
import time

from rota import RunContext, job


@job(
    id="archive.rebuild",
    name="Rebuild the document archive index",
    owner="platform",
    tags=["maintenance", "batch"],
    expected_runtime=120,
    idempotent=True,
    retry={"max_attempts": 2, "backoff_seconds": 5},
    params={
        "items": {"min": 1, "max": 1_000_000, "description": "Documents to index."},
        "chunk": {"min": 1, "description": "Checkpoint every this many documents."},
        "pace": {"min": 0, "description": "Seconds per document (simulated work)."},
    },
)
def rebuild(ctx: RunContext, items: int = 200, chunk: int = 20, pace: float = 0.02) -> dict[str, object]:
    """Index documents in chunks, saving the position after each chunk."""
    state = ctx.load_state() or {"next": 0}
    start = int(state["next"])
    if start:
        ctx.log.info("resuming at document %d (attempt %d)", start, ctx.attempt)
    for first in range(start, items, chunk):
        for number in range(first, min(first + chunk, items)):
            digest = hashlib.sha256(f"doc-{number}".encode()).hexdigest()[:12]
            ctx.record(f"doc-{number:06d}", "updated" if number % 10 else "inserted")
            time.sleep(pace)
            del digest
        done = min(first + chunk, items)
        ctx.save_state({"next": done})
        ctx.progress(done, items, f"indexed {done} of {items}")
    return {"indexed": items, "resumed_from": start}
