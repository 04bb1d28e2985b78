"""Decision headers (`x-llmroute-route`, `x-llmroute-model`) that survive any route or model name.

HTTP header values are latin-1 bytes without CR/LF, but a route name comes from the client
(inline `routing_preferences`) and a model name can too (a wildcard provider serves any model
id). So every value is percent-encoded as UTF-8, RFC 3986 style: printable ASCII stays as it is
(config names look unchanged), anything else, and `%` itself, becomes `%XX`. Clients decode
with `urllib.parse.unquote` or `decodeURIComponent`.
"""

from __future__ import annotations

from urllib.parse import quote

# Printable ASCII except `%` (the escape character itself, so that decoding is unambiguous).
_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def header_value(text: str) -> str:
    """`text` as a header value: unchanged when it is printable ASCII without `%`, else percent-encoded."""
    if text.isascii() and text.isprintable() and "%" not in text:
        return text  # the common case costs one scan, no allocation
    return quote(text, safe=_SAFE)
