"""The API formats the gateway speaks: what clients send (`ClientFormat`) and what providers take.

A client speaks OpenAI Chat Completions (`openai_chat`), Anthropic Messages (`anthropic`) or OpenAI
Responses (`responses`); a provider speaks Chat Completions or Anthropic Messages
(`UpstreamFormat`). Every module that branches on a format takes these names.
"""

from __future__ import annotations

from typing import Literal

ClientFormat = Literal["openai_chat", "anthropic", "responses"]

CLIENT_FORMATS: tuple[ClientFormat, ...] = ("openai_chat", "anthropic", "responses")

UpstreamFormat = Literal["openai_chat", "anthropic"]
