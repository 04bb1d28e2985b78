"""OpenAI Responses client ↔ Chat Completions upstream: the request and the non-streaming response.

Request mapping (`responses_request_to_chat`):

| Responses                                         | Chat Completions                                  |
|---------------------------------------------------|---------------------------------------------------|
| `instructions`                                    | leading `system` message                          |
| `input` string                                    | one `user` message                                |
| `message` items (roles user/assistant/system/developer; `developer` → `system`, which every OpenAI-compatible server knows) | messages |
| `input_text` / `output_text` parts                | text (a plain string when all parts are text)     |
| `input_image` (`image_url`)                       | `image_url` part                                  |
| `input_file` (`file_data`)                        | `file` part                                       |
| `function_call` items                             | assistant `tool_calls` (merged into the preceding assistant turn) |
| `function_call_output` items                      | `tool` messages                                   |
| function `tools` (flat `name`/`parameters`)       | `tools[{type: function, function: {...}}]`        |
| `tool_choice`, `parallel_tool_calls`, `temperature`, `top_p`, `user`, `safety_identifier`, `prompt_cache_key`, `service_tier`, `stream` | same |
| `max_output_tokens`                               | `max_completion_tokens` (or `max_tokens`, caller picks) |
| `text.format` (json_schema / json_object)         | `response_format`                                 |
| `reasoning.effort`                                | `reasoning_effort`                                |

`previous_response_id` and `conversation` need server-side state the gateway does not keep: they
are a 400 WireError. Reasoning items, built-in tools (web search, file search...) and item
references are dropped.

The response (`chat_response_to_responses`) is a `response` object with a `message` output item
(one `output_text` part) and one `function_call` item per tool call; `finish_reason: length`
gives `status: incomplete` with `incomplete_details.reason: max_output_tokens`.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from llmroute.wire.anthropic_chat import new_id
from llmroute.wire.errors import WireError
from llmroute.wire.shapes import as_dict, as_list, as_str, first_choice
from llmroute.wire.usage import responses_usage, usage_from_chat

# Responses fields that mean the same in Chat Completions and are copied as they are.
PASSTHROUGH_KEYS = (
    "temperature",
    "top_p",
    "parallel_tool_calls",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "service_tier",
    "stream",
)

# Fields of a request echoed back in the `response` object, with their defaults.
_ECHO_DEFAULTS: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "reasoning": None,
    "temperature": None,
    "tool_choice": "auto",
    "tools": [],
    "top_p": None,
    "truncation": "disabled",
    "user": None,
}


def _parts_to_chat(content: Any) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for part in as_list(content):
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": as_str(part.get("text"))})
        elif kind == "refusal":
            parts.append({"type": "text", "text": as_str(part.get("refusal"))})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            image: dict[str, Any] = {"url": part["image_url"]}
            if part.get("detail") in ("low", "high", "auto"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        elif kind == "input_file" and isinstance(part.get("file_data"), str):
            file: dict[str, Any] = {"file_data": part["file_data"]}
            if part.get("filename"):
                file["filename"] = part["filename"]
            parts.append({"type": "file", "file": file})
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list) and all(isinstance(p, dict) and "type" in p for p in output):
        return "\n".join(p["text"] for p in output if isinstance(p.get("text"), str))
    # An object (or any other JSON value) is sent as JSON: a model reads JSON, not a Python repr.
    return "" if output is None else orjson.dumps(output).decode()


# Responses `custom` tools take free text, not JSON arguments. Chat Completions servers (and
# Anthropic behind them) only know function tools, so a custom tool travels as a function with one
# string parameter, and its calls come back as `custom_tool_call` items (the request names them).
CUSTOM_TOOL_PARAMETER = "input"
_CUSTOM_TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {CUSTOM_TOOL_PARAMETER: {"type": "string", "description": "The tool's free-form input"}},
    "required": [CUSTOM_TOOL_PARAMETER],
}


def custom_tool_names(request: dict[str, Any] | None) -> frozenset[str]:
    """The names of the request's Responses `custom` tools."""
    tools = (request or {}).get("tools")
    return frozenset(
        t["name"]
        for t in as_list(tools)
        if isinstance(t, dict) and t.get("type") == "custom" and isinstance(t.get("name"), str)
    )


def custom_tool_input(arguments: str) -> str:
    """The free-form input of a custom tool called as a function (the arguments as sent if not ours)."""
    try:
        parsed = orjson.loads(arguments) if arguments else {}
    except orjson.JSONDecodeError:
        return arguments
    value = parsed.get(CUSTOM_TOOL_PARAMETER) if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else arguments


