"""Token usage from a same-format response body without parsing the whole JSON document.

A piped non-streaming body is only inspected for its usage numbers (for the TOKENS metric). A
JSON key can only appear unescaped as a key, never inside a string value (quotes there are
escaped), so a byte search for `"prompt_tokens":` finds the usage object's field. The last match
wins, since usage objects close the body in every format.
"""

from __future__ import annotations

import re

from llmroute.wire import ClientFormat, Usage

_NUMBER = rb'"\s*:\s*(\d+)'
_PATTERNS: dict[str, tuple[re.Pattern[bytes], re.Pattern[bytes]]] = {
    "openai_chat": (re.compile(rb'"prompt_tokens' + _NUMBER), re.compile(rb'"completion_tokens' + _NUMBER)),
    "anthropic": (re.compile(rb'"input_tokens' + _NUMBER), re.compile(rb'"output_tokens' + _NUMBER)),
    "responses": (re.compile(rb'"input_tokens' + _NUMBER), re.compile(rb'"output_tokens' + _NUMBER)),
}
_ANTHROPIC_CACHE = re.compile(rb'"cache_(?:read|creation)_input_tokens' + _NUMBER)


def _last(pattern: re.Pattern[bytes], data: bytes) -> int | None:
    found = None
    for found in pattern.finditer(data):  # noqa: B007 (the last match is the one we want)
        pass
    return int(found.group(1)) if found is not None else None


def usage_from_bytes(fmt: ClientFormat, data: bytes) -> Usage | None:
    prompt_re, completion_re = _PATTERNS[fmt]
    prompt = _last(prompt_re, data)
    completion = _last(completion_re, data)
    if prompt is None and completion is None:
        return None
    prompt = prompt or 0
    if fmt == "anthropic":
        prompt += sum(int(m.group(1)) for m in _ANTHROPIC_CACHE.finditer(data))
    return Usage(prompt, completion or 0)
