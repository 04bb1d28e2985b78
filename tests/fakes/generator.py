"""A fake example generator: a real HTTP server speaking OpenAI Chat Completions and Anthropic Messages.

It finds the target route in the gateway's prompt (`belong to the route "NAME"`) and answers with the
examples scripted for that route, in the format of the path it was called on. `mode` switches it to
failing (HTTP 500), hanging, or answering garbage, to test that generation never touches requests.
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from conftest import free_port

TARGET = re.compile(r'belong to the route "([^"]+)"')


@dataclass
class Call:
    path: str
    route: str | None
    prompt: str
    headers: dict[str, str]


@dataclass
class FakeGenerator:
    examples: dict[str, list[str]]
    mode: str = "ok"  # ok | fail | hang | garbage
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def routes_asked(self) -> list[str | None]:
        return [c.route for c in self.calls]

    def __enter__(self) -> FakeGenerator:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake generator did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

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
