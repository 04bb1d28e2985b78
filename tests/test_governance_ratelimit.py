"""Rate limits: requests and tokens per minute, per model and per key, in memory and in Redis.

The gateway tests run the real app against a fake OpenAI provider whose usage is fixed (11 prompt
+ 7 completion = 18 tokens). The request below is estimated at 24 tokens (40 characters / 4 + 4
of framing + max_tokens 10), so a budget's arithmetic is exact: each admitted request first takes
24, and the response's usage gives 6 back. The store tests drive `MemoryBuckets` and
`RedisBuckets` (a real redis-server) through the same cases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import REGISTRY

from conftest import RedisServer, RunningGateway
from fakes.providers import Answer, Fail, FakeProvider
from llmroute.config import ConfigError, load_config_text
from llmroute.errors import GatewayError
from llmroute.governance.ratelimit import (
    Charge,
    MemoryBuckets,
    RateLimiter,
    RedisBuckets,
    compile_rules,
    estimate_tokens,
)
from llmroute.governance.schema import RateLimits, SharedState
from llmroute.governance.shared import SharedRedis

TEXT = "x" * 40
CHAT = {"model": "openai/gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": TEXT}]}
ANTHROPIC = {"model": "openai/gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": TEXT}]}
RESPONSES = {"model": "openai/gpt-4o", "max_output_tokens": 10, "input": [{"role": "user", "content": TEXT}]}
KEY_A = "gw-key-a-0123456789"
KEY_B = "gw-key-b-9876543210"
NO_ROUTER = "routing: {router: {type: arch_router, base_url: 'http://127.0.0.1:9'}}\n"


def config(provider_url: str, limits: str, extra: str = "") -> str:
    return f"""
model_providers:
  - model: openai/gpt-4o
    access_key: sk-provider-key-123
    base_url: {provider_url}
    default: true
  - model: openai/gpt-4o-mini
    access_key: sk-provider-key-123
    base_url: {provider_url}
{NO_ROUTER}{limits}{extra}"""


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    with FakeProvider() as fake:
        yield fake


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_estimate_is_prompt_text_over_four_plus_framing_plus_max_output() -> None:
    assert estimate_tokens("openai_chat", CHAT, 256) == 24
    assert estimate_tokens("anthropic", {**ANTHROPIC, "system": "y" * 8}, 256) == 26
    assert estimate_tokens("responses", RESPONSES, 256) == 24
    # No max_tokens: the configured default output is reserved.
    assert estimate_tokens("openai_chat", {"messages": CHAT["messages"]}, 100) == 114


def test_requests_per_minute_gives_429_with_retry_after_in_each_format(provider: FakeProvider) -> None:
    limits = "rate_limits: {rules: [{name: rpm, requests_per_minute: 3}]}\n"
    with RunningGateway(config(provider.url, limits)) as gw, httpx.Client(base_url=gw.url) as http:
        for _ in range(3):
            assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
        before = metric("llmroute_rate_limited_total", rule="rpm", kind="requests")
        chat = http.post("/v1/chat/completions", json=CHAT)
        anthropic = http.post("/v1/messages", json=ANTHROPIC)
        responses = http.post("/v1/responses", json=RESPONSES)
        assert metric("llmroute_rate_limited_total", rule="rpm", kind="requests") == before + 3
    for response in (chat, anthropic, responses):
        assert response.status_code == 429, response.text
        # 3 per minute refills one request every 20 s.
        assert 1 <= int(response.headers["retry-after"]) <= 20
    assert chat.json()["error"]["type"] == "rate_limit_error"
    assert chat.json()["error"]["code"] == "rate_limit_exceeded"
    assert "rpm" in chat.json()["error"]["message"]
    assert anthropic.json()["type"] == "error"
    assert anthropic.json()["error"]["type"] == "rate_limit_error"
    assert responses.json()["error"]["type"] == "rate_limit_error"


def test_tokens_per_minute_counts_the_estimate_and_corrects_it_from_usage(provider: FakeProvider) -> None:
    # 100 tokens: a request needs 24 up front and costs 18 once its usage is known. Without the
    # correction only 4 requests fit (4 × 24 = 96); with it the 5th fits too (100 - 4 × 18 = 28 ≥ 24)
    # and the 6th does not (100 - 5 × 18 = 10 < 24).
    limits = "rate_limits: {rules: [{name: tpm, tokens_per_minute: 100}]}\n"
    with RunningGateway(config(provider.url, limits)) as gw, httpx.Client(base_url=gw.url) as http:
        statuses = []
        for _ in range(6):
            statuses.append(http.post("/v1/chat/completions", json=CHAT).status_code)
            wait_for_corrections(gw)
    assert statuses == [200, 200, 200, 200, 200, 429]


def test_streamed_usage_corrects_the_estimate_too(provider: FakeProvider) -> None:
    limits = "rate_limits: {rules: [{name: tpm, tokens_per_minute: 100}]}\n"
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    anthropic = {**ANTHROPIC, "stream": True}
    with RunningGateway(config(provider.url, limits)) as gw, httpx.Client(base_url=gw.url) as http:
        statuses = []
        for i in range(6):
            response = http.post(
                "/v1/chat/completions" if i % 2 else "/v1/messages", json=body if i % 2 else anthropic
            )
            statuses.append(response.status_code)
            wait_for_corrections(gw)
    assert statuses == [200, 200, 200, 200, 200, 429]


def test_a_failed_upstream_call_gives_its_tokens_back(provider: FakeProvider) -> None:
    limits = "rate_limits: {rules: [{name: tpm, tokens_per_minute: 50}]}\n"
    with RunningGateway(config(provider.url, limits)) as gw, httpx.Client(base_url=gw.url) as http:
        for _ in range(4):
            provider.script(Fail(500))
            assert http.post("/v1/chat/completions", json=CHAT).status_code == 502
            wait_for_corrections(gw)
        # Four failures took nothing: two real requests still fit (50 - 18 = 32 ≥ 24).
        assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
        wait_for_corrections(gw)
        assert http.post("/v1/chat/completions", json=CHAT).status_code == 200


def test_a_request_larger_than_the_whole_budget_is_refused_plainly(provider: FakeProvider) -> None:
    limits = "rate_limits: {rules: [{name: tiny, tokens_per_minute: 20}]}\n"
    with RunningGateway(config(provider.url, limits)) as gw, httpx.Client(base_url=gw.url) as http:
        response = http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 429
    assert "Request too large" in response.json()["error"]["message"]
    assert "retry-after" not in response.headers


def test_per_key_budgets_are_separate(provider: FakeProvider) -> None:
    extra = f"""auth:
  keys:
    - {{key: {KEY_A}, name: a}}
    - {{key: {KEY_B}, name: b, rate_limits: {{requests_per_minute: 1}}}}
