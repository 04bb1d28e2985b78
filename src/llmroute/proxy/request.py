"""`ClientRequest`: one client request as the gateway understood it, handed from step to step.

The endpoint builds it once (server/endpoints.py: read → screen → parse → decide); governance
admits it, the proxy forwards it. It replaces the parameter lists those steps used to pass along
(format, body, headers, decision, key, trace), and its `record` is where what the request did is
noted once: the attempts, the usage and the model that answered (observability/record.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmroute.governance.schema import GatewayKey
from llmroute.observability.record import RequestRecord
from llmroute.routing.decision import Decision
from llmroute.wire import ClientFormat


@dataclass(slots=True)
class ClientRequest:
    fmt: ClientFormat  # the API the client speaks (and is answered in)
    body: dict[str, Any]  # as screened by the request guardrails; never modified by forwarding
    headers: Mapping[str, str]  # the client's (case-insensitive look-ups)
    decision: Decision  # the candidates to try, in order (narrowed by keys and rate limits)
    key: GatewayKey | None  # the caller's gateway key (None when auth is off)
    record: RequestRecord  # this request's trace ids, attempts, usage and serving model

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True

    @property
    def tenant(self) -> str | None:
        """The name of the caller's gateway key, which scopes its session pins."""
        return self.key.name if self.key is not None else None
