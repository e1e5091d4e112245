"""``rota processes``, ``rota resources``, ``rota triggers`` and ``rota hooks``: what ties
jobs together. ``rota run PROCESS`` starts a process like any job; ``rota runs show ID`` draws
its steps."""

from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from rota.cli.main import App, handle_errors, pass_app
from rota.cli.output import console, print_json
from rota.model.errors import InvalidInputError
from rota.model.jobs import JobKind
from rota.model.params import JsonValue
from rota.processes.spec import ProcessSpec
from rota.services import hooks as hook_service
from rota.services import jobs as job_service


@click.group("processes")
def processes() -> None:
    """Processes: jobs joined by their needs into one workflow."""


def _spec(steps: JsonValue) -> ProcessSpec:
    assert isinstance(steps, list)
    return ProcessSpec.from_json(steps)


@processes.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_processes(app: App, as_json: bool) -> None:
    """Every process with its steps in the order they can start."""
    found = [s for s in job_service.list_jobs(app.store) if s.definition.kind is JobKind.PROCESS]
    if as_json:
        print_json([{**s.definition.to_json(), "version": s.version} for s in found])
        return
    if not found:
        console.print("no processes (kind: process in a jobs/ YAML file)")
        return
    table = Table(box=None, header_style="bold")
    for column in ("id", "v", "name", "steps"):
        table.add_column(column)
    for s in found:
        steps = _spec(s.definition.spec.get("steps"))
        table.add_row(
            s.id, str(s.version), s.definition.name, " -> ".join(x.name for x in steps.steps)
        )
    console.print(table)


@processes.command("show")
@click.argument("process_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def show_process(app: App, process_id: str, as_json: bool) -> None:
    """One process: its steps, what each needs, when it runs and on error."""
    stored = job_service.get_job(app.store, process_id)
    if stored.definition.kind is not JobKind.PROCESS:
        raise InvalidInputError("process", f"{process_id!r} is a {stored.definition.kind} job")
    if as_json:
        print_json({**stored.definition.to_json(), "version": stored.version})
        return
    spec = _spec(stored.definition.spec.get("steps"))
    tree = Tree(f"[bold]{escape(process_id)}[/] v{stored.version}")
    for step in spec.steps:
        needs = f" needs {', '.join(step.needs)}" if step.needs else ""
        params = json.dumps(step.params) if step.params else ""
        tree.add(
            f"{step.name}: {step.job}{needs}  when {step.when.value}, on error "
            f"{step.on_error.value}  {escape(params)}"
        )
    console.print(tree)


@click.group("resources")
def resources() -> None:
    """Resources runs hold: locks, capacities and limits."""


@resources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_resources(app: App, as_json: bool) -> None:
    """Each resource with its capacity, the runs holding it and the runs waiting (in the
    order they will get it)."""
    found = app.store.list_resources()
    if as_json:
        print_json([r.to_json() for r in found])
        return
    if not found:
        console.print("no resources yet (\\[resources] in rota.toml, resources: on a job)")
        return
    table = Table(box=None, header_style="bold")
    for column in ("name", "used", "holders", "waiters", "description"):
        table.add_column(column)
    for r in found:
        holders = ", ".join(
            f"{h.run_id} {h.job}" + (" (shared)" if h.shared else "") for h in r.holders
        )
        waiters = ", ".join(f"{w.run_id} {w.job}" for w in r.waiters)
        table.add_row(
            r.name, f"{r.used}/{r.capacity}", holders or "-", waiters or "-", r.description
        )
    console.print(table)


@click.group("triggers")
def triggers() -> None:
    """Event triggers: a run's end starting another job."""


@triggers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_triggers(app: App, as_json: bool) -> None:
    """Every event trigger of the synced definitions."""
    found = app.store.list_triggers()
    if as_json:
        print_json([t.to_json() for t in found])
        return
    if not found:
        console.print("no event triggers (triggers: on a job)")
        return
    table = Table(box=None, header_style="bold")
    for column in ("id", "when", "starts", "params"):
        table.add_column(column)
    for t in found:
        table.add_row(t.id, t.describe(), t.target, escape(json.dumps(t.params)))
    console.print(table)


@click.group("hooks")
def hooks() -> None:
    """Webhook triggers: POST /hooks/ID starts a job (HMAC-signed)."""


@hooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_hooks(app: App, as_json: bool) -> None:
    """Hooks, the job each starts and its parameter mapping (never the secrets)."""
    found = hook_service.list_hooks(app.store)
    if as_json:
        print_json([h.to_json() for h in found])
        return
    if not found:
        console.print("no hooks (rota hooks create JOB)")
        return
    table = Table(box=None, header_style="bold")
    for column in ("id", "job", "path", "params", "rotated"):
        table.add_column(column)
    for h in found:
        rotated = h.rotated_at.strftime("%Y-%m-%d %H:%M") if h.rotated_at else "-"
        table.add_row(h.id, h.job, f"/hooks/{h.id}", escape(json.dumps(h.params)), rotated)
    console.print(table)


def _print_secret(hook_id: str, secret: str, as_json: bool, body: dict[str, JsonValue]) -> None:
    if as_json:
        print_json({**body, "secret": secret})
        return
    console.print(f"hook {hook_id}: POST /hooks/{hook_id}", highlight=False)
    console.print(
        "secret (shown once; Standard Webhooks or GitHub X-Hub-Signature-256):", highlight=False
    )
    console.print(secret, highlight=False, markup=False)


@hooks.command("create")
@click.argument("job_id")
@click.option("--id", "hook_id", help="Hook id (default: from the job id and random).")
@click.option(
    "--params",
    "params_json",
    default="{}",
    help='Parameters as JSON, e.g. \'{"member": "{{ payload.member.id }}"}\'.',
)
@click.option("--description", default="", help="What the hook is for.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with the secret).")
@pass_app
@handle_errors
def create_hook(
    app: App, job_id: str, hook_id: str | None, params_json: str, description: str, as_json: bool
) -> None:
    """A new hook for JOB_ID; prints its secret once."""
    try:
        params = json.loads(params_json)
    except ValueError:
        raise InvalidInputError("params", "is not JSON") from None
    if not isinstance(params, dict):
        raise InvalidInputError("params", "must be a JSON object")
    hook, secret = hook_service.create_hook(
        app.store,
        app.settings,
        job_id,
        hook_id=hook_id,
        params=params,
        description=description,
        actor=app.actor,
    )
    _print_secret(hook.id, secret, as_json, hook.to_json())


@hooks.command("rotate-secret")
@click.argument("hook_id")
@click.option(
    "--keep-previous-hours",
    type=float,
    default=24.0,
    show_default=True,
    help="How long the old secret stays valid (0: refused at once).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with the new secret).")
@pass_app
@handle_errors
def rotate_secret(app: App, hook_id: str, keep_previous_hours: float, as_json: bool) -> None:
    """A new secret for HOOK_ID; prints it once."""
    hook, secret = hook_service.rotate_hook_secret(
        app.store, app.settings, hook_id, keep_previous_hours=keep_previous_hours
    )
    _print_secret(hook.id, secret, as_json, hook.to_json())


def register(cli: click.Group) -> None:
    for group in (processes, resources, triggers, hooks):
        cli.add_command(group)
