"""``rota schedule preview``, ``rota schedules``, ``rota occurrences`` and ``rota groups``."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from rich.table import Table

from rota.cli.main import App, handle_errors, pass_app
from rota.cli.output import console, print_json
from rota.model.errors import InvalidInputError
from rota.model.runs import iso
from rota.model.schedules import Schedule, ScheduleKind
from rota.schedules.zones import zone
from rota.services import schedules as schedule_service


def _when(value: datetime | None, tz: str = "UTC") -> str:
    if value is None:
        return "-"
    local = value.astimezone(zone(tz or "UTC"))
    text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") + "Z"
    if tz and tz != "UTC":
        text += f" ({local.strftime('%H:%M %Z')})"
    return text


def _instant(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(name, f"{value!r} is not an ISO 8601 instant") from None
    if parsed.tzinfo is None:
        raise InvalidInputError(name, f"{value!r} needs a UTC offset or Z")
    return parsed


@click.group("schedule")
def schedule() -> None:
    """Try a schedule expression."""


@schedule.command("preview")
@click.argument("expression")
@click.option(
    "--kind",
    type=click.Choice([k.value for k in ScheduleKind]),
    default="cron",
    show_default=True,
    help="How to read EXPRESSION.",
)
@click.option("--tz", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--after", help="Start after this ISO 8601 instant (default: now).")
@click.option("-n", "count", type=int, default=10, show_default=True, help="How many fire times.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def preview(
    expression: str, kind: str, tz: str, after: str | None, count: int, as_json: bool
) -> None:
    """The next fire times of EXPRESSION in UTC and local time, with its description."""
    result = schedule_service.preview(
        expression, kind=kind, tz=tz, after=_instant("after", after), count=count
    )
    if as_json:
        print_json(result.to_json())
        return
    console.print(result.description, highlight=False)
    table = Table(box=None, header_style="bold")
    table.add_column("UTC")
    table.add_column(f"local ({tz})")
    local = zone(tz)
    for fire in result.fires:
        table.add_row(iso(fire) or "", fire.astimezone(local).strftime("%Y-%m-%d %H:%M:%S %Z (%a)"))
    console.print(table)


@click.group("schedules")
def schedules() -> None:
    """Schedules of jobs: list, pause, resume."""


def schedules_table(items: list[Schedule], title: str | None = None) -> Table:
    table = Table(box=None, header_style="bold", title=title, title_justify="left")
    table.add_column("schedule / job", no_wrap=True)
    table.add_column("kind")
    table.add_column("expression")
    table.add_column("zone")
    table.add_column("next fire", no_wrap=True)
    table.add_column("last")
    for s in items:
        when = f"{s.spec.expression}\n[dim]{s.description}[/]"
        if s.spec.exclude:
            when += f"\n[dim]except {', '.join(s.spec.exclude)}[/]"
        if s.paused:
            next_fire = "paused" + (f": {s.pause_note}" if s.pause_note else "")
        else:
            next_fire = _when(s.next_fire_at, s.spec.tz).replace(" (", "\n(")
        table.add_row(
            f"{s.id}\n[dim]{s.job}[/]",
            s.spec.kind.value,
            when,
            s.spec.tz or "UTC",
            next_fire,
            s.last_outcome or "-",
        )
    return table


@schedules.command("list")
@click.option("--job", "job_id", help="Only this job's schedules.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_schedules(app: App, job_id: str | None, as_json: bool) -> None:
    """Every schedule with its next fire time and last outcome."""
    items = schedule_service.list_schedules(app.store, job=job_id)
    if as_json:
        print_json([s.to_json() for s in items])
        return
    if not items:
        console.print("no schedules (declare them on jobs, then `rota jobs sync`)")
        return
    console.print(schedules_table(items))


def _pause_command(paused: bool) -> click.Command:
    verb = "pause" if paused else "resume"

    @click.command(verb)
    @click.argument("schedule_id")
    @click.option("--note", help="Why (shown with the schedule).")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @pass_app
    @handle_errors
    def command(app: App, schedule_id: str, note: str | None, as_json: bool) -> None:
        change = schedule_service.pause if paused else schedule_service.resume
        result = change(app.store, schedule_id, note=note, actor=app.actor)
        if as_json:
            print_json(result.to_json())
            return
        if paused:
            console.print(f"paused {result.id}", highlight=False)
        else:
            console.print(
                f"resumed {result.id}: next fire {_when(result.next_fire_at, result.spec.tz)}",
                highlight=False,
            )

    command.help = (
        "Stop a schedule from firing (nothing is recorded while paused)."
        if paused
        else "Fire again from now on (times passed while paused are not caught up)."
    )
    return command


schedules.add_command(_pause_command(True))
schedules.add_command(_pause_command(False))


@click.group("occurrences")
def occurrences() -> None:
    """What happened at each nominal time of a schedule."""


@occurrences.command("list")
@click.option("--schedule", "schedule_id", help="Only this schedule.")
@click.option("--job", "job_id", help="Only this job's schedules.")
@click.option(
    "--outcome", help="ran, skipped:overlap, skipped:missed, skipped:blackout, coalesced."
)
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_occurrences(
    app: App,
    schedule_id: str | None,
    job_id: str | None,
    outcome: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Occurrences, newest nominal time first."""
    items = schedule_service.list_occurrences(
        app.store, schedule_id=schedule_id, job=job_id, outcome=outcome, limit=limit
    )
    if as_json:
        print_json([o.to_json() for o in items])
        return
    table = Table(box=None, header_style="bold")
    for column in ("nominal time", "schedule", "outcome", "run", "detail"):
        table.add_column(column)
    for o in items:
        table.add_row(
            _when(o.nominal_time),
            o.schedule_id,
            o.outcome.value,
            str(o.run_id) if o.run_id else "-",
            o.detail or "",
        )
    console.print(table)


@click.group("groups")
def groups() -> None:
    """Job groups: disable a group and none of its jobs is scheduled."""


@groups.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_groups(app: App, as_json: bool) -> None:
    """Groups named by jobs, enabled or not."""
    items = schedule_service.list_groups(app.store)
    if as_json:
        print_json(
            [
                {
                    "name": g.name,
                    "enabled": g.enabled,
                    "note": g.note,
                    "changed_by": g.changed_by,
                    "changed_at": iso(g.changed_at),
                    "jobs": list(g.jobs),
                }
                for g in items
            ]
        )
        return
    table = Table(box=None, header_style="bold")
    for column in ("group", "enabled", "jobs", "note"):
        table.add_column(column)
    for g in items:
        table.add_row(g.name, "yes" if g.enabled else "no", ", ".join(g.jobs), g.note or "")
    console.print(table)


def _group_command(enabled: bool) -> click.Command:
    @click.command("enable" if enabled else "disable")
    @click.argument("name")
    @click.option("--note", help="Why (shown with the group).")
    @pass_app
    @handle_errors
    def command(app: App, name: str, note: str | None) -> None:
        group = schedule_service.set_group_enabled(
            app.store, name, enabled, note=note, actor=app.actor
        )
        state = "enabled" if group.enabled else "disabled"
        console.print(f"group {group.name} {state} ({len(group.jobs)} jobs)", highlight=False)

    command.help = (
        "Schedule the group's jobs again (from now on)."
        if enabled
        else "Stop scheduling the group's jobs (no occurrences are recorded)."
    )
    return command


groups.add_command(_group_command(True))
groups.add_command(_group_command(False))


def register(cli: click.Group) -> None:
    for command in (schedule, schedules, occurrences, groups):
        cli.add_command(command)
