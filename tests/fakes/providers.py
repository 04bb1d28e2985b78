"""Fake LLM providers: real HTTP servers on loopback speaking OpenAI and Anthropic.

`FakeProvider` runs an aiohttp server in its own thread and event loop. It serves
`.../chat/completions` (OpenAI Chat, any prefix: Azure deployments, Gemini's `/v1beta/openai`),
`/v1/messages` (Anthropic) and `/v1/responses` (OpenAI Responses), streaming (SSE) and not. Every
request is recorded (`requests`: path, query, headers, JSON body) so tests can assert on exactly
what the provider received.

By default each request gets a normal answer (`Answer()`), or what `responder(kind, body)` returns
when one is given (an agent's fake model: it answers from what the request carries, e.g. a tool
call, then the tool's result); `script(...)` queues behaviours for
the next requests, in order: `Answer(text=..., tool_call=...)`, `Fail(status, body, headers)` (429
with Retry-After, 500, 400...), `Hang(seconds)` (no response: the gateway's read timeout fires),
`DropMidStream(after=n)` (send n stream events then cut the connection without ending the HTTP
response), `ErrorEvent(message)` (a 200 stream that opens with an error event), `Raw(pieces)` (a
200 stream of exactly these bytes, one write each, then a clean end).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

import orjson
from aiohttp import web

from conftest import free_port


@dataclass
class Answer:
    text: str = "Hello from the fake provider"
    # (name, arguments dict): answer with a tool call instead of (or after) text
    tool_call: tuple[str, dict[str, Any]] | None = None
    input_tokens: int = 11
    output_tokens: int = 7
    delay: float = 0.0  # seconds between stream events (a slow model)


@dataclass
class Fail:
    status: int
    body: Any = None  # None: the provider's usual error shape for the status
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Hang:
    seconds: float


@dataclass
class DropMidStream:
    after: int = 2  # events sent before the connection is cut


@dataclass
class ErrorEvent:
    """A 200 stream whose first event is an error (Anthropic sends overloaded_error this way)."""

    message: str = "Overloaded"


@dataclass
class Raw:
    """A 200 `text/event-stream` answer sent as exactly these pieces, each written on its own with a
    pause between (so each reaches the gateway as its own read), then a clean end of the response.
    For what a normal answer never does: a stream cut short without its terminal event, a key split
    across reads, one huge event."""

    pieces: list[bytes]
    pause: float = 0.02


Behaviour = Answer | Fail | Hang | DropMidStream | ErrorEvent | Raw


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: dict[str, Any]
    peer_port: int = 0  # the gateway's side of the TCP connection (same port = a reused connection)


def sse(data: Any, event: str | None = None) -> bytes:
    payload = data if isinstance(data, bytes) else orjson.dumps(data)
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + payload + b"\n\n"


# --- OpenAI Chat Completions -----------------------------------------------------------------------


def chat_completion(answer: Answer, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.text, "refusal": None}
    finish = "stop"
    if answer.tool_call:
        name, args = answer.tool_call
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": "call_fake1",
                "type": "function",
                "function": {"name": name, "arguments": orjson.dumps(args).decode()},
            }
        ]
        finish = "tool_calls"
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": answer.input_tokens,
            "completion_tokens": answer.output_tokens,
            "total_tokens": answer.input_tokens + answer.output_tokens,
        },
    }


def chat_stream(answer: Answer, model: str, include_usage: bool) -> list[bytes]:
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000, "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse(
            {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        )

    out = [chunk({"role": "assistant", "content": ""})]
    if answer.tool_call:
        name, args = answer.tool_call
        raw = orjson.dumps(args).decode()
        half = len(raw) // 2
        out.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_fake1",
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        out.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": raw[:half]}}]}))
        out.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": raw[half:]}}]}))
        out.append(chunk({}, "tool_calls"))
    else:
        for i, word in enumerate(answer.text.split(" ")):
            out.append(chunk({"content": word if i == 0 else " " + word}))
        out.append(chunk({}, "stop"))
    if include_usage:
        usage = {
            "prompt_tokens": answer.input_tokens,
            "completion_tokens": answer.output_tokens,
            "total_tokens": answer.input_tokens + answer.output_tokens,
        }
        out.append(sse({**base, "choices": [], "usage": usage}))
    out.append(b"data: [DONE]\n\n")
    return out


# --- Anthropic Messages ----------------------------------------------------------------------------


def anthropic_message(answer: Answer, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": answer.text}]
    stop = "end_turn"
    if answer.tool_call:
        name, args = answer.tool_call
        content = [{"type": "tool_use", "id": "toolu_fake1", "name": name, "input": args}]
        stop = "tool_use"
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens},
    }


def anthropic_stream(answer: Answer, model: str) -> list[bytes]:
    start = anthropic_message(answer, model)
    start["content"] = []
    start["stop_reason"] = None
    start["usage"] = {"input_tokens": answer.input_tokens, "output_tokens": 1}
    out = [sse({"type": "message_start", "message": start}, "message_start")]
    if answer.tool_call:
        name, args = answer.tool_call
        raw = orjson.dumps(args).decode()
        block = {"type": "tool_use", "id": "toolu_fake1", "name": name, "input": {}}
        out.append(
            sse({"type": "content_block_start", "index": 0, "content_block": block}, "content_block_start")
        )
        for piece in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
            delta = {"type": "input_json_delta", "partial_json": piece}
            out.append(
                sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")
            )
        stop = "tool_use"
    else:
        block = {"type": "text", "text": ""}
        out.append(
            sse({"type": "content_block_start", "index": 0, "content_block": block}, "content_block_start")
        )
        out.append(sse({"type": "ping"}, "ping"))
        for i, word in enumerate(answer.text.split(" ")):
            delta = {"type": "text_delta", "text": word if i == 0 else " " + word}
            out.append(
                sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")
            )
        stop = "end_turn"
    out.append(sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
    out.append(
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": answer.output_tokens},
            },
            "message_delta",
        )
    )
    out.append(sse({"type": "message_stop"}, "message_stop"))
    return out


# --- OpenAI Responses ------------------------------------------------------------------------------


def responses_function_call(answer: Answer) -> dict[str, Any]:
    assert answer.tool_call is not None
    name, args = answer.tool_call
    return {
        "id": "fc_fake",
        "type": "function_call",
        "status": "completed",
        "call_id": "call_fake1",
        "name": name,
        "arguments": orjson.dumps(args).decode(),
    }


def responses_object(answer: Answer, model: str, status: str = "completed") -> dict[str, Any]:
    item = {
        "id": "msg_fake",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": answer.text, "annotations": []}],
    }
    if answer.tool_call:
        item = responses_function_call(answer)
    return {
        "id": "resp_fake",
        "object": "response",
        "created_at": 1700000000,
        "status": status,
        "model": model,
        "output": [item] if status == "completed" else [],
        "usage": {
            "input_tokens": answer.input_tokens,
            "output_tokens": answer.output_tokens,
            "total_tokens": answer.input_tokens + answer.output_tokens,
        },
    }


def responses_stream(answer: Answer, model: str) -> list[bytes]:
    seq = iter(range(1000))

    def ev(kind: str, **fields: Any) -> bytes:
        return sse({"type": kind, "sequence_number": next(seq), **fields}, kind)

    created = responses_object(answer, model, "in_progress")
    created["usage"] = None
    if answer.tool_call:
        call = responses_function_call(answer)
        raw = call["arguments"]
        return [
            ev("response.created", response=created),
            ev(
                "response.output_item.added",
                output_index=0,
                item={**call, "arguments": "", "status": "in_progress"},
            ),
            ev("response.function_call_arguments.delta", item_id="fc_fake", output_index=0, delta=raw),
            ev("response.function_call_arguments.done", item_id="fc_fake", output_index=0, arguments=raw),
            ev("response.output_item.done", output_index=0, item=call),
            ev("response.completed", response=responses_object(answer, model)),
        ]
    item = {"id": "msg_fake", "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    out = [
        ev("response.created", response=created),
        ev("response.output_item.added", output_index=0, item=item),
    ]
    part = {"type": "output_text", "text": "", "annotations": []}
    out.append(
        ev("response.content_part.added", item_id="msg_fake", output_index=0, content_index=0, part=part)
    )
    for i, word in enumerate(answer.text.split(" ")):
        out.append(
            ev(
                "response.output_text.delta",
                item_id="msg_fake",
                output_index=0,
                content_index=0,
                delta=word if i == 0 else " " + word,
            )
        )
    out.append(
        ev("response.output_text.done", item_id="msg_fake", output_index=0, content_index=0, text=answer.text)
    )
    done = responses_object(answer, model)
    out.append(ev("response.output_item.done", output_index=0, item=done["output"][0]))
    out.append(ev("response.completed", response=done))
    return out


# --- OpenAI embeddings -----------------------------------------------------------------------------


def embeddings(body: dict[str, Any], model: str) -> dict[str, Any]:
    """One 3-number vector per input, computed from the input (length, words, first character)."""
    inputs = body.get("input")
    items = [inputs] if isinstance(inputs, str) else list(inputs or [])
    data = []
    tokens = 0
    for i, item in enumerate(items):
        text = item if isinstance(item, str) else " ".join(map(str, item))
        tokens += len(text.split())
        vector = [float(len(text)), float(len(text.split())), float(ord(text[0]) if text else 0)]
        data.append({"object": "embedding", "index": i, "embedding": vector})
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return {"object": "list", "data": data, "model": model, "usage": usage}


# --- the server ------------------------------------------------------------------------------------


def default_error(kind: str, status: int) -> dict[str, Any]:
    message = {
        429: "Rate limit reached",
        500: "The server had an error",
        400: "Invalid request: bad field",
    }.get(status, f"error {status}")
    if kind == "anthropic":
        types = {
            429: "rate_limit_error",
            500: "api_error",
            400: "invalid_request_error",
            401: "authentication_error",
        }
        return {"type": "error", "error": {"type": types.get(status, "api_error"), "message": message}}
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error" if status < 500 else "server_error",
            "param": None,
            "code": "fake_code",
        }
    }


class FakeProvider:
    def __init__(
        self,
        responder: Callable[[str, dict[str, Any]], Behaviour] | None = None,
        tls: ssl.SSLContext | None = None,  # serve https:// (url then names `localhost`)
    ) -> None:
        self.responder = responder
        self.tls = tls
        self.counts_tokens = True  # serves /v1/messages/count_tokens (False: a 404, as some servers)
        self.port = free_port()
        self.url = f"https://localhost:{self.port}" if tls else f"http://127.0.0.1:{self.port}"
        self.requests: list[Received] = []
        self._script: deque[Behaviour] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        # Set when a streaming response's client went away (the gateway cancelled the upstream).
        self.stream_cancelled = threading.Event()
        # Set when a request held by Hang saw its connection closed by the gateway.
        self.hang_cancelled = threading.Event()

    # -- control ------------------------------------------------------------------------------------

    def script(self, *behaviours: Behaviour) -> None:
        self._script.extend(behaviours)

    @property
    def last(self) -> Received:
        return self.requests[-1]

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake provider did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port, ssl_context=self.tls)
        await site.start()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    # -- handling -----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            body = {"_unparsed": raw.decode("utf-8", "replace")}
        peer = request.transport.get_extra_info("peername") if request.transport else None
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(
            Received(request.path, dict(request.query), headers, body, peer[1] if peer else 0)
        )
        path = request.path
        if path.endswith("/messages/count_tokens") and self.counts_tokens:
            # Anthropic's token counting; the fake's "tokenizer": one token per 4 bytes of messages.
            return web.json_response({"input_tokens": len(orjson.dumps(body.get("messages"))) // 4})
        if path.endswith("/messages"):
            kind = "anthropic"
        elif path.endswith("/responses"):
            kind = "responses"
        elif path.endswith("/chat/completions"):
            kind = "chat"
        elif path.endswith("/embeddings"):
            kind = "embeddings"
        else:
            return web.json_response({"error": {"message": f"unknown path {path}"}}, status=404)
        if self._script:
            behaviour = self._script.popleft()
        else:
            behaviour = self.responder(kind, body) if self.responder else Answer()
        model = str(body.get("model", "unknown"))
        if isinstance(behaviour, Fail):
            payload = behaviour.body if behaviour.body is not None else default_error(kind, behaviour.status)
            data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
            return web.Response(
                body=data, status=behaviour.status, headers=behaviour.headers, content_type="application/json"
            )
        if isinstance(behaviour, Hang):
            deadline = time.monotonic() + behaviour.seconds
            while time.monotonic() < deadline:
                if request.transport is None or request.transport.is_closing():
                    self.hang_cancelled.set()  # the gateway gave up on us (timeout or its client left)
                    return web.Response(status=499)
                await asyncio.sleep(0.01)
            return web.json_response(chat_completion(Answer(), model))
        if isinstance(behaviour, ErrorEvent):
            if kind == "anthropic":
                error = {"type": "error", "error": {"type": "overloaded_error", "message": behaviour.message}}
                event = sse(error, "error")
            else:
                event = sse({"error": {"message": behaviour.message, "type": "server_error", "code": None}})
            return web.Response(body=event, status=200, content_type="text/event-stream")
        if isinstance(behaviour, Raw):
            raw = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream"})
            await raw.prepare(request)
            for piece in behaviour.pieces:
                await raw.write(piece)
                await asyncio.sleep(behaviour.pause)
            await raw.write_eof()
            return raw
        if kind == "embeddings":
            return web.json_response(embeddings(body, model))
        answer = behaviour if isinstance(behaviour, Answer) else Answer()
        if not body.get("stream"):
            if kind == "anthropic":
                return web.json_response(anthropic_message(answer, model))
            if kind == "responses":
                return web.json_response(responses_object(answer, model))
            return web.json_response(chat_completion(answer, model))
        if kind == "anthropic":
            events = anthropic_stream(answer, model)
        elif kind == "responses":
            events = responses_stream(answer, model)
        else:
            options = body.get("stream_options")  # a fuzzed body may send anything here
            include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            events = chat_stream(answer, model, include_usage)
        response = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            for i, event in enumerate(events):
                if isinstance(behaviour, DropMidStream) and i == behaviour.after:
                    await asyncio.sleep(0.05)  # let the sent events reach the gateway first
                    assert request.transport is not None
                    request.transport.abort()  # cut the TCP connection: no final chunk
                    return response
                await response.write(event)
                if answer.delay:
                    await asyncio.sleep(answer.delay)
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            self.stream_cancelled.set()
            raise
        return response


def wait_until(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
