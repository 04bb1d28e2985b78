"""Operator regular expressions (the `blocklist` guardrail), run by a linear-time engine.

Python's `re` backtracks: `(a+)+$` against 31 characters ran for 73 s on the event loop, stalling
every request. RE2 (`google-re2`) matches in time linear in the text whatever the pattern, so a
careless pattern costs microseconds, not minutes. Its syntax is Python's minus what needs
backtracking: no backreferences (`\\1`) and no lookaround (`(?=`, `(?<!`); `\\w`, `\\d`, `\\b` are
ASCII. A pattern RE2 cannot run is a config error at load, naming the pattern.
"""

from __future__ import annotations

from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # errors come back as exceptions; RE2's own stderr logging is noise


def compile_pattern(pattern: str) -> Any:
    """The compiled pattern (`search`, `subn` as in `re`); ValueError with RE2's reason if it cannot run."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(
            f"not supported by the linear-time regex engine (RE2: {reason}); backreferences and"
            " lookaround are not available"
        ) from None
