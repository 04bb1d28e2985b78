"""One call to the generator model, through the gateway's own provider client, targets and keys."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from llmroute.errors import UpstreamError
from llmroute.providers.client import UpstreamClient, read_body
from llmroute.proxy.targets import Target, Targets

# Room for the requests asked for, a few of them with pasted content; capped where common models cap
# their output (a larger max_tokens is a 400 there).
TOKENS_PER_EXAMPLE = 250
MIN_ANSWER_TOKENS = 4000
MAX_ANSWER_TOKENS = 8192
# Some variety between examples, still on-topic.
TEMPERATURE = 0.7


class GeneratorError(Exception):
    """The generator could not be asked or answered with no usable text. Safe to log: no keys."""


class Generator:
    def __init__(self, model: str, targets: Targets, client: UpstreamClient, timeout_seconds: float) -> None:
        self.model = model
        self.targets = targets
        self.client = client
        self.timeout_seconds = timeout_seconds

    async def ask(self, prompt: str, examples: int) -> str:
        """The text of the model's answer to one user message that asks for `examples` requests."""
        target = self.targets.get(self.model)
        body = request_body(target, prompt, answer_tokens(examples))
        try:
            async with asyncio.timeout(self.timeout_seconds):
                response = await self.client.post(target.url, dict(target.headers), orjson.dumps(body))
                raw = await read_body(response)
        except TimeoutError:
            raise GeneratorError(f"{self.model} did not answer within {self.timeout_seconds:g}s") from None
        except UpstreamError as exc:
            raise GeneratorError(f"{self.model}: {exc.message}") from None
        if response.status != 200:
            # The body is not quoted: an upstream error may echo request headers (keys).
            raise GeneratorError(f"{self.model} answered HTTP {response.status}")
        try:
            return answer_text(target, orjson.loads(raw))
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
            raise GeneratorError(f"{self.model} answered with an unreadable body") from None


def answer_tokens(examples: int) -> int:
    return min(MAX_ANSWER_TOKENS, max(MIN_ANSWER_TOKENS, TOKENS_PER_EXAMPLE * examples))


def request_body(target: Target, prompt: str, max_tokens: int) -> dict[str, Any]:
    messages = [{"role": "user", "content": prompt}]
    if target.interface == "anthropic":
        return {
            "model": target.model_id,
            "max_tokens": max_tokens,
            "temperature": TEMPERATURE,
            "messages": messages,
        }
    return {
        "model": target.model_id,
        "messages": messages,
        "temperature": TEMPERATURE,
        target.spec.max_tokens_field: max_tokens,
    }


def answer_text(target: Target, payload: Any) -> str:
    if target.interface == "anthropic":
        return "".join(b.get("text", "") for b in payload["content"] if b.get("type") == "text")
    content = payload["choices"][0]["message"]["content"]
    return content if isinstance(content, str) else ""
