"""CPU cost of stream translation: a realistic 200-event upstream stream through each translator.

    .venv/bin/python bench/wire_bench.py [--rounds 300]

Each upstream stream is a short text answer followed by one tool call whose arguments arrive in
pieces, ending with usage and the terminal event, as OpenAI Chat or Anthropic Messages SSE. The
events are decoded once up front, so the numbers are the translators' own cost (parse the upstream
event, build the client's events, encode them), in µs per stream and per event. The best of
several repeats is reported, which is the least disturbed by other work on the machine.

To compare with another version, run the same script with that version's sources first on the
path, alternating the two a few times:

    git archive <commit> src | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src .venv/bin/python bench/wire_bench.py
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from llmroute.wire import SSEDecoder, SSEEvent, StreamUsageReader, encode_event, translator_for

EVENTS = 200
TEXT_DELTAS = 150
ARG_DELTAS = EVENTS - TEXT_DELTAS - 6


def chat_stream() -> bytes:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}

    def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return encode_event({**base, "choices": [choice]})

    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": f"word{i} "}) for i in range(TEXT_DELTAS)]
    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    out.append(chunk({"tool_calls": [call]}))
    out += [
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": f'"k{i}": 1, '}}]})
        for i in range(ARG_DELTAS)
    ]
    out.append(chunk({}, "tool_calls"))
    usage = {"prompt_tokens": 1200, "completion_tokens": 180, "total_tokens": 1380}
    out.append(encode_event({**base, "choices": [], "usage": usage}))
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def anthropic_stream() -> bytes:
    message: dict[str, object] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 1200, "cache_read_input_tokens": 800, "output_tokens": 1},
    }
    out = [encode_event({"type": "message_start", "message": message}, "message_start")]
    start = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    out.append(encode_event(start, "content_block_start"))
    for i in range(TEXT_DELTAS):
        delta = {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": f"word{i} "},
        }
        out.append(encode_event(delta, "content_block_delta"))
    out.append(encode_event({"type": "content_block_stop", "index": 0}, "content_block_stop"))
    tool = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
    out.append(
        encode_event(
            {"type": "content_block_start", "index": 1, "content_block": tool}, "content_block_start"
        )
    )
    for i in range(ARG_DELTAS - 1):
        delta = {"type": "input_json_delta", "partial_json": f'"k{i}": 1, '}
        out.append(
            encode_event({"type": "content_block_delta", "index": 1, "delta": delta}, "content_block_delta")
        )
    out.append(encode_event({"type": "content_block_stop", "index": 1}, "content_block_stop"))
    stop = {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 180}}
    out.append(encode_event(stop, "message_delta"))
    out.append(encode_event({"type": "message_stop"}, "message_stop"))
    return b"".join(out)


def best_of(run: Callable[[], None], rounds: int, repeats: int = 5) -> float:
    """The fastest mean seconds per call over `repeats` timed batches of `rounds` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(rounds):
            run()
        best = min(best, (time.perf_counter() - start) / rounds)
    return best


def translate(client: str, upstream: str, events: list[SSEEvent]) -> Callable[[], None]:
    request = {"stream_options": {"include_usage": True}}

    def run() -> None:
        translator = translator_for(client, upstream, "m", request=request)  # type: ignore[arg-type]
        assert translator is not None
        for event in events:
            translator.feed(event)
        translator.finish()

    return run


def read_usage(fmt: str, events: list[SSEEvent]) -> Callable[[], None]:
    def run() -> None:
        reader = StreamUsageReader(fmt)  # type: ignore[arg-type]
        for event in events:
            reader.feed(event)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=300, help="streams per timed batch")
    args = parser.parse_args()
    chat = SSEDecoder().feed(chat_stream())
    anthropic = SSEDecoder().feed(anthropic_stream())
    cases: list[tuple[str, list[SSEEvent], Callable[[], None]]] = [
        ("chat -> anthropic", chat, translate("anthropic", "openai_chat", chat)),
        ("chat -> responses", chat, translate("responses", "openai_chat", chat)),
        ("anthropic -> chat", anthropic, translate("openai_chat", "anthropic", anthropic)),
        ("anthropic -> responses", anthropic, translate("responses", "anthropic", anthropic)),
        ("usage of piped chat", chat, read_usage("openai_chat", chat)),
        ("usage of piped anthropic", anthropic, read_usage("anthropic", anthropic)),
    ]
    print(f"{'stream':<26} {'events':>6} {'µs/stream':>10} {'µs/event':>9}")
    for name, events, run in cases:
        seconds = best_of(run, args.rounds)
        print(f"{name:<26} {len(events):>6} {seconds * 1e6:>10.1f} {seconds * 1e6 / len(events):>9.2f}")


if __name__ == "__main__":
    main()
