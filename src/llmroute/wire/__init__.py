"""Client API formats: parsing, translation between formats, SSE streams, error bodies.

Everything here is pure data transformation (no I/O). Modules:

- `conversation`: `Message`, the normalised conversation the routers read.
- `formats`: `ClientFormat`, `UpstreamFormat`, the names of the APIs.
- `parse`: `parse_conversation(fmt, body)` for the three client APIs; raises `WireError`.
- `errors`: `WireError`, `error_body(fmt, status, message, code)`, `translate_error_body`,
  `stream_error_event` (the error event that ends a stream, per format).
- `anthropic_chat`: Anthropic Messages ↔ OpenAI Chat Completions, requests and responses.
- `responses_chat`: OpenAI Responses → Chat Completions requests, Chat → Responses responses.
- `sse`: `SSEDecoder` (incremental parser), `SSEEvent`, `encode_event`.
- `streaming`: the `StreamTranslator` protocol and `TranslatedStream`, which joins a reader
  (`read_chat`, `read_anthropic`: upstream events → `deltas`) to an emitter (`emit_chat`,
  `emit_anthropic`, `emit_responses`: deltas → client events); `dispatch`: `translate_request`,
  `translate_response`, `translator_for` pick the right one for a (client, upstream) pair.
- `usage`: `Usage`, and every format's token counting: reading, writing, piped answers.
"""

from llmroute.wire.anthropic_chat import (
    DEFAULT_ANTHROPIC_MAX_TOKENS,
    anthropic_request_to_chat,
    anthropic_response_to_chat,
    chat_request_to_anthropic,
    chat_response_to_anthropic,
)
from llmroute.wire.conversation import Conversation, Message, routable
from llmroute.wire.dispatch import UpstreamFormat, translate_request, translate_response, translator_for
from llmroute.wire.errors import (
    WireError,
    error_body,
    error_message_from,
    stream_error_event,
    translate_error_body,
)
from llmroute.wire.formats import CLIENT_FORMATS, ClientFormat
from llmroute.wire.parse import parse_conversation
from llmroute.wire.responses_chat import chat_response_to_responses, responses_request_to_chat
from llmroute.wire.sse import DONE, SSEDecoder, SSEEvent, encode_event
from llmroute.wire.streaming import (
    AnthropicToChatStream,
    AnthropicToResponsesStream,
    ChatToAnthropicStream,
    ChatToResponsesStream,
    StreamTranslator,
)
from llmroute.wire.usage import StreamUsageReader, Usage, usage_from_bytes, usage_from_response

__all__ = [
    "CLIENT_FORMATS",
    "DEFAULT_ANTHROPIC_MAX_TOKENS",
    "DONE",
    "AnthropicToChatStream",
    "AnthropicToResponsesStream",
    "ChatToAnthropicStream",
    "ChatToResponsesStream",
    "ClientFormat",
    "Conversation",
    "Message",
    "SSEDecoder",
    "SSEEvent",
    "StreamTranslator",
    "StreamUsageReader",
    "UpstreamFormat",
    "Usage",
    "WireError",
    "anthropic_request_to_chat",
    "anthropic_response_to_chat",
    "chat_request_to_anthropic",
    "chat_response_to_anthropic",
    "chat_response_to_responses",
    "encode_event",
    "error_body",
    "error_message_from",
    "parse_conversation",
    "responses_request_to_chat",
    "routable",
    "stream_error_event",
    "translate_error_body",
    "translate_request",
    "translate_response",
    "translator_for",
    "usage_from_bytes",
    "usage_from_response",
]