def _tools_to_chat(tools: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type") not in ("function", "custom"):
            continue
        function: dict[str, Any] = {"name": tool.get("name")}
        if tool.get("description") is not None:
            function["description"] = tool["description"]
        if tool["type"] == "custom":
            function["parameters"] = _CUSTOM_TOOL_SCHEMA
            out.append({"type": "function", "function": function})
            continue
        function["parameters"] = tool.get("parameters") or {"type": "object", "properties": {}}
        if tool.get("strict") is not None:
            function["strict"] = tool["strict"]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice_to_chat(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") in ("function", "custom") and choice.get("name"):
        return {"type": "function", "function": {"name": choice["name"]}}
    return None


def _text_format_to_chat(text: Any) -> dict[str, Any] | None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    return None


def responses_request_to_chat(
    body: dict[str, Any], *, max_tokens_field: str = "max_completion_tokens"
) -> dict[str, Any]:
    """An OpenAI Responses request → a Chat Completions request. Raises WireError for stateful requests."""
    if body.get("previous_response_id"):
        raise WireError("'previous_response_id' is not supported: send the whole conversation in 'input'")
    if body.get("conversation"):
        raise WireError("'conversation' is not supported: send the whole conversation in 'input'")
    out: dict[str, Any] = {}
    if "model" in body:
        out["model"] = body["model"]
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    items = body.get("input")
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind is None or kind == "message":
            role = item.get("role")
            if role == "developer":
                role = "system"
            messages.append({"role": role, "content": _parts_to_chat(item.get("content"))})
        elif kind in ("function_call", "custom_tool_call"):
            if kind == "custom_tool_call":
                arguments = orjson.dumps({CUSTOM_TOOL_PARAMETER: as_str(item.get("input"))}).decode()
            else:
                arguments = item.get("arguments") or "{}"
            call = {
                "id": item.get("call_id") or item.get("id"),
                "type": "function",
                "function": {"name": item.get("name"), "arguments": arguments},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": item.get("call_id"),
                    "content": _output_text(item.get("output")),
                }
            )
    out["messages"] = messages

    if body.get("max_output_tokens") is not None:
        out[max_tokens_field] = body["max_output_tokens"]
    for key in PASSTHROUGH_KEYS:
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stream"):
        out["stream_options"] = {"include_usage": True}
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        chat_tools = _tools_to_chat(tools)
        if chat_tools:
            out["tools"] = chat_tools
    if "tools" in out:
        choice = _tool_choice_to_chat(body.get("tool_choice"))
        if choice is not None:
            out["tool_choice"] = choice
    else:
        out.pop("parallel_tool_calls", None)  # OpenAI rejects it without tools
    response_format = _text_format_to_chat(body.get("text"))
    if response_format is not None:
        out["response_format"] = response_format
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort"):
        out["reasoning_effort"] = reasoning["effort"]
    return out


def response_object(
    *,
    response_id: str,
    model: str,
    created_at: int,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    request: dict[str, Any] | None,
    incomplete_reason: str | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Responses API `response` object, echoing the request's settings like OpenAI does."""
    resp: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": error,
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "model": model,
        "output": output,
    }
    request = request or {}
    for key, default in _ECHO_DEFAULTS.items():
        value = request.get(key)
        resp[key] = default if value is None else value
    resp["usage"] = usage
    return resp


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def custom_tool_call_item(
    item_id: str, call_id: str, name: str, tool_input: str, status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "custom_tool_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "input": tool_input,
    }


def chat_response_to_responses(
    resp: dict[str, Any], model: str, *, request: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A `chat.completion` → a Responses API `response`. `request` (the client's) is echoed when given."""
    choice = first_choice(resp)
    message = as_dict(choice.get("message"))
    output: list[dict[str, Any]] = []
    text = message.get("content")
    if isinstance(text, list):
        text = "".join(as_str(p.get("text")) for p in text if isinstance(p, dict))
    if text and isinstance(text, str):
        output.append(message_item(new_id("msg_"), text))
    elif isinstance(message.get("refusal"), str):
        item = message_item(new_id("msg_"), "")
        item["content"] = [{"type": "refusal", "refusal": message["refusal"]}]
        output.append(item)
    custom = custom_tool_names(request)
    for call in as_list(message.get("tool_calls")):
        if not isinstance(call, dict):
            continue
        function = as_dict(call.get("function"))
        arguments = function.get("arguments")
        arguments = arguments if isinstance(arguments, str) and arguments else "{}"
        call_id = as_str(call.get("id")) or new_id("call_")
        name = as_str(function.get("name"))
        if name in custom:
            output.append(custom_tool_call_item(new_id("ctc_"), call_id, name, custom_tool_input(arguments)))
        else:
            output.append(function_call_item(new_id("fc_"), call_id, name, arguments))
    incomplete = choice.get("finish_reason") == "length"
    created = resp.get("created")
    return response_object(
        response_id=new_id("resp_"),
        model=model,
        created_at=created if isinstance(created, int) else int(time.time()),
        status="incomplete" if incomplete else "completed",
        output=output,
        usage=responses_usage(usage_from_chat(resp.get("usage"))),
        request=request,
        incomplete_reason="max_output_tokens" if incomplete else None,
    )
