"""Sessions of coding agents, found in what they already send (SPEC §11).

An agent loop is many requests: the user's turn, then tool results and continuations until the
answer. Routing each of them afresh could switch models mid-task, so the session id the agent
sends pins the route:

- Claude Code: the `X-Claude-Code-Session-Id` header, and `metadata.user_id`, a JSON string that
  carries `session_id` (older releases send only that).
- Codex CLI: the `session-id` header (older releases: `session_id`).

The client's own `X-Session-Id` / `X-Model-Affinity` wins (it is handled by routing/decision.py).
With `route_on_user_only` (the default) a new user turn is routed afresh and re-pins the session,
while tool results and assistant continuations keep the session's model, as Plano's option of the
same name does. Pins are kept per requested model: an agent's side requests for another model
(Claude Code's small-model calls) neither take nor replace the main loop's pin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from llmroute.config.models import AgentSessions
from llmroute.wire import ClientFormat

# Headers agents put their session id in, first match wins.
AGENT_SESSION_HEADERS = ("x-claude-code-session-id", "session-id", "session_id")
MAX_AGENT_SESSION_ID_LENGTH = 256


@dataclass(frozen=True, slots=True)
class AgentSession:
    id: str  # what the agent sent
    key: str  # the pin's key: the id and the requested model
    reroute: bool  # this request may re-route (and re-pin) the session: a user turn


def _clean(value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        if value and len(value) <= MAX_AGENT_SESSION_ID_LENGTH:
            return value
    return None


def _from_user_id(body: dict[str, Any]) -> str | None:
    """Claude Code's `metadata.user_id`: a JSON document with a `session_id` (or a plain id: none)."""
    metadata = body.get("metadata")
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if not isinstance(user_id, str) or not user_id.startswith("{"):
        return None
    try:
        parsed = orjson.loads(user_id)
    except orjson.JSONDecodeError:
        return None
    return _clean(parsed.get("session_id")) if isinstance(parsed, dict) else None


def agent_session_id(headers: Any, body: dict[str, Any]) -> str | None:
    """The session id an agent sent, if any."""
    for name in AGENT_SESSION_HEADERS:
        found = _clean(headers.get(name))
        if found is not None:
            return found
    return _from_user_id(body)


def is_user_turn(fmt: ClientFormat, body: dict[str, Any]) -> bool:
    """Whether the request's latest turn is the user's own words (not a tool result, not a continuation)."""
    if fmt == "responses":
        items = body.get("input")
        if isinstance(items, str):
            return True
        last = items[-1] if isinstance(items, list) and items else None
        if not isinstance(last, dict):
            return False
        kind = last.get("type")
        return (kind is None or kind == "message") and last.get("role") == "user"
    messages = body.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else None
    if not isinstance(last, dict):
        return False
    if fmt == "openai_chat":
        return last.get("role") == "user"
    if last.get("role") != "user":
        return False
    content = last.get("content")
    # Anthropic tool results come back in a user message (Claude Code adds reminders as text beside them).
    return not (
        isinstance(content, list)
        and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
    )


def agent_session(
    fmt: ClientFormat, headers: Any, body: dict[str, Any], settings: AgentSessions
) -> AgentSession | None:
    """The request's agent session, or None (not an agent, or agent sessions are off)."""
    if not settings.enabled:
        return None
    session_id = agent_session_id(headers, body)
    if session_id is None:
        return None
    model = body.get("model")
    key = f"agent:{session_id}:{model if isinstance(model, str) else ''}"
    reroute = settings.route_on_user_only and is_user_turn(fmt, body)
    return AgentSession(session_id, key, reroute)
