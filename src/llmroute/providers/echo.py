"""The built-in `echo` provider: answers in-process, no network, no key.

It speaks OpenAI Chat Completions (the proxy translates for Anthropic and Responses clients),
replying "echo: <last user message>" with usage counted in words, streaming or not. It lets
`make run` show routing end to end on a laptop with no keys, and gives tests a provider that
needs no server.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson

from llmroute.wire.sse import DONE, encode_event


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def echo_reply(body: dict[str, Any]) -> tuple[str, int]:
    """The reply text and the prompt size (in words) for a Chat Completions request body."""
    raw = body.get("messages")
    messages: list[Any] = raw if isinstance(raw, list) else []
    last = ""
    prompt_words = 0
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        text = _text(msg.get("content"))
        prompt_words += len(text.split())
        if msg.get("role") == "user":
            last = text
    return f"echo: {last}", prompt_words


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def echo_completion(body: dict[str, Any], model: str) -> bytes:
    """A non-streaming `chat.completion` (JSON bytes)."""
    reply, prompt = echo_reply(body)
    return orjson.dumps(
        {
            "id": "chatcmpl-echo" + uuid.uuid4().hex[:20],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(prompt, len(reply.split())),
        }
    )


def echo_stream(body: dict[str, Any], model: str) -> Iterator[bytes]:
    """A `chat.completion.chunk` SSE stream, one word per chunk, ending with `data: [DONE]`."""
    reply, prompt = echo_reply(body)
    base = {
        "id": "chatcmpl-echo" + uuid.uuid4().hex[:20],
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return encode_event({**base, "choices": [choice]})

    yield chunk({"role": "assistant", "content": ""})
    words = reply.split(" ")
    for i, word in enumerate(words):
        yield chunk({"content": word if i == 0 else " " + word})
    yield chunk({}, "stop")
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        yield encode_event({**base, "choices": [], "usage": _usage(prompt, len(reply.split()))})
    yield DONE
