"""The words of a notification: an e-mail's subject and text, from the notification's payload.

Pure functions of the payload the store wrote with the event, so a message says what was
true when the event happened, whenever it is delivered. Parameters, info and results of a run
are never in the payload (they may hold personal data or secrets); the reason is, as stored
(the worker masks secrets in it before storing).
"""

from __future__ import annotations

from rota.model.notify import Notification, NotifyEvent
from rota.model.params import JsonValue

PREFIX = "[rota]"


def _part(payload: dict[str, JsonValue], name: str) -> dict[str, JsonValue]:
    value = payload.get(name)
    return value if isinstance(value, dict) else {}


def subject_line(notification: Notification) -> str:
    payload = notification.payload
    job = _part(payload, "job").get("id", notification.job)
    run = _part(payload, "run")
    event = notification.event
    if event is NotifyEvent.OVERDUE:
        return f"{PREFIX} {job} run {run.get('id')} is overdue"
    if event in (NotifyEvent.MISSED, NotifyEvent.SKIPPED):
        time = _part(payload, "occurrence").get("time")
        return f"{PREFIX} {job}: schedule time {time} {event.value}"
    return f"{PREFIX} {job} run {run.get('id')} {event.value}"


def email_text(notification: Notification) -> str:
    payload = notification.payload
    job = _part(payload, "job")
    lines = [
        subject_line(notification).removeprefix(f"{PREFIX} "),
        "",
        f"Job:    {job.get('name')} ({job.get('id')}), tenant {job.get('tenant')}",
        f"Event:  {notification.event.value} at {payload.get('at')}",
    ]
    run = _part(payload, "run")
    if run:
        lines += [
            f"Run:    {run.get('id')}, status {run.get('status')}, trigger {run.get('trigger')}, "
            f"attempt {run.get('attempt')} of {run.get('max_attempts')}",
            f"Times:  created {run.get('created_at')}, started {run.get('started_at')}, "
            f"finished {run.get('finished_at')}",
        ]
        if notification.event is NotifyEvent.OVERDUE:
            lines.append(f"Expected runtime: {run.get('expected_runtime')} s")
        counters = _part(run, "counters")
        counted = ", ".join(f"{name} {n}" for name, n in counters.items() if n)
        if counted:
            lines.append(f"Records: {counted}")
        if run.get("reason"):
            lines.append(f"Reason: {run.get('reason')}")
        if run.get("error"):
            lines.append(f"Error:  {run.get('error')}")
        lines += ["", f"Details: rota runs show {run.get('id')}"]
    occurrence = _part(payload, "occurrence")
    if occurrence:
        lines += [
            f"Schedule: {occurrence.get('schedule')}, time {occurrence.get('time')}",
            f"Outcome:  {occurrence.get('outcome')}",
        ]
        if occurrence.get("detail"):
            lines.append(f"Detail:   {occurrence.get('detail')}")
    return "\n".join(lines) + "\n"
