"""Identifier rules shared by jobs, processes and the triggers between them."""

from __future__ import annotations

import re

JOB_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,127}$")
