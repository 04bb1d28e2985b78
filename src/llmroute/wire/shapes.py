"""Tolerant readers for untrusted JSON (client bodies past validation, upstream answers).

A field of the wrong JSON type is read as empty instead of raising TypeError deep inside a
translation: the upstream's answer is forwarded as well as it can be, never as a traceback.
"""

from __future__ import annotations

from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def first_choice(resp: dict[str, Any]) -> dict[str, Any]:
    """`choices[0]` of a Chat Completions answer, or {}."""
    choices = resp.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return {}
