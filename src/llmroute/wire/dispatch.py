"""One entry point per direction, so the proxy needs no if-chain over format pairs.

`client` is the API the caller spoke (`openai_chat`, `anthropic`, `responses`); `upstream` is what
the provider speaks (`openai_chat` or `anthropic`). When they are equal nothing is translated:
`translate_request`/`translate_response` return the body itself and `translator_for` returns None
(the proxy pipes the bytes). A Responses client on an Anthropic provider goes through Chat
Completions in both directions.

    body = translate_request(client, upstream, body)            # then set body["model"]
    resp = translate_response(client, upstream, upstream_json, model, request=original_body)
    translator = translator_for(client, upstream, model, request=original_body)   # streams
"""

from __future__ import annotations

from typing import Any

from llmroute.wire.anthropic_chat import (
    anthropic_request_to_chat,
    anthropic_response_to_chat,
    chat_request_to_anthropic,
    chat_response_to_anthropic,
)
from llmroute.wire.formats import ClientFormat, UpstreamFormat
from llmroute.wire.responses_chat import chat_response_to_responses, responses_request_to_chat
from llmroute.wire.streaming import (
    AnthropicToChatStream,
    AnthropicToResponsesStream,
    ChatToAnthropicStream,
    ChatToResponsesStream,
    StreamTranslator,
)

__all__ = ["UpstreamFormat", "translate_request", "translate_response", "translator_for"]


def _unsupported(client: str, upstream: str) -> ValueError:
    return ValueError(f"no translation from {client!r} clients to {upstream!r} upstreams")


def translate_request(
    client: ClientFormat,
    upstream: UpstreamFormat | ClientFormat,
    body: dict[str, Any],
    *,
    max_tokens_field: str | None = None,
) -> dict[str, Any]:
    """The upstream request body for a client body. May raise WireError.

    `max_tokens_field` names the Chat Completions token limit field the upstream wants
    ("max_tokens" or "max_completion_tokens"); by default Anthropic clients' `max_tokens` stays
    `max_tokens` and Responses clients' `max_output_tokens` becomes `max_completion_tokens`.
    """
    if client == upstream:
        return body
    if client == "anthropic" and upstream == "openai_chat":
        return anthropic_request_to_chat(body, max_tokens_field=max_tokens_field or "max_tokens")
    if client == "openai_chat" and upstream == "anthropic":
        return chat_request_to_anthropic(body)
    if client == "responses" and upstream == "openai_chat":
        return responses_request_to_chat(body, max_tokens_field=max_tokens_field or "max_completion_tokens")
    if client == "responses" and upstream == "anthropic":
        return chat_request_to_anthropic(responses_request_to_chat(body))
    raise _unsupported(client, upstream)


def translate_response(
    client: ClientFormat,
    upstream: UpstreamFormat | ClientFormat,
    resp: dict[str, Any],
    model: str,
    *,
    request: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The client's response body for an upstream (non-streaming, 2xx) response body.

    `model` is the name reported to the client; `request` (the client's original body) lets a
    Responses answer echo the request's settings.
    """
    if client == upstream:
        return resp
    if client == "anthropic" and upstream == "openai_chat":
        return chat_response_to_anthropic(resp, model)
    if client == "openai_chat" and upstream == "anthropic":
        return anthropic_response_to_chat(resp, model)
    if client == "responses" and upstream == "openai_chat":
        return chat_response_to_responses(resp, model, request=request)
    if client == "responses" and upstream == "anthropic":
        return chat_response_to_responses(anthropic_response_to_chat(resp, model), model, request=request)
    raise _unsupported(client, upstream)


def translator_for(
    client: ClientFormat,
    upstream: UpstreamFormat | ClientFormat,
    model: str,
    *,
    request: dict[str, Any] | None = None,
) -> StreamTranslator | None:
    """A fresh stream translator for one response, or None when the formats match (pipe the bytes).

    `request` is the client's original body: an OpenAI client's `stream_options.include_usage`
    decides whether a usage chunk is sent, and a Responses client's settings are echoed.
    """
    if client == upstream:
        return None
    if client == "anthropic" and upstream == "openai_chat":
        return ChatToAnthropicStream(model)
    if client == "openai_chat" and upstream == "anthropic":
        options = (request or {}).get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return AnthropicToChatStream(model, include_usage=include_usage)
    if client == "responses" and upstream == "openai_chat":
        return ChatToResponsesStream(model, request=request)
    if client == "responses" and upstream == "anthropic":
        return AnthropicToResponsesStream(model, request=request)
    raise _unsupported(client, upstream)
