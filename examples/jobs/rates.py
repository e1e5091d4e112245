"""Daily exchange rates: import a CSV into the rates table, one record result per row.

The file for 2026-11-20 has deliberately bad rows (a rate that is not a number, an unknown
currency code, a negative rate), so that run ends ``partial`` and ``rota runs records ID
--failed`` shows which rows failed and why.
"""

from __future__ import annotations

import csv
import sqlite3
import time
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from rota import JobFailed, RunContext, cron, job

PROJECT = Path(__file__).resolve().parent.parent
KNOWN_CURRENCIES = {"USD", "GBP", "CHF", "JPY", "SEK", "NOK", "DKK", "PLN", "CZK", "CAD", "AUD"}


def _database() -> sqlite3.Connection:
    path = PROJECT / ".rota" / "example-rates.db"
    path.parent.mkdir(exist_ok=True)
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE IF NOT EXISTS rates (day TEXT, currency TEXT, rate TEXT, PRIMARY KEY (day, currency))"
    )
    return db


@job(
    id="rates.import",
    name="Import daily exchange rates",
    owner="finance-integration",
    tags=["finance", "import"],
    required_role="finance-admin",
    expected_runtime=30,
    timeout=600,
    retry={"max_attempts": 3, "backoff_seconds": 30},
    idempotent=True,
    # Weekday mornings, Berlin time; after downtime one run for the latest missed morning.
    schedule=cron("0 6 * * 1-5", tz="Europe/Berlin", missed="latest", exclude=["de-holidays"]),
    params={
        "date": {"default": "today", "description": "Rate date (YYYY-MM-DD)."},
        "currency": {"description": "Only this currency (default: all)."},
        "pace": {"min": 0, "max": 5, "description": "Seconds per row, to watch the progress bar."},
    },
)
def import_rates(ctx: RunContext, date: date, currency: str | None = None, pace: float = 0.05) -> dict[str, object]:
    """Import the ECB-style rates file of one day into the rates table (upsert by day+currency)."""
    source = PROJECT / "data" / "rates" / f"{date.isoformat()}.csv"
    if not source.is_file():
        raise JobFailed(f"no rates file for {date.isoformat()} ({source.name})", retryable=False)
    with source.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    ctx.log.info("read %d rows from %s", len(rows), source.name)
    ctx.external_call("rates-db", "upsert rates")
    db = _database()
    with db:
        for number, row in enumerate(rows, start=1):
            code = (row.get("currency") or "").strip().upper()
            key = f"{date.isoformat()}/{code or '#' + str(number)}"
            if currency and code != currency.upper():
                ctx.record(key, "skipped")
                continue
            error = _problem(code, row.get("rate"))
            if error:
                ctx.record(key, "insert", error=f"row {number + 1}: {error}")
            else:
                rate = str(Decimal(row["rate"].strip()))
                old = db.execute("SELECT rate FROM rates WHERE day=? AND currency=?", (date.isoformat(), code)).fetchone()
                if old is None:
                    db.execute("INSERT INTO rates VALUES (?, ?, ?)", (date.isoformat(), code, rate))
                    ctx.record(key, "inserted")
                elif old[0] != rate:
                    db.execute("UPDATE rates SET rate=? WHERE day=? AND currency=?", (rate, date.isoformat(), code))
                    ctx.record(key, "updated")
                else:
                    ctx.record(key, "unchanged")
            ctx.progress(number, len(rows), f"{code or '?'}")
            time.sleep(pace)
    db.close()
    ctx.save_info(source=source.name, rows=len(rows))
    return {"date": date.isoformat(), "rows": len(rows)}


def _problem(code: str, raw: str | None) -> str | None:
    if code not in KNOWN_CURRENCIES:
        return f"unknown currency {code!r}"
    try:
        value = Decimal((raw or "").strip())
    except InvalidOperation:
        return f"rate {raw!r} is not a number"
    if value <= 0:
        return f"rate {raw} must be positive"
    return None
