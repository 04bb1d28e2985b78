"""The normalised conversation every router sees, whatever API the client spoke.

Only text matters for routing: images, audio and other parts are dropped, tool calls and tool
results are kept as roles so routers can skip them, and system/developer prompts are kept with
their role so routers can ignore them (seed 004: routing never depends on the system prompt).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # "user" | "assistant" | "system" | "developer" | "tool"
    text: str


Conversation = list[Message]

# Roles that carry the user's intent; system/developer/tool messages never steer routing.
ROUTABLE_ROLES = frozenset({"user", "assistant"})


def routable(conversation: list[Message]) -> list[Message]:
    """The user/assistant turns with some text, oldest first."""
    return [m for m in conversation if m.role in ROUTABLE_ROLES and m.text.strip()]
