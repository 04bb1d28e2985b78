"""A fake model for coding agents, behind `FakeProvider(responder=...)`.

It plays the model's part of a tool-using turn from what each request actually carries, in any of
the three APIs: a request whose latest turn is a tool's result gets an answer quoting that result;
a request that offers the agent's file-reading tool and names a file gets a call of that tool; any
other request gets a plain answer. Nothing is keyed to a particular test: an agent that never sent
the tool's output back would never see it quoted.
"""

from __future__ import annotations

import re
from typing import Any

from fakes.providers import Answer

PLAIN_ANSWER = "Hello from the fake provider"
# A file the agent is asked about: an absolute path ending in a file name with an extension.
FILE_PATH = re.compile(r"(/[\w./-]+\.\w+)")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif part.get("type") == "tool_result":
                    texts.append(_text(part.get("content")))
        return "\n".join(texts)
    return ""


def latest_tool_result(kind: str, body: dict[str, Any]) -> str | None:
    """The text of the tool results in the request's latest turn, or None when it holds none."""
    if kind == "anthropic":
        last = (body.get("messages") or [{}])[-1]
        content = last.get("content")
        if isinstance(content, list):
            results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
            if results:
                return "\n".join(_text(b.get("content")) for b in results)
        return None
    if kind == "chat":
        last = (body.get("messages") or [{}])[-1]
        return _text(last.get("content")) if last.get("role") == "tool" else None
    items = body.get("input")
    if isinstance(items, list) and items and isinstance(items[-1], dict):
        last = items[-1]
        if str(last.get("type", "")).endswith("_call_output"):
            output = last.get("output")
            return output if isinstance(output, str) else _text(output)
    return None


def tool_names(body: dict[str, Any]) -> set[str]:
    names = set()
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            function = tool.get("function")
            name = function.get("name") if isinstance(function, dict) else tool.get("name")
            if isinstance(name, str):
                names.add(name)
    return names


def latest_user_text(kind: str, body: dict[str, Any]) -> str:
    if kind == "responses":
        items = body.get("input")
        if isinstance(items, str):
            return items
        users = [i for i in items or [] if isinstance(i, dict) and i.get("role") == "user"]
        return _text(users[-1].get("content")) if users else ""
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    return _text(users[-1].get("content")) if users else ""


def file_reader(tool: str, arguments: Any) -> Any:
    """A responder that reads a named file with the agent's `tool`; `arguments(path)` builds its input."""

    def respond(kind: str, body: dict[str, Any]) -> Answer:
        result = latest_tool_result(kind, body)
        if result is not None:
            return Answer(text=f"The file says: {result.strip()}")
        if tool in tool_names(body):
            match = FILE_PATH.search(latest_user_text(kind, body))
            if match:
                return Answer(tool_call=(tool, arguments(match.group(1))))
        return Answer(text=PLAIN_ANSWER)

    return respond
