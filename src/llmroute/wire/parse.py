"""Client request bodies → the normalised conversation (`list[Message]`) the routers read.

`parse_conversation(fmt, body)` runs on every request, so it is one flat pass with no copying of
the body. It validates only what routing and safe forwarding need, and raises `WireError` (400)
with a one-line message naming the field for anything else:

- OpenAI Chat (`openai_chat`): `messages` is a non-empty array of objects whose `role` is a string;
  `content` is a string, an array of parts, or null.
- Anthropic (`anthropic`): `system` (string or text blocks) becomes a leading "system" message;
  `messages` roles are strings (user/assistant, and the `system` role Claude Code sends mid-conversation);
  `content` is a string or an array of blocks.
- OpenAI Responses (`responses`): `instructions` becomes a leading "system" message; `input` is a
  string (one user turn) or a non-empty array of items (messages, function calls, their outputs).

Roles and block types this module does not know are kept (a role) or skipped (a block), never
refused: a new API feature must reach a same-format provider (SPEC §11). Only user/assistant
turns steer routing (`conversation.routable`).

Normalisation rules (the routers rely on them):

- text parts are joined with "\\n"; images, audio, files and other non-text parts are dropped;
- system and developer prompts keep their role (routers ignore them);
- tool results (OpenAI `tool`/`function` messages, Anthropic `tool_result` blocks, Responses
  `function_call_output`) become role "tool" with their text; tool *calls* contribute no text,
  an assistant turn made only of tool calls becomes an empty "tool" message;
- reasoning/thinking content is dropped.
"""

from __future__ import annotations

from typing import Any

from llmroute.wire.conversation import Message
from llmroute.wire.errors import WireError
from llmroute.wire.formats import ClientFormat

# Part types whose `text` field is the words a person or model wrote.
_TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text"})


def parse_conversation(fmt: ClientFormat, body: Any) -> list[Message]:
    """Normalise a client request body of format `fmt`. Raises WireError on a malformed body."""
    if not isinstance(body, dict):
        raise WireError("request body must be a JSON object")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        # The proxy streams only for `true`; anything else must not reach a provider as sent.
        raise WireError("'stream' must be true or false")
    if fmt == "openai_chat":
        return _parse_chat(body)
    if fmt == "anthropic":
        return _parse_anthropic(body)
    if fmt == "responses":
        return _parse_responses(body)
    raise ValueError(f"unknown client format {fmt!r}")


def _messages_list(body: dict[str, Any]) -> list[Any]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise WireError("'messages' must be a non-empty array")
    return messages


# Field paths in error messages are templates ("messages[{}].content") formatted with the item's
# index only when an error is raised: building them for every message would cost more than parsing.


def _parts_text(parts: list[Any], where: str, i: int = 0) -> str:
    """Join the text of an array of content parts; non-text parts are skipped."""
    texts: list[str] = []
    for j, part in enumerate(parts):
        if not isinstance(part, dict):
            raise WireError(f"{where.format(i)}[{j}] must be an object")
        kind = part.get("type")
        if isinstance(kind, str) and kind in _TEXT_PART_TYPES:
            text = part.get("text")
            if not isinstance(text, str):
                raise WireError(f"{where.format(i)}[{j}].text must be a string")
            texts.append(text)
    return texts[0] if len(texts) == 1 else "\n".join(texts)


def _content_text(content: Any, where: str, i: int) -> str:
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        return _parts_text(content, where, i)
    raise WireError(f"{where.format(i)} must be a string or an array of parts")


def _parse_chat(body: dict[str, Any]) -> list[Message]:
    out: list[Message] = []
    for i, msg in enumerate(_messages_list(body)):
        if not isinstance(msg, dict):
            raise WireError(f"messages[{i}] must be an object")
        role = msg.get("role")
        if not isinstance(role, str):
            raise WireError(f"messages[{i}].role must be a string")
        text = _content_text(msg.get("content"), "messages[{}].content", i)
        if role == "function" or (role == "assistant" and not text and msg.get("tool_calls")):
            role = "tool"
        out.append(Message(role, text))
    return out


def _anthropic_system(system: Any) -> str:
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return _parts_text(system, "system")
    raise WireError("'system' must be a string or an array of text blocks")


def _tool_result_text(block: dict[str, Any], i: int, j: int) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        return _parts_text(content, f"messages[{i}].content[{j}].content")
    raise WireError(f"messages[{i}].content[{j}].content must be a string or an array of blocks")


def _parse_anthropic(body: dict[str, Any]) -> list[Message]:
    out: list[Message] = []
    system = body.get("system")
    if system is not None:
        out.append(Message("system", _anthropic_system(system)))
    for i, msg in enumerate(_messages_list(body)):
        if not isinstance(msg, dict):
            raise WireError(f"messages[{i}] must be an object")
        role = msg.get("role")
        if not isinstance(role, str):
            raise WireError(f"messages[{i}].role must be a string")
        content = msg.get("content")
        if isinstance(content, str):
            out.append(Message(role, content))
            continue
        if not isinstance(content, list):
            raise WireError(f"messages[{i}].content must be a string or an array of blocks")
        texts: list[str] = []
        saw_tool_use = saw_tool_result = False
        for j, block in enumerate(content):
            if not isinstance(block, dict):
                raise WireError(f"messages[{i}].content[{j}] must be an object")
            kind = block.get("type")
            if kind == "text":
                text = block.get("text")
                if not isinstance(text, str):
                    raise WireError(f"messages[{i}].content[{j}].text must be a string")
                texts.append(text)
            elif kind == "tool_result":
                saw_tool_result = True
                out.append(Message("tool", _tool_result_text(block, i, j)))
            elif kind == "tool_use":
                saw_tool_use = True
        if texts:
            out.append(Message(role, texts[0] if len(texts) == 1 else "\n".join(texts)))
        elif saw_tool_use:
            out.append(Message("tool", ""))
        elif not saw_tool_result:
            # A turn of only images (or thinking) still marks whose turn it was.
            out.append(Message(role, ""))
    return out


def _parse_responses(body: dict[str, Any]) -> list[Message]:
    out: list[Message] = []
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise WireError("'instructions' must be a string")
        out.append(Message("system", instructions))
    items = body.get("input")
    if isinstance(items, str):
        out.append(Message("user", items))
        return out
    if not isinstance(items, list) or not items:
        raise WireError("'input' must be a string or a non-empty array of items")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise WireError(f"input[{i}] must be an object")
        kind = item.get("type")
        if kind is not None and not isinstance(kind, str):
            raise WireError(f"input[{i}].type must be a string")
        if kind is None or kind == "message":
            role = item.get("role")
            if not isinstance(role, str):
                raise WireError(f"input[{i}].role must be a string")
            out.append(Message(role, _content_text(item.get("content"), "input[{}].content", i)))
        elif kind == "function_call_output" or kind.endswith("_call_output"):
            output = item.get("output")
            text = output if isinstance(output, str) else ""
            if isinstance(output, list):
                text = _parts_text(output, "input[{}].output", i)
            out.append(Message("tool", text))
        elif kind == "function_call" or kind.endswith("_call"):
            out.append(Message("tool", ""))
        # reasoning, item_reference and other items carry no routable text.
    return out
