"""SSEDecoder: events split anywhere, CRLF/CR line ends, comments, multi-line data; encode_event."""

from __future__ import annotations

import pytest

from llmroute.wire import DONE, SSEDecoder, SSEEvent, encode_event

STREAM = (
    b": keep-alive comment\n"
    b"event: message_start\n"
    b'data: {"type":"message_start"}\n'
    b"\n"
    b"data: line one\n"
    b"data: line two\n"
    b"\n"
    b"id: 7\n"
    b"event: delta\n"
    b'data: {"text":"caf\xc3\xa9 \xe2\x98\x95"}\n'
    b"retry: 1000\n"
    b"\n"
    b"event: only-a-name\n"
    b"\n"
    b"data: [DONE]\n"
    b"\n"
)

EXPECTED = [
    SSEEvent("message_start", '{"type":"message_start"}'),
    SSEEvent(None, "line one\nline two"),
    SSEEvent("delta", '{"text":"café ☕"}', "7"),
    SSEEvent(None, "[DONE]", "7"),  # the last event id persists, as in the WHATWG rules
]


def decode(chunks: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.flush())
    return events


def test_whole_stream() -> None:
    assert decode([STREAM]) == EXPECTED


def test_every_byte_boundary() -> None:
    """Split into two chunks at every possible position, and one byte at a time."""
    for cut in range(len(STREAM) + 1):
        assert decode([STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut
    assert decode([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"])
def test_crlf_and_cr_line_ends(newline: bytes) -> None:
    stream = STREAM.replace(b"\n", newline)
    assert decode([stream]) == EXPECTED
    for cut in range(len(stream) + 1):
        assert decode([stream[:cut], stream[cut:]]) == EXPECTED, cut


def test_events_come_out_as_soon_as_complete() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\n") == [SSEEvent(None, "a")]
    assert decoder.feed(b"data: b\r\n\r\n") == [SSEEvent(None, "b")]
    # A CRLF split after the CR: the event is complete once we know the CR ended a line.
    assert decoder.feed(b"data: c\r\n\r") == []
    assert decoder.feed(b"\ndata: d\n\n") == [SSEEvent(None, "c"), SSEEvent(None, "d")]


def test_field_parsing_details() -> None:
    assert decode([b"data:no-space\n\n"]) == [SSEEvent(None, "no-space")]
    assert decode([b"data:  two spaces\n\n"]) == [SSEEvent(None, " two spaces")]
    assert decode([b"data\n\n"]) == [SSEEvent(None, "")]
    assert decode([b"data\ndata\n\n"]) == [SSEEvent(None, "\n")]
    assert decode([b"unknown: x\ndata: y\n\n"]) == [SSEEvent(None, "y")]
    assert decode([b":comment only\n\n"]) == []


def test_flush_returns_an_unterminated_event() -> None:
    assert decode([b'event: message_stop\ndata: {"type":"message_stop"}']) == [
        SSEEvent("message_stop", '{"type":"message_stop"}')
    ]
    assert decode([b"data: x\r"]) == [SSEEvent(None, "x")]
    assert decode([b""]) == []


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode([b"data: \xff\xfe\n\n"]) == [SSEEvent(None, "\ufffd\ufffd")]


def test_encode_event() -> None:
    assert encode_event({"a": 1}) == b'data: {"a":1}\n\n'
    assert encode_event({"type": "ping"}, "ping") == b'event: ping\ndata: {"type":"ping"}\n\n'
    assert DONE == b"data: [DONE]\n\n"
    assert decode([encode_event({"t": "x\ny"}, "e")]) == [SSEEvent("e", '{"t":"x\\ny"}')]
    assert decode([encode_event({"t": 1}, "e")])[0].json() == {"t": 1}
