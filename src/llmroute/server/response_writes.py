"""One socket write per response instead of two: the status line and headers wait for the body.

uvicorn writes a response's status line and headers as soon as the app sends
`http.response.start`, then the body with `http.response.body`: two `send` system calls and two
TCP segments for every JSON answer, and the client wakes up twice. `ResponseWrites` stands in
for the connection's transport in uvicorn's request cycle (`GuardedHttpToolsProtocol` installs
it): it holds the header block back and sends it in the same write as the first body bytes. So
that headers are never held while a stream waits for its first chunk, a held block is also
flushed at the end of the current event-loop iteration.

Measured with `make bench`: see docs/performance.md.
"""

from __future__ import annotations

import asyncio
from typing import Any

CONTINUE = b"HTTP/1.1 100 Continue"


class ResponseWrites:
    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif data.startswith(b"HTTP/") and not data.startswith(CONTINUE):
            # The status line and headers (always the cycle's first write, bar a 100 Continue).
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:  # anything else uvicorn may ask of its transport
        return getattr(self._transport, name)
