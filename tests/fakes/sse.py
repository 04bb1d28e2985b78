"""Reading SSE responses in tests (a deliberately simple parser, independent of llmroute.wire)."""

from __future__ import annotations

from typing import Any

import orjson


def parse_sse(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) per event; comment lines skipped."""
    events: list[tuple[str | None, str]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        if data:
            events.append((name, "\n".join(data)))
    return events


def json_events(text: str) -> list[tuple[str | None, Any]]:
    """Like parse_sse, with the data parsed as JSON ("[DONE]" kept as the string)."""
    return [(name, data if data == "[DONE]" else orjson.loads(data)) for name, data in parse_sse(text)]


def stream_text(fmt: str, text: str) -> str:
    """The assistant text carried by a client-format stream."""
    out: list[str] = []
    for _, data in json_events(text):
        if data == "[DONE]" or not isinstance(data, dict):
            continue
        if fmt == "openai_chat":
            for choice in data.get("choices") or ():
                out.append((choice.get("delta") or {}).get("content") or "")
        elif fmt == "anthropic":
            if data.get("type") == "content_block_delta" and data["delta"].get("type") == "text_delta":
                out.append(data["delta"]["text"])
        elif data.get("type") == "response.output_text.delta":
            out.append(data["delta"])
    return "".join(out)


def response_text(fmt: str, body: dict[str, Any]) -> str:
    """The assistant text of a client-format non-streaming response."""
    if fmt == "openai_chat":
        return body["choices"][0]["message"]["content"]
    if fmt == "anthropic":
        return "".join(b["text"] for b in body["content"] if b["type"] == "text")
    return "".join(p["text"] for item in body["output"] if item["type"] == "message" for p in item["content"])
