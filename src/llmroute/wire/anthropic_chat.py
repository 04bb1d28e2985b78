"""Anthropic Messages ↔ OpenAI Chat Completions: requests and non-streaming responses.

Used when the client speaks one API and the chosen provider the other. The caller sets the
upstream `model` itself after translation (the body's `model` is carried over unchanged).

Mapping (request):

| Anthropic                                   | OpenAI Chat                                          |
|---------------------------------------------|------------------------------------------------------|
| `system` (string or text blocks)            | leading `system` message (system/developer messages anywhere are merged into `system`) |
| `text` block                                | text content (a string when all parts are text)      |
| `image` block, base64 / url source          | `image_url` part, `data:` URL / http URL             |
| `document` block, base64 PDF                | `file` part with `file_data`                         |
| assistant `tool_use` block (input object)   | assistant `tool_calls[]` (arguments JSON string)     |
| user `tool_result` block                    | `tool` message with `tool_call_id`                   |
| `tools[{name, description, input_schema}]`  | `tools[{type: function, function: {name, description, parameters}}]` |
| `tool_choice` auto / any / tool / none      | "auto" / "required" / {type: function} / "none"      |
| `disable_parallel_tool_use`                 | `parallel_tool_calls: false`                         |
| `max_tokens`                                | `max_tokens` or `max_completion_tokens` (caller picks)|
| `stop_sequences`                            | `stop`                                               |
| `metadata.user_id`                          | `user`                                               |

| `system`-role message inside `messages` (Claude Code) | `system` message in place                     |
| `cache_control` on parts, messages, tools (Chat → Anthropic) | `cache_control` on the matching block/tool |
| `response_format: json_schema` (Chat → Anthropic)  | `output_config.format` (structured outputs)           |
| `thinking` blocks in an answer (Anthropic → Chat)   | `reasoning_content` (DeepSeek/vLLM's field), streamed too |

Anthropic requires `max_tokens`; when an OpenAI client sends neither `max_tokens` nor
`max_completion_tokens`, `DEFAULT_ANTHROPIC_MAX_TOKENS` is used. OpenAI temperatures above 1 are
clamped to Anthropic's maximum of 1. Fields, blocks and roles with no counterpart (top_k, thinking,
seed, logprobs, penalties, thinking blocks...) are dropped rather than forwarded to a provider that
would reject them; wire/drops.py names each one and the proxy counts them. Anthropic server tools
(web search, bash...) have no Chat equivalent and are dropped. `n > 1` and a `response_format`
other than text/json_schema cannot be honoured by an Anthropic provider: a 400 naming the field.

Responses: stop reasons end_turn/stop_sequence/pause_turn ↔ stop, max_tokens ↔ length,
tool_use ↔ tool_calls (also for a Chat "stop" that carries tool calls, as Ollama sends),
refusal ↔ content_filter; usage input/output_tokens ↔ prompt/completion_tokens
(Anthropic cache read/creation tokens count as prompt tokens, cache reads as `cached_tokens`).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from llmroute.wire.errors import WireError
from llmroute.wire.shapes import as_dict, as_list, as_str, first_choice
from llmroute.wire.usage import anthropic_usage, chat_usage, usage_from_anthropic, usage_from_chat

DEFAULT_ANTHROPIC_MAX_TOKENS = 4096
MAX_OPENAI_USER_LENGTH = 64

ANTHROPIC_TO_CHAT_STOP: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

CHAT_TO_ANTHROPIC_STOP: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def chat_stop_reason(anthropic_reason: Any) -> str | None:
    if not isinstance(anthropic_reason, str):
        return None
    return ANTHROPIC_TO_CHAT_STOP.get(anthropic_reason, "stop")


def anthropic_stop_reason(chat_reason: Any) -> str:
    if not isinstance(chat_reason, str):
        return "end_turn"
    return CHAT_TO_ANTHROPIC_STOP.get(chat_reason, "end_turn")


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def _json_args(arguments: Any, where: str) -> dict[str, Any]:
    """An OpenAI `arguments` JSON string as the object Anthropic's `input` needs."""
    if isinstance(arguments, dict):
        return arguments
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}
    if not isinstance(arguments, str):
        raise WireError(f"{where} must be a JSON string")
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        raise WireError(f"{where} is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise WireError(f"{where} must encode a JSON object")
    return parsed


def _lenient_args(arguments: Any) -> dict[str, Any]:
    """A model's tool arguments as an object, for responses: never fails (bad JSON is kept raw)."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"_raw_arguments": arguments}
    return parsed if isinstance(parsed, dict) else {"_value": parsed}


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _text_of_blocks(blocks: Any) -> str:
    if isinstance(blocks, str):
        return blocks
    if not isinstance(blocks, list):
        return ""
    return "\n".join(b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str))


# ---------------------------------------------------------------------------------------------
# images


def image_block_to_part(block: dict[str, Any]) -> dict[str, Any] | None:
    """Anthropic `image` block → OpenAI `image_url` part (None when the source is unusable)."""
    source = block.get("source")
    if not isinstance(source, dict):
        return None
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif source.get("type") == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        return None
    return {"type": "image_url", "image_url": {"url": url}}


def image_url_to_block(url: str) -> dict[str, Any]:
    """An OpenAI image URL (`data:` or http) → Anthropic `image` block."""
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header[5:].split(";", 1)[0] or "image/png"
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


# ---------------------------------------------------------------------------------------------
# Anthropic request → Chat request


def _anthropic_tools_to_chat(tools: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
            continue  # server tools (web_search_..., bash_...) have no Chat equivalent
        function: dict[str, Any] = {"name": tool.get("name")}
        if tool.get("description") is not None:
            function["description"] = tool["description"]
        function["parameters"] = tool.get("input_schema") or {"type": "object", "properties": {}}
        if tool.get("strict") is not None:
            function["strict"] = tool["strict"]
        out.append({"type": "function", "function": function})
    return out


def _anthropic_tool_choice_to_chat(choice: Any) -> Any:
    if not isinstance(choice, dict):
        return None
    kind = choice.get("type")
    if kind == "auto":
        return "auto"
    if kind == "any":
        return "required"
    if kind == "none":
        return "none"
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return None


def _anthropic_user_to_chat(content: list[Any]) -> list[dict[str, Any]]:
    """One Anthropic user turn → tool messages (for tool_result blocks) then one user message."""
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": as_str(block.get("text"))})
        elif kind == "image":
            part = image_block_to_part(block)
            if part is not None:
                parts.append(part)
        elif kind == "document":
            source = block.get("source")
            if isinstance(source, dict) and source.get("type") == "base64":
                media = source.get("media_type", "application/pdf")
                file: dict[str, Any] = {"file_data": f"data:{media};base64,{source.get('data', '')}"}
                if block.get("title"):
                    file["filename"] = block["title"]
                parts.append({"type": "file", "file": file})
            elif isinstance(source, dict) and source.get("type") == "text":
                parts.append({"type": "text", "text": source.get("data", "")})
        elif kind == "tool_result":
            text = _text_of_blocks(block.get("content"))
            if block.get("is_error"):
                text = f"Error: {text}" if text else "Error"
            out.append({"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text})
    if parts:
        out.append({"role": "user", "content": _chat_content(parts)})
    return out


def _chat_content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Text-only content as a plain string: every OpenAI-compatible server accepts that."""
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _texts_and_tool_calls(blocks: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The text pieces and the OpenAI `tool_calls` of Anthropic content blocks (others are dropped)."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(as_str(block.get("text")))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": _dumps(block.get("input") or {})},
                }
            )
    return texts, calls