"""
    limits = "rate_limits: {rules: [{name: each, per: [key], requests_per_minute: 2}]}\n"
    with RunningGateway(config(provider.url, limits, extra)) as gw, httpx.Client(base_url=gw.url) as http:
        a = [
            http.post("/v1/chat/completions", json=CHAT, headers={"x-api-key": KEY_A}).status_code
            for _ in range(3)
        ]
        b = [
            http.post("/v1/chat/completions", json=CHAT, headers={"x-api-key": KEY_B}).status_code
            for _ in range(2)
        ]
    assert a == [200, 200, 429]
    # B has its own 2 per minute from the rule, and its key's own limit of 1 applies as well.
    assert b == [200, 429]


def test_per_model_rule_only_counts_its_models(provider: FakeProvider) -> None:
    limits = (
        "rate_limits: {rules: [{name: big, models: [openai/gpt-4o], per: [model], requests_per_minute: 1}]}\n"
    )
    with RunningGateway(config(provider.url, limits)) as gw, httpx.Client(base_url=gw.url) as http:
        assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
        assert http.post("/v1/chat/completions", json=CHAT).status_code == 429
        mini = {**CHAT, "model": "openai/gpt-4o-mini"}
        assert [http.post("/v1/chat/completions", json=mini).status_code for _ in range(3)] == [200] * 3


def test_the_decision_endpoints_are_not_rate_limited(provider: FakeProvider) -> None:
    limits = "rate_limits: {rules: [{requests_per_minute: 1}]}\n"
    with RunningGateway(config(provider.url, limits)) as gw, httpx.Client(base_url=gw.url) as http:
        for _ in range(3):
            assert http.post("/routing/v1/chat/completions", json=CHAT).status_code == 200


def wait_for_corrections(gw: RunningGateway) -> None:
    """Corrections are written after the response; wait until none is pending."""
    governance = gw.gateway.governance
    for _ in range(500):
        if not governance._pending:
            return
        asyncio.run(asyncio.sleep(0.002))
    raise AssertionError("rate-limit corrections still pending")


# --- the stores ----------------------------------------------------------------------------------


def charge(bucket: str, capacity: int, cost: int) -> Charge:
    return Charge(bucket, capacity, cost, "r", "tokens")


async def exercise(buckets: MemoryBuckets | RedisBuckets) -> None:
    assert await buckets.take([charge("t", 60, 50)]) == (0.0, -1)
    wait, index = await buckets.take([charge("r", 6, 1), charge("t", 60, 20)])
    assert index == 1
    # 10 left, 20 needed, refilled at 1 token per second: about 10 s.
    assert 8.0 <= wait <= 10.5
    # All or nothing: the first bucket was not charged by the refused request (all 6 are there).
    assert (await buckets.take([charge("r", 6, 6)]))[1] == -1
    assert (await buckets.take([charge("r", 6, 1)]))[1] == 0
    # Corrections: give 40 back → 50 available again.
    await buckets.adjust([charge("t", 60, -40)])
    assert (await buckets.take([charge("t", 60, 50)]))[1] == -1
    # Debt: a correction may take more than is left; the bucket then waits for the debt to clear.
    await buckets.adjust([charge("t", 60, 30)])
    wait, index = await buckets.take([charge("t", 60, 1)])
    assert index == 0 and wait >= 30.0


async def test_memory_buckets() -> None:
    await exercise(MemoryBuckets())


async def test_redis_buckets(redis_server: RedisServer) -> None:
    shared = SharedRedis(SharedState(type="redis", url=redis_server.url, timeout_ms=500))
    try:
        await exercise(RedisBuckets(shared))
    finally:
        await shared.aclose()


async def test_two_limiters_on_one_redis_share_the_budget(redis_server: RedisServer) -> None:
    config = RateLimits.model_validate({"rules": [{"name": "shared", "tokens_per_minute": 100}]})
    rules = compile_rules(config, None)
    stores = [SharedRedis(SharedState(type="redis", url=redis_server.url, timeout_ms=500)) for _ in range(2)]
    limiters = [RateLimiter(rules, RedisBuckets(store), config) for store in stores]
    try:
        admitted = 0
        for i in range(10):
            try:
                await limiters[i % 2].reserve("openai_chat", None, ["openai/gpt-4o"], CHAT)
                admitted += 1
            except GatewayError as exc:
                assert exc.status == 429
        assert admitted == 4  # 4 × 24 = 96 of 100, whichever replica asked
    finally:
        for store in stores:
            await store.aclose()


async def test_failover_skips_a_candidate_whose_budget_is_spent() -> None:
    config = RateLimits.model_validate({"rules": [{"models": ["a/one"], "requests_per_minute": 1}]})
    limiter = RateLimiter(compile_rules(config, None), MemoryBuckets(), config)
    models, reservation = await limiter.reserve("openai_chat", None, ["a/one", "a/two"], CHAT)
    assert models == ["a/one", "a/two"] and reservation is not None
    models, reservation = await limiter.reserve("openai_chat", None, ["a/one", "a/two"], CHAT)
    # a/one is spent; a/two has no rule at all.
    assert models == ["a/two"] and reservation is None


async def test_redis_down_follows_the_policy(redis_server: RedisServer) -> None:
    for policy, expect_denied in (("allow", False), ("deny", True)):
        config = RateLimits.model_validate({"rules": [{"requests_per_minute": 1}], "on_store_error": policy})
        shared = SharedRedis(SharedState(type="redis", url=redis_server.url, timeout_ms=200))
        limiter = RateLimiter(compile_rules(config, None), RedisBuckets(shared), config)
        redis_server.stop()
        try:
            outcome = "denied" if expect_denied else "allowed"
            before = metric("llmroute_shared_state_errors_total", operation="rate_limit", outcome=outcome)
            for _ in range(3):
                if expect_denied:
                    with pytest.raises(GatewayError) as caught:
                        await limiter.reserve("openai_chat", None, ["a/one"], CHAT)
                    assert caught.value.status == 503
                else:
                    models, reservation = await limiter.reserve("openai_chat", None, ["a/one"], CHAT)
                    assert models == ["a/one"] and reservation is None
            assert (
                metric("llmroute_shared_state_errors_total", operation="rate_limit", outcome=outcome)
                == before + 3
            )
        finally:
            redis_server.start()
            await shared.aclose()


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ("rate_limits: {rules: [{name: x}]}", "requests_per_minute and/or tokens_per_minute"),
        ("rate_limits: {rules: [{tokens_per_minute: 0}]}", "greater than 0"),
        ("rate_limits: {rules: [{requests_per_minute: 5, per: [ip]}]}", "rate_limits.rules[0].per[0]"),
        ("rate_limits: {rules: [{requests_per_minute: 5, keys: [ghost]}]}", "unknown key name 'ghost'"),
        ("rate_limits: {rules: [{requests_per_minute: 5, per: [key]}]}", "'key' needs an auth section"),
        ("rate_limits: {on_store_error: maybe}", "on_store_error"),
        ("shared_state: {type: redis}", "needs a url"),
    ],
)
def test_bad_rate_limit_config_is_one_clear_line(section: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text("model_providers: [{model: echo/small}]\n" + section, env={})
    assert fragment in str(caught.value)


def test_answer_is_unchanged_by_rate_limiting(provider: FakeProvider) -> None:
    limits = "rate_limits: {rules: [{tokens_per_minute: 100000, requests_per_minute: 1000}]}\n"
    provider.script(Answer(text="exactly this"))
    with RunningGateway(config(provider.url, limits)) as gw, httpx.Client(base_url=gw.url) as http:
        response = http.post("/v1/chat/completions", json=CHAT)
    assert response.json()["choices"][0]["message"]["content"] == "exactly this"
