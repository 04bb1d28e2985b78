"""A fake example generator: a real HTTP server speaking OpenAI Chat Completions and Anthropic Messages.

It finds the target route in the gateway's prompt (`belong to the route "NAME"`) and answers with the
examples scripted for that route, in the format of the path it was called on. `mode` switches it to
failing (HTTP 500), hanging, or answering garbage, to test that generation never touches requests.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from fakes.providers import FakeProvider

TARGET = re.compile(r'belong to the route "([^"]+)"')


@dataclass
class Call:
    path: str
    route: str | None
    prompt: str
    headers: dict[str, str]


class FakeGenerator(FakeProvider):
    """The fake provider's loopback server, answering as an example generator instead."""

    def __init__(self, examples: dict[str, list[str]], mode: str = "ok") -> None:
        super().__init__()
        self.examples = examples
        self.mode = mode  # ok | fail | hang | garbage
        self.calls: list[Call] = []

    def routes_asked(self) -> list[str | None]:
        return [c.route for c in self.calls]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body: dict[str, Any] = orjson.loads(await request.read())
        prompt = body["messages"][0]["content"]
        match = TARGET.search(prompt)
        route = match.group(1) if match else None
        self.calls.append(
            Call(request.path, route, prompt, {k.lower(): v for k, v in request.headers.items()})
        )
        if self.mode == "fail":
            return web.json_response({"error": {"message": "overloaded"}}, status=500)
        if self.mode == "hang":
            await asyncio.sleep(30)
        if self.mode == "garbage":
            text = "I'm sorry, I can't help with that."
        else:
            text = orjson.dumps({"examples": self.examples.get(route or "", [])}).decode()
            text = f"```json\n{text}\n```"  # as chat models often do: the parser must cope
        if request.path.endswith("/messages"):
            return web.json_response(
                {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": 100, "output_tokens": 100},
                }
            )
        return web.json_response(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
            }
        )
