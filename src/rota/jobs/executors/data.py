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
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine

from rota.data.connections import open_engine
from rota.data.mapping import parse_mapping
from rota.data.records import RecordError, SourceError, SourceRow
from rota.data.references import resolve_references
from rota.data.seen import SeenKeys
from rota.data.sources import open_source
from rota.data.sources.http_source import safe_url
from rota.data.spec import DEFAULT_DRY_RUN_LIMIT, HTTP_TARGET, TRANSFER
from rota.data.targets.files import FileTarget
from rota.data.targets.http_target import HttpTarget
from rota.data.targets.sql_table import Action, Record, SqlTarget
from rota.jobs.executors.base import (
    Attempt,
    Executor,
    Reporter,
    RunControl,
    RunParts,
)
from rota.jobs.executors.data_parts import (
    PART,
    check_stop,
    end_parts,
    part_of,
    partition,
    wait_for_parts,
)
from rota.model.errors import InvalidInputError, JobFailed
from rota.model.runs import Counters
from rota.model.status import RunStatus
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
        try:
            url = resolve_references(url, f"connections.{name}")
        except InvalidInputError as exc:
            raise JobFailed(str(exc), retryable=False) from None
        key = f"{name}={url}"  # a rotated password opens a new engine; the old one goes
        if key not in self._engines:
            for old in [k for k in self._engines if k.split("=", 1)[0] == name]:
                self._engines.pop(old).dispose()
            self._engines[key] = open_engine(url, self.project, f"connections.{name}")
        return self._engines[key]

    def execute(self, attempt: Attempt, reporter: Reporter, control: RunControl) -> Any:
        spec = attempt.definition.spec
        settings = load_settings(self.project)
        dry_run = bool(attempt.params.get(DRY_RUN, False))
        part = part_of(attempt.params)
        parallel = spec.get("parallel") or 1
        if (
            part is None
            and isinstance(parallel, int)
            and parallel > 1
            and not dry_run
            and attempt.parts is not None
        ):
            counts = self._split(attempt, attempt.parts, reporter, control, settings, parallel)
        else:
            counts = self._once(attempt, reporter, control, settings, dry_run, part)
        return {"dry_run": dry_run, **counts}

    def _once(
        self,
        attempt: Attempt,
        reporter: Reporter,
        control: RunControl,
        settings: Settings,
        dry_run: bool,
        part: tuple[int, int] | None,
    ) -> dict[str, int]:
        """Read the source once and apply the records of ``part`` (all when ``None``)."""
        spec = attempt.definition.spec
        try:
            mapping = parse_mapping(_dict(spec["mapping"]))
            keep = partition(spec, part) if part is not None else None
            source = open_source(
                _dict(spec["source"]),
                settings.resolved_data_folders,
                engines=lambda name: self._engine(settings, name),
            )
        except (InvalidInputError, SourceError) as exc:
            raise JobFailed(str(exc), retryable=False) from None
        try:
            if source.fields:  # a JSON or HTTP source without records names no fields
                mapping.check_fields(source.fields)
            columns = list(_dict(spec["mapping"]))
            target_spec = _dict(spec["target"])
            total = source.total() if part is None else None
            if dry_run and total:
                total = min(total, DEFAULT_DRY_RUN_LIMIT)
            reporter.progress(0, total, None)
            rows = source.rows()
            if keep is not None:
                rows = (row for row in rows if keep(row))
            if spec["action"] == TRANSFER:
                return self._export(
                    attempt,
                    reporter,
                    control,
                    rows,
                    mapping,
                    target_spec,
                    columns,
                    settings,
                    dry_run,
                )
            target = SqlTarget(
                self._engine(settings, str(target_spec["connection"])),
                str(target_spec["table"]),
                columns,
                [str(k) for k in _list(spec["match"])],
                Action(str(spec["action"])),
            )
            return self._run(attempt, reporter, control, rows, mapping, target, dry_run, total)
        except InvalidInputError as exc:
            raise JobFailed(str(exc), retryable=False) from None
        except SourceError as exc:
            raise JobFailed(f"source: {exc}", retryable=False) from None
        finally:
            source.close()

    def _split(
        self,
        attempt: Attempt,
        parts: RunParts,
        reporter: Reporter,
        control: RunControl,
        settings: Settings,
        count: int,
    ) -> dict[str, int]:
        """Spread the records over ``count`` parts by a hash of their match keys (every record
        of one key lands in one part, so duplicate checks and writes never race), start parts
        1… as runs any worker can take, do part 0 here, take back the parts nobody took, wait
        for the others and add up their counters."""
        end_parts(parts, control, [p.id for p in parts.parts() if not p.status.terminal])
        ids = parts.start([{**attempt.params, PART: [index, count]} for index in range(1, count)])
        reporter.log("info", f"split into {count} parts; parts 2-{count} are runs {ids}")
        counts = self._once(attempt, reporter, control, settings, False, (0, count))
        waiting: dict[int, int] = {}
        for index, run_id in enumerate(ids, start=1):
            check_stop(control)
            if parts.withdraw(run_id):
                reporter.log("info", f"part {index + 1} taken back from run {run_id}")
                more = self._once(attempt, reporter, control, settings, False, (index, count))
                counts = {k: counts.get(k, 0) + more.get(k, 0) for k in counts | more}
            else:
                waiting[run_id] = index
        ended = wait_for_parts(parts, control, reporter, waiting)
        total = Counters()
        broken: list[str] = []
        for run in ended:
            total = total + run.counters
            result = run.result if isinstance(run.result, dict) else {}
            for key in ("records", "failed"):
                value = result.get(key)
                counts[key] = counts.get(key, 0) + (value if isinstance(value, int) else 0)
            if run.error is not None or run.status is RunStatus.CANCELED:
                why = run.error.message if run.error else run.reason or run.status.value
                broken.append(
                    f"part {waiting[run.id] + 1} (run {run.id}) ended {run.status}: {why}"
                )
        parts.absorb(total)
        if broken:
            raise JobFailed("; ".join(broken), retryable=False)
        return {**counts, "parts": count}

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
        if target_spec.get("type") == HTTP_TARGET:
            return self._send(reporter, control, rows, mapping, target_spec, columns, dry_run)
        target = FileTarget(target_spec, settings.resolved_data_folders, columns)
        counts = {"records": 0, "failed": 0}
        chunk: list[tuple[int, dict[str, Any]]] = []
        try:
            limit = DEFAULT_DRY_RUN_LIMIT if dry_run else None
            for number, values in _mapped(rows, mapping, reporter, counts, limit):
                chunk.append((number, values))
                if len(chunk) >= 1000:
                    self._write_chunk(target, chunk, reporter, dry_run)
                    check_stop(control)
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
    def _send(
        reporter: Reporter,
        control: RunControl,
        rows: Iterator[SourceRow],
        mapping: Any,
        target_spec: dict[str, Any],
        columns: list[str],
        dry_run: bool,
    ) -> dict[str, int]:
        """``transfer`` to an HTTP endpoint: one request per batch; a refused batch fails its
        records with the endpoint's answer, and the next batch is still sent. A dry run sends
        nothing."""
        target = HttpTarget(target_spec, columns)
        where = safe_url(target.url)
        counts = {"records": 0, "failed": 0}
        batch: list[tuple[int, dict[str, Any]]] = []
        limit = DEFAULT_DRY_RUN_LIMIT if dry_run else None

        def send() -> None:
            if not batch:
                return
            error = None
            if not dry_run:
                reporter.external_call(urlsplit(target.url).netloc, f"{target.method} {where}")
                error = target.send([values for _, values in batch])
            for number, _ in batch:
                if error is None:
                    reporter.record(
                        f"row {number}", "skipped" if dry_run else "exported", None, number
                    )
                else:
                    counts["failed"] += 1
                    reporter.record(f"row {number}", "failed", error, number)
            batch.clear()

        try:
            for number, values in _mapped(rows, mapping, reporter, counts, limit):
                batch.append((number, values))
                if len(batch) >= target.batch_size:
                    send()
                    check_stop(control)
            send()
        finally:
            target.close()
        if dry_run:
            reporter.log("info", f"would send {counts['records']} records to {where}")
        else:
            reporter.info({"url": where, "exported": target.count})
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
        total: int | None,
    ) -> dict[str, int]:
        spec = attempt.definition.spec
        chunk_size = DEFAULT_DRY_RUN_LIMIT if dry_run else int(str(spec.get("chunk_size", 5000)))
        stop_after = spec.get("stop_after_failures")
        reject_duplicates = spec.get("duplicates", "reject") == "reject"
        seen = SeenKeys() if reject_duplicates and target.match else None
        counts = {"records": 0, "failed": 0}
        would: dict[str, int] = {}
        chunk: dict[str, Record] = {}

        def fail(key: str, reason: str, row: int) -> None:
            counts["failed"] += 1
            reporter.record(key, "failed", reason, row)

        def flush() -> None:
            if seen is not None and chunk:
                for key, first in seen.first_rows(list(chunk)).items():
                    fail(key, f"duplicate key, also in row {first}", chunk.pop(key).number)
                seen.add((key, record.number) for key, record in chunk.items())
            if not chunk:
                return
            done: list[tuple[str, str, str | None, int | None]] = []
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
                    done.append((result.key, result.action, None, result.number))
            reporter.records(done)
            done.clear()
            chunk.clear()
            reporter.progress(counts["records"], total, None)

        limit = DEFAULT_DRY_RUN_LIMIT if dry_run else None
        stop = stop_after if isinstance(stop_after, int) else None
        match = target.match
        try:
            for number, values in _mapped(rows, mapping, reporter, counts, limit, stop):
                if any(values.get(k) is None for k in match):
                    # The target fails it (a match key is empty); no key to find duplicates by.
                    chunk[f"\0{number}"] = Record(number, values)
                    continue
                key = target.key_of(Record(number, values))
                record = Record(number, values, key)
                earlier = chunk.get(key)
                if earlier is not None and seen is not None:
                    fail(key, f"duplicate key, also in row {earlier.number}", number)
                    _stop_after(counts, stop)
                    continue
                if earlier is not None:  # last wins: the earlier row is superseded
                    del chunk[key]
                    reporter.record(key, "skipped", None, earlier.number)
                    reporter.log("info", f"row {earlier.number} superseded by row {number} ({key})")
                chunk[key] = record
                if len(chunk) >= chunk_size:
                    flush()
                    _stop_after(counts, stop)
                    check_stop(control)
            flush()
        except JobFailed:
            flush()  # what was read before the limit was reached is still applied
            raise
        finally:
            if seen is not None:
                seen.close()
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


def _dict(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInputError("spec", "a data job's spec is damaged; sync the project again")
    return value


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
