"""Token usage from a same-format response body without parsing the whole JSON document.

A piped non-streaming body is only inspected for its usage numbers (for the TOKENS metric). A
JSON key can only appear unescaped as a key, never inside a string value (quotes there are
escaped), so a byte search for `"prompt_tokens"` finds the usage object's field. The last one
counts, since usage objects close the body in every format: found with `rfind` from the end,
which is several times cheaper than running a regex over the whole body.
"""

from __future__ import annotations

import re

from llmroute.wire import ClientFormat, Usage

_VALUE = re.compile(rb"\s*:\s*(\d+)")
_KEYS: dict[str, tuple[bytes, bytes]] = {
    "openai_chat": (b'"prompt_tokens"', b'"completion_tokens"'),
    "anthropic": (b'"input_tokens"', b'"output_tokens"'),
    "responses": (b'"input_tokens"', b'"output_tokens"'),
}
_ANTHROPIC_CACHE = re.compile(rb'"cache_(?:read|creation)_input_tokens"\s*:\s*(\d+)')


def _last(key: bytes, data: bytes) -> int | None:
    """The number after the last `key` in `data` (None when absent or not a number)."""
    at = data.rfind(key)
    if at < 0:
        return None
    value = _VALUE.match(data, at + len(key))
    return int(value.group(1)) if value is not None else None


def usage_from_bytes(fmt: ClientFormat, data: bytes) -> Usage | None:
    prompt_key, completion_key = _KEYS[fmt]
    prompt = _last(prompt_key, data)
    completion = _last(completion_key, data)
    if prompt is None and completion is None:
        return None
    prompt = prompt or 0
    if fmt == "anthropic":
        prompt += sum(int(m.group(1)) for m in _ANTHROPIC_CACHE.finditer(data))
    return Usage(prompt, completion or 0)
