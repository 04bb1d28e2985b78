"""ConfigError and the translation of pydantic's errors into one "key.path: what is wrong" line each.

Operators read these at startup; a pydantic dump or a traceback would bury the one thing to fix.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

Loc = Sequence[str | int]


class ConfigError(Exception):
    """The configuration cannot be used. `str()` is one line per problem, each naming its key path."""

    def __init__(self, errors: Iterable[str]) -> None:
        self.errors: list[str] = list(errors) or ["invalid configuration"]
        super().__init__("\n".join(self.errors))

    def __str__(self) -> str:
        return "\n".join(self.errors)


def format_path(loc: Loc) -> str:
    """("model_providers", 2, "model") -> "model_providers[2].model"."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def at(loc: Loc, message: str) -> str:
    path = format_path(loc)
    return f"{path}: {message}" if path else message


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    options = list(candidates)
    # A shortened key ("session_ttl") means the key it starts; difflib alone may prefer a closer-looking one.
    prefixed = sorted((c for c in options if len(word) >= 3 and c.startswith(word)), key=len)
    close = prefixed[:1] or difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def describe_type(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def pydantic_errors(exc: ValidationError, root: type[BaseModel], extra_keys: Iterable[str] = ()) -> list[str]:
    """One line per pydantic error. `extra_keys` are top-level keys we accept before pydantic (legacy names)."""
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        line = _format_one(error, root, tuple(extra_keys))
        if line not in lines:
            lines.append(line)
    return lines


def _format_one(error: Any, root: type[BaseModel], extra_keys: tuple[str, ...]) -> str:
    raw_loc = tuple(error["loc"])
    if len(raw_loc) >= 2 and raw_loc[-1] == "[key]":
        # pydantic's loc for a bad mapping key: (..., the key, "[key]")
        loc, _ = _walk(root, raw_loc[:-2])
        return at(loc, f"key {raw_loc[-2]!r} must be a string (quote it)")
    loc, parent = _walk(root, raw_loc)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        candidates = _field_names(parent)
        if parent is root:
            candidates += list(extra_keys)
        return at(loc, "unknown key" + did_you_mean(key, candidates))
    if kind == "missing":
        return at(loc, "missing required key")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return at(loc, f"expected a mapping (key: value), got {describe_type(given)}")
    if kind == "list_type":
        return at(loc, f"expected a list, got {describe_type(given)}")
    discriminator = str(ctx.get("discriminator", "type")).strip("'")
    if kind == "union_tag_invalid":
        expected = ctx.get("expected_tags", "")
        return at(loc, f"unknown {discriminator} {ctx.get('tag')!r}; expected one of {expected}")
    if kind == "union_tag_not_found":
        return at(loc, f"missing required key '{discriminator}'")
    if kind == "too_short" and tuple(loc) == ("model_providers",):
        return at(loc, "declare at least one model, e.g. `- model: openai/gpt-4o`")
    if kind == "too_short":
        return at(loc, f"must have at least {ctx.get('min_length', 1)} item(s)")
    if kind == "literal_error":
        return at(loc, f"must be {ctx.get('expected', '')}, got {given!r}")
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    message = message.replace("Input should be", "must be")
    return at(loc, message)


def _field_names(model: Any) -> list[str]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _walk(root: type[BaseModel], loc: tuple[Any, ...]) -> tuple[list[str | int], Any]:
    """The displayed path (discriminator tags and type names dropped) and the model that holds the last key."""
    shown: list[str | int] = []
    current: Any = root
    for part in loc:
        current, is_tag = _step(current, part)
        if not is_tag:
            shown.append(part)
    return shown, _owner(root, loc)


def _owner(root: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    """The model class whose field list applies to the last element of loc (for did-you-mean)."""
    current: Any = root
    for part in loc[:-1]:
        current, _ = _step(current, part)
    return _unwrap_model(current)


def _unwrap_model(tp: Any) -> Any:
    tp = _strip_annotated(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    return None


def _strip_annotated(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _step(tp: Any, part: Any) -> tuple[Any, bool]:
    """Follow one loc element from type tp. Returns (next type, whether the element was a union tag)."""
    tp = _strip_annotated(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        members = [_strip_annotated(m) for m in typing.get_args(tp) if m is not type(None)]
        if isinstance(part, str):
            for member in members:
                if _is_tagged(member, part):
                    return member, True
        if len(members) == 1:
            return _step(members[0], part)
        for member in members:
            nxt, is_tag = _step(member, part)
            if nxt is not None:
                return nxt, is_tag
        return None, isinstance(part, str) and not part.isidentifier()
    if origin is list and isinstance(part, int):
        return typing.get_args(tp)[0], False
    if origin is dict and isinstance(part, str):
        return typing.get_args(tp)[1], False
    if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
        field = tp.model_fields.get(part)
        return (field.annotation if field is not None else None), False
    return None, False


def _is_tagged(model: Any, tag: str) -> bool:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return False
    field = model.model_fields.get("type")
    if field is None:
        return False
    return typing.get_origin(field.annotation) is typing.Literal and tag in typing.get_args(field.annotation)
