"""An upstream's answer, whoever produced it: an HTTP provider (providers.http1) or the in-process echo.

The proxy only needs the status, a header or two, the whole body or its chunks as they arrive,
and a way to let go of the connection. Transport failures surface as `UpstreamError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from llmroute.providers.client import read_body
from llmroute.providers.echo import echo_completion, echo_stream
from llmroute.providers.http1 import Http1Response


class Reply(Protocol):
    status: int

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def read(self) -> bytes: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    def close(self) -> None: ...


class HttpReply:
    __slots__ = ("_response", "status")

    def __init__(self, response: Http1Response) -> None:
        self._response = response
        self.status = response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    async def read(self) -> bytes:
        return await read_body(self._response)

    async def chunks(self) -> AsyncIterator[bytes]:
        """Bytes as they arrive (no re-chunking: whatever the socket gave us)."""
        response = self._response
        while True:
            chunk = await response.read_chunk()  # UpstreamError when the connection breaks
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        # A finished response returns its connection to the pool; an unfinished one closes it.
        self._response.close()


class EchoReply:
    """The echo provider's answer to one Chat Completions request body."""

    __slots__ = ("_body", "_model", "status")

    headers: Mapping[str, str] = {"content-type": "application/json"}

    def __init__(self, body: dict[str, Any], model: str) -> None:
        self._body = body
        self._model = model
        self.status = 200

    async def read(self) -> bytes:
        return echo_completion(self._body, self._model)

    async def chunks(self) -> AsyncIterator[bytes]:
        for chunk in echo_stream(self._body, self._model):
            yield chunk

    def close(self) -> None:
        pass
