"""Sending reports is not idempotent: a second attempt would e-mail everybody twice.

So if its worker dies mid-run, Rota does not retry it by itself: the run ends ``failed`` with
reason ``worker lost`` and an administrator decides (``rota runs retry ID``).
"""

from __future__ import annotations

import time
from pathlib import Path

from rota import RunContext, calendar, job

OUTBOX = Path(__file__).resolve().parent.parent / ".rota" / "outbox"


@job(
    id="reports.send",
    name="Send the due-date report",
    owner="accounts-payable",
    tags=["reporting", "email"],
    expected_runtime=60,
    idempotent=False,
    # The last business day of every month at 17:00 Berlin time.
    schedule=calendar(
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;BYHOUR=17;BYMINUTE=0", tz="Europe/Berlin"
    ),
)
def send_report(ctx: RunContext, recipients: list[str] | None = None, pace: float = 0.1) -> dict[str, object]:
    """Write one message per recipient into the outbox (stands in for an SMTP server)."""
    people = recipients or [f"clerk{n}@example.org" for n in range(1, 31)]
    OUTBOX.mkdir(parents=True, exist_ok=True)
    ctx.external_call("smtp", f"send to {len(people)} recipients")
    for number, person in enumerate(people, start=1):
        (OUTBOX / f"run{ctx.run_id}-{number}.eml").write_text(f"To: {person}\nSubject: Due dates\n")
        ctx.record(person, "inserted")
        ctx.progress(number, len(people), person)
        time.sleep(pace)
    return {"sent": len(people)}
