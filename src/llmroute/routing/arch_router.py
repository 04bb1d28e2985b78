"""The `arch_router` backend: Arch-Router-1.5B (or any model trained on its prompt) over an
OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp server).

The model was trained on one exact prompt (docs: ROUTER_PROMPTS.md), so the template below is an
interface, like a file format: its spelling mistakes and double spaces are deliberate.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from collections.abc import Sequence

import aiohttp

from llmroute.observability.record import current_record
from llmroute.routing.types import Classification, Route, RouterError
from llmroute.wire.conversation import Message, routable

PROMPT_TEMPLATE = """
You are a helpful assistant designed to find the best suited route.
You are provided with route description within <routes></routes> XML tags:
<routes>
{routes}
</routes>

<conversation>
{conversation}
</conversation>

Your task is to decide which route is best suit with user intent on the conversation in <conversation></conversation> XML tags.  Follow the instruction:
1. If the latest intent from user is irrelevant or user intent is full filled, response with other route {"route": "other"}.
2. You must analyze the route descriptions and find the best match route for user latest intent.
3. You only response the name of the route that best matches the user's request, use the exact name in the <routes></routes>.

Based on your analysis, provide your response in the following JSON formats if you decide to match any route:
{"route": "route_name"}
"""  # the model's wire format, kept byte for byte

TEMPERATURE = 0.01
BYTES_PER_TOKEN = 4  # the budget's token estimate: 4 UTF-8 bytes per token
TRIM_MARK = "…"
NO_ROUTE = "other"


def _compact_json(value: object) -> str:
    # No spaces and raw UTF-8 (not \u escapes), like the serde_json output the model was trained on.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _tokens(text: str) -> float:
    return len(text.encode("utf-8")) / BYTES_PER_TOKEN


def trim_middle(text: str, max_bytes: int) -> str:
    """Cut `text` to at most `max_bytes` UTF-8 bytes by removing its middle, marked with `…`.

    The start (the ask) and the end (often the actual question after pasted material) carry the
    intent, so both are kept; partial UTF-8 characters at the cut are dropped.
    """
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    room = max_bytes - len(TRIM_MARK.encode("utf-8"))
    if room <= 0:
        return TRIM_MARK
    head_bytes = (room + 1) // 2
    tail_bytes = room - head_bytes
    head = raw[:head_bytes].decode("utf-8", "ignore")
    tail = raw[len(raw) - tail_bytes :].decode("utf-8", "ignore") if tail_bytes else ""
    return head + TRIM_MARK + tail


def select_conversation(conversation: Sequence[Message], max_context_tokens: int) -> list[Message]:
    """The newest user/assistant turns that fit the budget, oldest first (ROUTER_PROMPTS.md).

    The budget starts with the template's own size; walking back from the newest message, whole
    messages are added while they fit. The user message that overflows is kept trimmed in the middle
    (its intent matters more than older turns); an overflowing assistant message ends the walk. If
    nothing fits, the newest message is kept whole.
    """
    turns = routable(list(conversation))
    if not turns:
        return []
    used = _tokens(PROMPT_TEMPLATE)
    picked: list[Message] = []
    for message in reversed(turns):
        cost = _tokens(message.text)
        if used + cost <= max_context_tokens:
            picked.append(message)
            used += cost
            continue
        room_bytes = int((max_context_tokens - used) * BYTES_PER_TOKEN)
        if message.role == "user" and room_bytes > len(TRIM_MARK.encode("utf-8")):
            picked.append(Message(role=message.role, text=trim_middle(message.text, room_bytes)))
        break
    if not picked:
        picked.append(turns[-1])
    picked.reverse()
    return picked


def build_prompt(conversation: Sequence[Message], routes: Sequence[Route], max_context_tokens: int) -> str:
    """The single user message sent to the router model: the template with routes and conversation."""
    routes_json = _compact_json([{"name": r.name, "description": r.description} for r in routes])
    selected = select_conversation(conversation, max_context_tokens)
    conversation_json = _compact_json([{"role": m.role.lower(), "content": m.text} for m in selected])
    # One pass, so a route description that happens to contain "{conversation}" is left alone.
    before_routes, _, rest = PROMPT_TEMPLATE.partition("{routes}")
    between, _, after = rest.partition("{conversation}")
    return before_routes + routes_json + between + conversation_json + after


_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*(.*?)\s*```$", re.DOTALL)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def _load_answer(text: str) -> object:
    """The JSON object in the model's answer, tolerating fences, chatter around it and single quotes."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    found = _OBJECT.search(body)
    if found:
        body = found.group(0)
    try:
        return json.loads(body)
    except ValueError:
        pass
    try:
        # Python-literal form: {'route': 'x'} (single quotes), as small models sometimes write.
        return ast.literal_eval(body)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise RouterError(f"unparseable router answer: {_excerpt(text)}") from None


