"""A safe YAML loader that keeps ``on``, ``no``, ``12:30`` and ``2026-11-20`` as text.

PyYAML follows YAML 1.1, where those become booleans, base-60 numbers and dates; in job files
they are shell arguments, times and parameter values. Only ``true``/``false`` are booleans and
only plain decimal literals are numbers here (YAML 1.2's core schema).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class SafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with YAML 1.2 core scalars."""


SafeLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regex) for tag, regex in resolvers if tag not in {_BOOL, _INT, _FLOAT, _TIMESTAMP}
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SafeLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
SafeLoader.add_implicit_resolver(
    _INT, re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
SafeLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?"
        r"|(?:0|[1-9][0-9]*)\.[0-9]*(?:[eE][-+]?[0-9]+)?"
        r"|(?:0|[1-9][0-9]*)[eE][-+]?[0-9]+)"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _construct_int(loader: SafeLoader, node: yaml.ScalarNode) -> int:
    return int(str(loader.construct_scalar(node)))


def _construct_bool(loader: SafeLoader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


SafeLoader.add_constructor(_BOOL, _construct_bool)
SafeLoader.add_constructor(_INT, _construct_int)


def load(text: str) -> Any:
    return yaml.load(text, Loader=SafeLoader)