def _anthropic_assistant_to_chat(content: list[Any]) -> dict[str, Any]:
    texts, calls = _texts_and_tool_calls(content)
    msg: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        msg["tool_calls"] = calls
    return msg


def anthropic_request_to_chat(
    body: dict[str, Any], *, max_tokens_field: str = "max_tokens"
) -> dict[str, Any]:
    """An Anthropic Messages request → an OpenAI Chat Completions request.

    `max_tokens_field` is the name the upstream wants: "max_tokens" (most OpenAI-compatible
    servers) or "max_completion_tokens" (OpenAI's reasoning models require it).
    """
    out: dict[str, Any] = {}
    if "model" in body:
        out["model"] = body["model"]
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _text_of_blocks(system)})
    for msg in as_list(body.get("messages")):
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        content = msg.get("content")
        if role == "system":
            # Claude Code's mid-conversation system messages: Chat takes a system message anywhere.
            text = _text_of_blocks(content)
            if text:
                messages.append({"role": "system", "content": text})
        elif role not in ("user", "assistant"):
            continue  # a role Chat has no counterpart for (listed by wire/drops.py)
        elif isinstance(content, str):
            messages.append({"role": role, "content": content})
        elif role == "assistant":
            messages.append(_anthropic_assistant_to_chat(as_list(content)))
        else:
            messages.extend(_anthropic_user_to_chat(as_list(content)))
    out["messages"] = messages

    if body.get("max_tokens") is not None:
        out[max_tokens_field] = body["max_tokens"]
    for key in ("temperature", "top_p", "stream"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stream"):
        out["stream_options"] = {"include_usage": True}  # so the translated stream can report usage
    if body.get("stop_sequences"):
        out["stop"] = body["stop_sequences"]
    metadata = body.get("metadata")
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if isinstance(user_id, str) and len(user_id) <= MAX_OPENAI_USER_LENGTH:
        # Claude Code's user_id is a long JSON document: OpenAI refuses a `user` over 64 characters.
        out["user"] = user_id
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        chat_tools = _anthropic_tools_to_chat(tools)
        if chat_tools:
            out["tools"] = chat_tools
    choice = body.get("tool_choice")
    if "tools" in out and choice is not None:
        mapped = _anthropic_tool_choice_to_chat(choice)
        if mapped is not None:
            out["tool_choice"] = mapped
        if isinstance(choice, dict) and choice.get("disable_parallel_tool_use"):
            out["parallel_tool_calls"] = False
    return out


# ---------------------------------------------------------------------------------------------
# Chat request → Anthropic request


def _chat_parts_to_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if content is None:
        return []
    if not isinstance(content, list):
        raise WireError(f"{where} must be a string or an array of parts")
    blocks: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        count = len(blocks)
        if kind == "text":
            blocks.append({"type": "text", "text": as_str(part.get("text"))})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if isinstance(url, str) and url:
                blocks.append(image_url_to_block(url))
        elif kind == "file":
            file = part.get("file")
            data = file.get("file_data") if isinstance(file, dict) else None
            if isinstance(data, str) and data.startswith("data:"):
                header, _, payload = data.partition(",")
                media = header[5:].split(";", 1)[0] or "application/pdf"
                blocks.append(
                    {"type": "document", "source": {"type": "base64", "media_type": media, "data": payload}}
                )
        # input_audio and other parts have no Anthropic equivalent.
        if len(blocks) > count and isinstance(part.get("cache_control"), dict):
            # Prompt caching breakpoints (LiteLLM's convention for OpenAI-format clients).
            blocks[-1]["cache_control"] = part["cache_control"]
    return blocks


def _chat_tools_to_anthropic(tools: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type") != "function":
            continue
        function = tool.get("function")
        if not isinstance(function, dict):
            continue
        converted: dict[str, Any] = {"name": function.get("name")}
        if function.get("description") is not None:
            converted["description"] = function["description"]
        converted["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
        if isinstance(tool.get("cache_control"), dict):
            converted["cache_control"] = tool["cache_control"]
        out.append(converted)
    return out


def _message_cache_control(msg: dict[str, Any], blocks: list[dict[str, Any]]) -> None:
    """A `cache_control` on a whole OpenAI message marks its last block (Anthropic's breakpoint)."""
    if blocks and isinstance(msg.get("cache_control"), dict):
        blocks[-1]["cache_control"] = msg["cache_control"]


def _refuse_unsupported_options(body: dict[str, Any]) -> None:
    """Options an Anthropic-format provider cannot honour are a 400 naming the field, never dropped
    silently: the client would get something other than what it asked for."""
    n = body.get("n")
    if n is not None and n != 1:
        raise WireError(
            "'n' greater than 1 is not supported by Anthropic-format providers: send n separate requests"
        )
    fmt = body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if fmt is not None and kind not in ("text", "json_schema"):
        raise WireError(
            f"'response_format' of type {kind!r} is not supported by Anthropic-format providers: "
            "use type json_schema with a schema"
        )
    if kind == "json_schema":
        spec = fmt.get("json_schema") if isinstance(fmt, dict) else None
        if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
            raise WireError("'response_format.json_schema.schema' must be an object")


def _response_format_to_anthropic(fmt: Any) -> dict[str, Any] | None:
    """OpenAI `response_format: json_schema` → Anthropic structured outputs (`output_config.format`)."""
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return {"format": {"type": "json_schema", "schema": fmt["json_schema"]["schema"]}}
    return None


def _chat_tool_choice_to_anthropic(choice: Any) -> dict[str, Any] | None:
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict):
        function = choice.get("function")
        if isinstance(function, dict) and function.get("name"):
            return {"type": "tool", "name": function["name"]}
    return None


def chat_request_to_anthropic(
    body: dict[str, Any], *, default_max_tokens: int = DEFAULT_ANTHROPIC_MAX_TOKENS
) -> dict[str, Any]:
    """An OpenAI Chat Completions request → an Anthropic Messages request.

    Raises WireError for tool-call arguments that are not a JSON object (Anthropic's `input`
    must be one).
    """
    _refuse_unsupported_options(body)
    out: dict[str, Any] = {}
    if "model" in body:
        out["model"] = body["model"]
    system_blocks: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        # Anthropic wants alternating turns: consecutive same-role messages are merged.
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})

    for i, msg in enumerate(as_list(body.get("messages"))):
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        content = msg.get("content")
        where = f"messages[{i}].content"
        if role in ("system", "developer"):
            blocks = [b for b in _chat_parts_to_blocks(content, where) if b["type"] == "text" and b["text"]]
            _message_cache_control(msg, blocks)
            system_blocks.extend(blocks)
        elif role == "user":
            blocks = _chat_parts_to_blocks(content, where)
            _message_cache_control(msg, blocks)
            if blocks:
                add("user", blocks)
        elif role == "assistant":
            blocks = _chat_parts_to_blocks(content, where)
            if isinstance(msg.get("refusal"), str) and not blocks:
                blocks = [{"type": "text", "text": msg["refusal"]}]
            for j, call in enumerate(as_list(msg.get("tool_calls"))):
                if not isinstance(call, dict):
                    continue
                function = as_dict(call.get("function"))
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.get("id") or new_id("toolu_"),
                        "name": function.get("name"),
                        "input": _json_args(
                            function.get("arguments"), f"messages[{i}].tool_calls[{j}].function.arguments"
                        ),
                    }
                )
            _message_cache_control(msg, blocks)
            if blocks:
                add("assistant", blocks)
        elif role in ("tool", "function"):
            text = content if isinstance(content, str) else _text_of_blocks(content)
            tool_id = msg.get("tool_call_id") if role == "tool" else msg.get("name")
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_id, "content": text}
            _message_cache_control(msg, [result])
            add("user", [result])
    if any("cache_control" in b for b in system_blocks):
        out["system"] = system_blocks  # blocks keep their cache breakpoints
    elif system_blocks:
        out["system"] = "\n\n".join(b["text"] for b in system_blocks)
    out["messages"] = messages

    max_tokens = body.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_tokens")
    out["max_tokens"] = max_tokens if max_tokens is not None else default_max_tokens
    temperature = body.get("temperature")
    if isinstance(temperature, int | float):
        out["temperature"] = min(float(temperature), 1.0)
    for key in ("top_p", "stream"):
        if body.get(key) is not None:
            out[key] = body[key]
    stop = body.get("stop")
    if isinstance(stop, str):
        out["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        out["stop_sequences"] = stop
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    output_config = _response_format_to_anthropic(body.get("response_format"))
    if output_config is not None:
        out["output_config"] = output_config
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        converted = _chat_tools_to_anthropic(tools)
        if converted:
            out["tools"] = converted
    if "tools" in out:
        choice = _chat_tool_choice_to_anthropic(body.get("tool_choice"))
        if body.get("parallel_tool_calls") is False:
            choice = choice or {"type": "auto"}
            if choice["type"] != "none":
                choice["disable_parallel_tool_use"] = True
        if choice is not None:
            out["tool_choice"] = choice
    return out


# ---------------------------------------------------------------------------------------------
# responses


def chat_response_to_anthropic(resp: dict[str, Any], model: str) -> dict[str, Any]:
    """An OpenAI `chat.completion` → an Anthropic `message` (first choice)."""
    choice = first_choice(resp)
    message = as_dict(choice.get("message"))
    content: list[dict[str, Any]] = []
    text = _text_of_blocks(message.get("content"))
    if not text and isinstance(message.get("refusal"), str):
        text = message["refusal"]
    if text:
        content.append({"type": "text", "text": text})
    for call in as_list(message.get("tool_calls")):
        if not isinstance(call, dict):
            continue
        function = as_dict(call.get("function"))
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or new_id("toolu_"),
                "name": function.get("name"),
                "input": _lenient_args(function.get("arguments")),
            }
        )
    reason = choice.get("finish_reason")
    if reason in (None, "stop") and any(b["type"] == "tool_use" for b in content):
        # Some servers (Ollama, older vLLM) say "stop" after tool calls; Anthropic clients only
        # run tools on stop_reason "tool_use".
        reason = "tool_calls"
    rid = resp.get("id")
    return {
        "id": rid if isinstance(rid, str) and rid.startswith("msg_") else new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": anthropic_stop_reason(reason),
        "stop_sequence": None,
        "usage": anthropic_usage(usage_from_chat(resp.get("usage"))),
    }


def anthropic_response_to_chat(resp: dict[str, Any], model: str) -> dict[str, Any]:
    """An Anthropic `message` → an OpenAI `chat.completion`.

    Thinking blocks become `reasoning_content`, where OpenAI-compatible servers (DeepSeek, vLLM) put a
    model's reasoning; redacted thinking has no readable text and is dropped.
    """
    blocks = as_list(resp.get("content"))
    texts, calls = _texts_and_tool_calls(blocks)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
        "refusal": None,
    }
    thinking = [
        b["thinking"]
        for b in blocks
        if isinstance(b, dict) and b.get("type") == "thinking" and isinstance(b.get("thinking"), str)
    ]
    if thinking:
        message["reasoning_content"] = "\n".join(thinking)
    if calls:
        message["tool_calls"] = calls
    rid = resp.get("id")
    return {
        "id": f"chatcmpl-{rid}" if isinstance(rid, str) else new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": chat_stop_reason(resp.get("stop_reason")) or "stop",
            }
        ],
        "usage": chat_usage(usage_from_anthropic(resp.get("usage"))),
    }
