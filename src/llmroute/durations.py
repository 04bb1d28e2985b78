"""Durations in the config ("30s", "500ms", "5m", or a number of seconds).

A module of its own, below both `config/models.py` and `governance/schema.py`, which each parse
them (it used to live in config/models.py, and governance/schema.py imported it back from there).
"""

from __future__ import annotations

import re
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string such as "30s", "500ms", "5m"."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30 or '30s'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(
                f"invalid duration {value!r}: use a number of seconds or e.g. '30s', '500ms', '5m'"
            )
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError("must be greater than 0")
    return seconds
