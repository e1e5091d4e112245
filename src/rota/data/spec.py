"""The ``kind: data`` part of a job definition: checked once at load, kept as plain JSON in the
job's ``spec`` (so it is versioned and fingerprinted like every other definition).

```yaml
source: {type: csv, path: members.csv, encoding: utf-8}
target: {connection: crm, table: members}
action: upsert
match: [member_no]
mapping:
  member_no: {field: "Member No", type: int, required: true}
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rota.data.mapping import parse_mapping
from rota.data.sources import check_source_config
from rota.data.targets.http_target import check_http_target_config
from rota.data.targets.sql_table import Action
from rota.model.errors import InvalidInputError
from rota.model.params import JsonValue

DUPLICATES = ("reject", "last_wins")
FILE_TARGETS = ("csv", "json", "xlsx")
HTTP_TARGET = "http"
TRANSFER = "transfer"
DEFAULT_CHUNK = 5_000
DEFAULT_DRY_RUN_LIMIT = 100


def data_spec(raw: Mapping[str, Any]) -> dict[str, JsonValue]:
    """Check a data job's fields and return them as its stored spec."""
    source = raw.get("source")
    if not isinstance(source, Mapping):
        raise InvalidInputError("source", "a data job needs source: {type: csv, path: ...}")
    check_source_config(source)
    action = raw.get("action")
    actions = [a.value for a in Action] + [TRANSFER]
    if action not in actions:
        raise InvalidInputError("action", f"{action!r} is not one of: {', '.join(actions)}")
    target = raw.get("target")
    if not isinstance(target, Mapping):
        raise InvalidInputError("target", "a data job needs a target")
    _check_target(target, action)
    match = raw.get("match") or []
    if isinstance(match, str):
        match = [match]
    if not isinstance(match, list) or not all(isinstance(m, str) for m in match):
        raise InvalidInputError("match", "must be a list of column names")
    mapping = raw.get("mapping")
    if not isinstance(mapping, Mapping) or not mapping:
        raise InvalidInputError("mapping", "a data job needs a mapping of target columns")
    parse_mapping(mapping)  # refuses a bad declaration now, naming mapping.<column>.<key>
    for key in match:
        if key not in mapping:
            raise InvalidInputError("match", f"{key!r} is not a column of the mapping")
    if action in ("update", "upsert", "delete") and not match:
        raise InvalidInputError("match", f"{action} needs match keys to find existing records")
    duplicates = raw.get("duplicates", "reject")
    if duplicates not in DUPLICATES:
        raise InvalidInputError("duplicates", f"{duplicates!r} is not one of: reject, last_wins")
    stop_after = raw.get("stop_after_failures")
    if stop_after is not None and (not isinstance(stop_after, int) or stop_after < 1):
        raise InvalidInputError("stop_after_failures", "must be a whole number of at least 1")
    chunk = raw.get("chunk_size", DEFAULT_CHUNK)
    if not isinstance(chunk, int) or not 1 <= chunk <= 100_000:
        raise InvalidInputError("chunk_size", "must be between 1 and 100000")
    parallel = raw.get("parallel", 1)
    if isinstance(parallel, bool) or not isinstance(parallel, int) or not 1 <= parallel <= 16:
        raise InvalidInputError("parallel", "must be a number of parts from 1 to 16")
    if parallel > 1 and action == TRANSFER:
        raise InvalidInputError("parallel", "a transfer writes one file: it runs as one part")
    spec: dict[str, JsonValue] = {
        "source": dict(source),
        "target": dict(target),
        "action": action,
        "match": list(match),
        "mapping": {k: dict(v) if isinstance(v, Mapping) else v for k, v in mapping.items()},
        "duplicates": duplicates,
        "stop_after_failures": stop_after,
        "chunk_size": chunk,
    }
    if parallel > 1:  # left out when unset, so existing jobs keep their version
        spec["parallel"] = parallel
    return spec


def _check_target(target: Mapping[str, Any], action: str) -> None:
    if action == TRANSFER:
        kind = target.get("type")
        if kind == HTTP_TARGET:
            check_http_target_config(target)
            return
        if kind not in FILE_TARGETS:
            raise InvalidInputError(
                "target.type",
                f"a transfer writes a file: one of {', '.join(FILE_TARGETS)}; "
                f"or sends to an HTTP endpoint: {HTTP_TARGET}",
            )
        if not isinstance(target.get("path"), str):
            raise InvalidInputError("target.path", "a transfer needs the file to write")
        return
    for key in ("connection", "table"):
        if not isinstance(target.get(key), str) or not target[key]:
            raise InvalidInputError(f"target.{key}", "is required (a name from rota.toml)")
    unknown = sorted(set(target) - {"connection", "table"})
    if unknown:
        raise InvalidInputError(f"target.{unknown[0]}", "is not a target field")
