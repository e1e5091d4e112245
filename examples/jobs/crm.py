"""Create the example CRM database the data jobs write to (run it once: ``rota run crm.setup``).

In a real project the target database already exists; data jobs never create tables.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rota import RunContext, job

CRM = Path(__file__).resolve().parent.parent / ".rota" / "crm.db"


@job(id="crm.setup", name="Create the example CRM tables", owner="platform", idempotent=True)
def setup(ctx: RunContext) -> dict[str, str]:
    """Create the members and fees tables of the example CRM database if they are missing."""
    CRM.parent.mkdir(exist_ok=True)
    with sqlite3.connect(CRM) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS members ("
            " member_no INTEGER PRIMARY KEY, email TEXT NOT NULL, joined DATE,"
            " country TEXT, status TEXT)"
        )
        # One fee per member and year: fees.import matches on both (a composite key).
        db.execute(
            "CREATE TABLE IF NOT EXISTS fees ("
            " fee_id INTEGER PRIMARY KEY, member_no INTEGER NOT NULL, year INTEGER NOT NULL,"
            " amount NUMERIC NOT NULL, paid_on DATE, method TEXT,"
            " UNIQUE (member_no, year))"
        )
    ctx.log.info("members and fees tables ready in %s", CRM)
    return {"database": str(CRM)}
