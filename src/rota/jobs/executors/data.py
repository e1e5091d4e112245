"""Data jobs: read the source in chunks, map each record, apply the action to the target, and
report a record result for every record.

Runs in the worker's slot thread (it is Rota's own code, not the administrator's), checks for
cancel and hard stops between chunks, and keeps memory bounded by the chunk size (plus one
entry per key when duplicate keys are rejected). A record that cannot be read, mapped or
written fails alone; the run ends ``partial`` or ``failed`` from the counters.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from rota.data.connections import open_engine
from rota.data.mapping import parse_mapping
from rota.data.records import RecordError, SourceError, SourceRow
from rota.data.sources import open_source
from rota.data.spec import DEFAULT_DRY_RUN_LIMIT, TRANSFER
from rota.data.targets.files import FileTarget
from rota.data.targets.sql_table import Action, Record, SqlTarget
from rota.jobs.executors.base import Attempt, Executor, HardStop, Reporter, RunControl
from rota.model.errors import InvalidInputError, JobFailed, RunCancelled
from rota.settings import Settings, load_settings

DRY_RUN = "dry_run"
WOULD = {"inserted": "insert", "updated": "update", "deleted": "delete", "skipped": "skip"}
WOULD["unchanged"] = "leave unchanged"


class DataExecutor(Executor):
    def __init__(self, project: Path) -> None:
        self.project = project
        self._engines: dict[str, Engine] = {}

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    def _engine(self, settings: Settings, name: str) -> Engine:
        url = settings.connections.get(name)
        if url is None:
            known = ", ".join(sorted(settings.connections)) or "none"
            raise JobFailed(
                f"target.connection: no connection {name!r} in rota.toml (known: {known})",
                retryable=False,
            )
        key = f"{name}={url}"
        if key not in self._engines:
            self._engines[key] = open_engine(url, self.project, f"connections.{name}")
        return self._engines[key]

    def execute(self, attempt: Attempt, reporter: Reporter, control: RunControl) -> Any:
        spec = attempt.definition.spec
        settings = load_settings(self.project)
        dry_run = bool(attempt.params.get(DRY_RUN, False))
        try:
            mapping = parse_mapping(_dict(spec["mapping"]))
            source = open_source(
                _dict(spec["source"]),
                settings.resolved_data_folders,
                engines=lambda name: self._engine(settings, name),
            )
        except (InvalidInputError, SourceError) as exc:
            raise JobFailed(str(exc), retryable=False) from None
        try:
            mapping.check_fields(source.fields)
            columns = list(_dict(spec["mapping"]))
            target_spec = _dict(spec["target"])
            total = source.total()
            reporter.progress(
                0, min(total, DEFAULT_DRY_RUN_LIMIT) if dry_run and total else total, None
            )
            if spec["action"] == TRANSFER:
                counts = self._export(
                    attempt,
                    reporter,
                    control,
                    source.rows(),
                    mapping,
                    target_spec,
                    columns,
                    settings,
                    dry_run,
                )
            else:
                target = SqlTarget(
                    self._engine(settings, str(target_spec["connection"])),
                    str(target_spec["table"]),
                    columns,
                    [str(k) for k in _list(spec["match"])],
                    Action(str(spec["action"])),
                )
                counts = self._run(
                    attempt, reporter, control, source.rows(), mapping, target, dry_run
                )
        except InvalidInputError as exc:
            raise JobFailed(str(exc), retryable=False) from None
        except SourceError as exc:
            raise JobFailed(f"source: {exc}", retryable=False) from None
        finally:
            source.close()
        return {"dry_run": dry_run, **counts}

    def _export(
        self,
        attempt: Attempt,
        reporter: Reporter,
        control: RunControl,
        rows: Iterator[SourceRow],
        mapping: Any,
        target_spec: dict[str, Any],
        columns: list[str],
        settings: Settings,
        dry_run: bool,
    ) -> dict[str, int]:
        """``transfer``: write the mapped records to a file that appears only when complete."""
        target = FileTarget(target_spec, settings.resolved_data_folders, columns)
        counts = {"records": 0, "failed": 0}
        chunk: list[tuple[int, dict[str, Any]]] = []
        try:
            limit = DEFAULT_DRY_RUN_LIMIT if dry_run else None
            for number, values in _mapped(rows, mapping, reporter, counts, limit):
                chunk.append((number, values))
                if len(chunk) >= 1000:
                    self._write_chunk(target, chunk, reporter, dry_run)
                    _check(control)
            self._write_chunk(target, chunk, reporter, dry_run)
            if dry_run:
                target.abort()
                reporter.log("info", f"would write {target.count} records to {target.path.name}")
            else:
                path = target.commit()
                reporter.info({"file": path.name, "exported": target.count})
        except BaseException:
            target.abort()
            raise
        return counts

    @staticmethod
    def _write_chunk(
        target: FileTarget,
        chunk: list[tuple[int, dict[str, Any]]],
        reporter: Reporter,
        dry_run: bool,
    ) -> None:
        target.write([values for _, values in chunk])
        for number, _ in chunk:
            reporter.record(f"row {number}", "skipped" if dry_run else "exported", None, number)
        chunk.clear()

    def _run(
        self,
        attempt: Attempt,
        reporter: Reporter,
        control: RunControl,
        rows: Iterator[SourceRow],
        mapping: Any,
        target: SqlTarget,
        dry_run: bool,
    ) -> dict[str, int]:
        spec = attempt.definition.spec
        chunk_size = DEFAULT_DRY_RUN_LIMIT if dry_run else int(str(spec.get("chunk_size", 5000)))
        stop_after = spec.get("stop_after_failures")
        reject_duplicates = spec.get("duplicates", "reject") == "reject"
        seen: dict[str, int] = {}
        counts = {"records": 0, "failed": 0}
        would: dict[str, int] = {}
        chunk: dict[str, Record] = {}

        def fail(key: str, reason: str, row: int) -> None:
            counts["failed"] += 1
            reporter.record(key, "failed", reason, row)

        def flush() -> None:
            if not chunk:
                return
            for result in target.apply(list(chunk.values()), dry_run=dry_run):
                if result.action == "failed":
                    fail(result.key, result.error or "failed", result.number)
                elif dry_run:
                    # Nothing changed: the record is skipped; what would happen is logged.
                    would[result.action] = would.get(result.action, 0) + 1
                    reporter.record(result.key, "skipped", None, result.number)
                    changed = ", ".join(
                        f"{c}: {b!r} -> {a!r}" for c, (b, a) in result.changes.items()
                    )
                    verb = WOULD.get(result.action, result.action)
                    reporter.log(
                        "info",
                        f"would {verb} {result.key}" + (f": {changed}" if changed else ""),
                    )
                else:
                    reporter.record(result.key, result.action, None, result.number)
            chunk.clear()
            reporter.progress(counts["records"], None, None)

        limit = DEFAULT_DRY_RUN_LIMIT if dry_run else None
        stop = stop_after if isinstance(stop_after, int) else None
        try:
            for number, values in _mapped(rows, mapping, reporter, counts, limit, stop):
                record = Record(number, values)
                key = target.key_of(record)
                first = seen.get(key) if reject_duplicates else None
                if first is not None:
                    fail(key, f"duplicate key, also in row {first}", number)
                    _stop_after(counts, stop)
                    continue
                if reject_duplicates and target.match:
                    seen[key] = number
                earlier = chunk.pop(key, None)
                if earlier is not None:  # last wins: the earlier row is superseded
                    reporter.record(key, "skipped", None, earlier.number)
                    reporter.log("info", f"row {earlier.number} superseded by row {number} ({key})")
                chunk[key] = record
                if len(chunk) >= chunk_size:
                    flush()
                    _stop_after(counts, stop)
                    _check(control)
        except JobFailed:
            flush()  # what was read before the limit was reached is still applied
            raise
        flush()
        if dry_run:
            counts.update({f"would_{k}": v for k, v in would.items()})
        return counts


def _mapped(
    rows: Iterator[SourceRow],
    mapping: Any,
    reporter: Reporter,
    counts: dict[str, int],
    limit: int | None = None,
    stop_after: int | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Mapped records with their row numbers, at most ``limit``; unreadable and unmappable
    rows fail alone, and ``stop_after`` failures end the run."""
    for row in rows:
        if limit is not None and counts["records"] >= limit:
            return
        counts["records"] += 1
        try:
            if row.values is None:
                raise RecordError(None, row.error or "unreadable row")
            values = mapping.apply(row.values)
        except RecordError as exc:
            counts["failed"] += 1
            reason = f"{exc.field}: {exc.reason}" if exc.field else exc.reason
            reporter.record(f"row {row.number}", "failed", reason, row.number)
            _stop_after(counts, stop_after)
            continue
        yield row.number, values


def _stop_after(counts: dict[str, int], stop_after: int | None) -> None:
    if stop_after is not None and counts["failed"] >= stop_after:
        raise JobFailed(f"stopped after {counts['failed']} failed records", retryable=False)


def _check(control: RunControl) -> None:
    reason = control.stop_reason()
    if reason is not None:
        raise HardStop(reason)
    if control.cancel_requested:
        raise RunCancelled("canceled between chunks")


def _dict(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInputError("spec", "a data job's spec is damaged; sync the project again")
    return value


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