def parse_route(text: str, route_names: Sequence[str]) -> str | None:
    """The route named in the model's answer, or None for "other", empty or unknown names.

    Raises RouterError when the answer is not a `{"route": ...}` object at all.
    """
    if not text.strip():
        return None
    answer = _load_answer(text)
    if not isinstance(answer, dict) or "route" not in answer:
        raise RouterError(f'router answer has no "route": {_excerpt(text)}')
    known = set(route_names)
    value = answer["route"]
    if value is None:
        return None
    if isinstance(value, str):
        name = value.strip()
        return name if name in known and name != NO_ROUTE else None
    if isinstance(value, list):
        # Newer models of the family answer a ranked list: the first known name wins.
        for item in value:
            if not isinstance(item, str):
                continue
            name = item.strip()
            if name in known and name != NO_ROUTE:
                return name
        return None
    raise RouterError(f'router answer "route" is neither a name nor a list: {_excerpt(text)}')


def _excerpt(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "…")


def chat_completions_url(base_url: str) -> str:
    """Accept the endpoint with or without its trailing /v1 (Ollama documents .../v1, others don't)."""
    base = base_url.rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    return base + "/v1/chat/completions"


class ArchRouter:
    """Asks an Arch-Router model served behind an OpenAI-compatible Chat Completions endpoint."""

    name = "arch_router"

    def __init__(
        self,
        base_url: str,
        model: str = "Arch-Router",
        api_key: str | None = None,
        timeout_ms: int = 3000,
        max_context_tokens: int = 2048,
        max_concurrency: int = 16,
    ) -> None:
        if timeout_ms <= 0 or max_context_tokens <= 0 or max_concurrency <= 0:
            raise ValueError("timeout_ms, max_context_tokens and max_concurrency must be positive")
        self.base_url = base_url
        self.url = chat_completions_url(base_url)
        self.model = model
        self.timeout_ms = timeout_ms
        self.max_context_tokens = max_context_tokens
        self.max_concurrency = max_concurrency
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._session: aiohttp.ClientSession | None = None
        # Created on first use: a Semaphore and a ClientSession belong to the running event loop.
        self._slots: asyncio.Semaphore | None = None

    def __repr__(self) -> str:  # never shows the api key
        return f"ArchRouter(url={self.url!r}, model={self.model!r})"

    async def classify(self, conversation: Sequence[Message], routes: Sequence[Route]) -> Classification:
        if not routes:
            return Classification(route=None, backend=self.name)
        if not routable(list(conversation)):
            # Nothing the user said (only system prompts or tool results): no intent to route on.
            return Classification(route=None, backend=self.name, details={"reason": "no user turn"})
        prompt = build_prompt(conversation, routes, self.max_context_tokens)
        text = await self._complete(prompt)
        route = parse_route(text, [r.name for r in routes])
        return Classification(
            route=route,
            backend=self.name,
            score=1.0 if route else 0.0,
            details={"answer": text.strip()[:200]},
        )

    async def _complete(self, prompt: str) -> str:
        """One Chat Completions call under the per-call timeout (waiting for a free slot included)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrency)
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": TEMPERATURE,
        }
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_ms / 1000
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError:
            raise RouterError(
                f"router busy: {self.max_concurrency} calls in flight for over {self.timeout_ms} ms"
            ) from None
        try:
            async with asyncio.timeout_at(deadline):
                return await self._post(body)
        except TimeoutError:
            raise RouterError(f"router timed out after {self.timeout_ms} ms") from None
        except aiohttp.ClientError as exc:
            raise RouterError(f"router unreachable at {self.url}: {type(exc).__name__}") from None
        finally:
            self._slots.release()

    async def _post(self, body: dict[str, object]) -> str:
        session = self._ensure_session()
        headers = self._headers
        record = current_record()
        if record is not None and record.trace_id:
            # The router call joins the request's trace (a child of the request span), like a
            # provider call does.
            headers = {**headers, "traceparent": record.traceparent}
        async with session.post(self.url, json=body, headers=headers) as response:
            if response.status != 200:
                # The body is not echoed: some servers repeat the request's credentials in errors.
                raise RouterError(f"router answered HTTP {response.status}")
            try:
                payload = await response.json(content_type=None)
                content = payload["choices"][0]["message"]["content"]
            except (ValueError, KeyError, IndexError, TypeError):
                raise RouterError("router response is not a chat completion") from None
        if content is None:
            return ""
        if not isinstance(content, str):
            raise RouterError("router response content is not text")
        return content

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.max_concurrency)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
