"""What a translation leaves out, named so that every drop is deliberate, documented and counted.

A field, block type or role of the client's API with no counterpart in the provider's API is not
sent (a provider would refuse what it does not know); it is never a 400 either, because the target
could not have used it. `dropped(client, upstream, body)` lists them for one request, as short
labels from a fixed set (unknown names become "other", so the metric's cardinality stays flat
whatever clients send). docs/providers.md ("Coding agents") lists the same drops for users.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llmroute.wire.anthropic_chat import MAX_OPENAI_USER_LENGTH
from llmroute.wire.responses_chat import PASSTHROUGH_KEYS
from llmroute.wire.shapes import as_list

# Anthropic Messages → Chat Completions.
_ANTHROPIC_MAPPED = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "temperature",
        "top_p",
        "stream",
        "stop_sequences",
        "metadata",
        "tools",
        "tool_choice",
    }
)
_ANTHROPIC_KNOWN_DROPS = frozenset(
    {"thinking", "context_management", "output_config", "top_k", "service_tier", "container", "mcp_servers"}
)
_ANTHROPIC_ROLES_MAPPED = frozenset({"user", "assistant", "system"})
_ANTHROPIC_TOOLS_MAPPED = frozenset({None, "custom"})
_ANTHROPIC_BLOCKS_MAPPED = frozenset({"text", "image", "document", "tool_use", "tool_result"})
_ANTHROPIC_KNOWN_BLOCK_DROPS = frozenset(
    {
        "thinking",
        "redacted_thinking",
        "server_tool_use",
        "web_search_tool_result",
        "search_result",
        "container_upload",
    }
)

# Chat Completions → Anthropic Messages.
_CHAT_MAPPED = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stream",
        "stop",
        "user",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",  # json_schema is mapped; other types are a 400 (wire/anthropic_chat.py)
        "n",  # 1 is the default; more is a 400
    }
)
_CHAT_KNOWN_DROPS = frozenset(
    {
        "seed",
        "logprobs",
        "top_logprobs",
        "frequency_penalty",
        "presence_penalty",
        "logit_bias",
        "stream_options",
        "reasoning_effort",
        "modalities",
        "audio",
        "prediction",
        "store",
        "metadata",
        "service_tier",
        "web_search_options",
        "prompt_cache_key",
        "safety_identifier",
        "verbosity",
    }
)
_CHAT_ROLES_MAPPED = frozenset({"system", "developer", "user", "assistant", "tool", "function"})

# Responses → Chat Completions.
_RESPONSES_MAPPED = frozenset(
    {
        "model",
        "input",
        "instructions",
        "max_output_tokens",
        "tools",
        "tool_choice",
        "text",
        "reasoning",
        *PASSTHROUGH_KEYS,  # copied as they are by the translator
    }
)
_RESPONSES_KNOWN_DROPS = frozenset(
    {
        "include",
        "store",
        "truncation",
        "metadata",
        "background",
        "top_logprobs",
        "stream_options",
        "prompt",
        "client_metadata",  # Codex CLI's session and turn ids
    }
)
_RESPONSES_ITEMS_MAPPED = frozenset(
    {
        None,
        "message",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
    }
)
_RESPONSES_KNOWN_ITEM_DROPS = frozenset({"reasoning", "item_reference", "compaction"})
_RESPONSES_TOOLS_MAPPED = frozenset({"function", "custom"})


def _in(value: Any, names: frozenset[Any]) -> bool:
    # Client JSON can put anything where a name belongs (a list is not even hashable).
    return (value is None or isinstance(value, str)) and value in names


def _label(prefix: str, name: Any, known: frozenset[str]) -> str:
    return f"{prefix}{name}" if isinstance(name, str) and name in known else f"{prefix}other"


def _fields(body: dict[str, Any], mapped: frozenset[str], known: frozenset[str]) -> Iterable[str]:
    for key in body:
        if key not in mapped:
            yield _label("", key, known)


def _anthropic_to_chat(body: dict[str, Any]) -> list[str]:
    out = list(_fields(body, _ANTHROPIC_MAPPED, _ANTHROPIC_KNOWN_DROPS))
    metadata = body.get("metadata")
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if isinstance(user_id, str) and len(user_id) > MAX_OPENAI_USER_LENGTH:
        out.append("metadata.user_id")
    for tool in as_list(body.get("tools")):
        if isinstance(tool, dict) and not _in(tool.get("type"), _ANTHROPIC_TOOLS_MAPPED):
            out.append("server_tool")
    cached = False
    for block in as_list(body.get("system")):
        cached = cached or (isinstance(block, dict) and "cache_control" in block)
    for msg in as_list(body.get("messages")):
        if not isinstance(msg, dict):
            continue
        if not _in(msg.get("role"), _ANTHROPIC_ROLES_MAPPED):
            out.append("role")
        for block in as_list(msg.get("content")):
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if not _in(kind, _ANTHROPIC_BLOCKS_MAPPED):
                out.append(_label("block:", kind, _ANTHROPIC_KNOWN_BLOCK_DROPS))
            cached = cached or "cache_control" in block
    if cached:
        out.append("cache_control")  # OpenAI-compatible servers cache prompts on their own
    return out


def _chat_to_anthropic(body: dict[str, Any]) -> list[str]:
    out = list(_fields(body, _CHAT_MAPPED, _CHAT_KNOWN_DROPS))
    for msg in as_list(body.get("messages")):
        if not isinstance(msg, dict):
            continue
        if not _in(msg.get("role"), _CHAT_ROLES_MAPPED):
            out.append("role")
        for part in as_list(msg.get("content")):
            if isinstance(part, dict) and part.get("type") == "input_audio":
                out.append("part:input_audio")
    return out


def _responses_to_chat(body: dict[str, Any]) -> list[str]:
    out = list(_fields(body, _RESPONSES_MAPPED, _RESPONSES_KNOWN_DROPS))
    for item in as_list(body.get("input")):
        if isinstance(item, dict) and not _in(item.get("type"), _RESPONSES_ITEMS_MAPPED):
            out.append(_label("item:", item.get("type"), _RESPONSES_KNOWN_ITEM_DROPS))
    for tool in as_list(body.get("tools")):
        if isinstance(tool, dict) and not _in(tool.get("type"), _RESPONSES_TOOLS_MAPPED):
            out.append("builtin_tool")
    return out


def dropped(client: str, upstream: str, body: dict[str, Any]) -> list[str]:
    """Labels of what translating `body` (the client's format) for an `upstream` provider leaves out."""
    if client == "anthropic" and upstream == "openai_chat":
        return _anthropic_to_chat(body)
    if client == "openai_chat" and upstream == "anthropic":
        return _chat_to_anthropic(body)
    if client == "responses" and upstream == "openai_chat":
        return _responses_to_chat(body)
    if client == "responses" and upstream == "anthropic":
        # Through Chat Completions: what Responses → Chat drops, then what Chat → Anthropic drops.
        from llmroute.wire.responses_chat import responses_request_to_chat

        return _responses_to_chat(body) + _chat_to_anthropic(responses_request_to_chat(body))
    return []
