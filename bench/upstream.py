"""A fast fake OpenAI upstream for the benchmarks: keep-alive, fixed reply, streaming variant.

It must cost far less than the gateways it measures, so it is a bare asyncio protocol on uvloop
with httptools parsing (no framework): `POST /v1/chat/completions` answers a fixed
`chat.completion` JSON, or, when the body asks for `"stream": true`, a chunked SSE stream of
`STREAM_CHUNKS` content events, a usage event and `data: [DONE]`, each written as soon as the
previous one (no artificial delay: the bench measures what the gateway adds, not a model).
Any other path or method is a 404. Loopback only.

    .venv/bin/python bench/upstream.py --port 18000
"""

from __future__ import annotations

import argparse
import asyncio

import httptools
import orjson

STREAM_CHUNKS = 8

COMPLETION = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "bench",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello from the fake upstream. " * 4},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 21, "completion_tokens": 28, "total_tokens": 49},
    }
)


def _chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
    event = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if delta else [],
    }
    if usage is not None:
        event["usage"] = usage
    return b"data: " + orjson.dumps(event) + b"\n\n"


STREAM_EVENTS = (
    [_chunk({"role": "assistant", "content": ""})]
    + [_chunk({"content": f"token{i} "}) for i in range(STREAM_CHUNKS)]
    + [_chunk({}, usage={"prompt_tokens": 21, "completion_tokens": STREAM_CHUNKS, "total_tokens": 29})]
    + [b"data: [DONE]\n\n"]
)
# The final choice-less usage chunk above has no finish_reason; put one on the last content chunk.
STREAM_EVENTS[STREAM_CHUNKS] = _chunk({"content": f"token{STREAM_CHUNKS - 1} "}, finish="stop")

JSON_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(
    COMPLETION
)
JSON_REPLY = JSON_HEAD + COMPLETION
SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


def chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class UpstreamProtocol(asyncio.Protocol):
    """One keep-alive connection: parse requests with httptools, answer each as soon as its body ends."""

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        transport = self.transport
        assert transport is not None
        if self.parser.get_method() != b"POST" or not self.url.endswith(b"/chat/completions"):
            transport.write(NOT_FOUND)
            return
        body = b"".join(self.body)
        # A cheap test that is right for every body the bench sends (orjson would cost more than the reply).
        if b'"stream":true' in body or b'"stream": true' in body:
            transport.write(SSE_HEAD + chunked(STREAM_EVENTS[0]))
            for event in STREAM_EVENTS[1:]:
                transport.write(chunked(event))
            transport.write(b"0\r\n\r\n")
        else:
            transport.write(JSON_REPLY)


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(UpstreamProtocol, host, port, backlog=4096, reuse_address=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18000)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(serve(args.host, args.port))
    except ImportError:
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
