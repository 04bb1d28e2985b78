"""Two gateway processes and one real redis-server behave as one gateway.

- a tokens-per-minute budget is shared: the sum admitted over both replicas never exceeds it;
- a cooldown set on one replica (a model answered 429) is honoured by the other;
- Redis killed mid-test: the configured policy applies (allow: requests go through, counted),
  and limiting resumes when Redis is back.

The fake provider's usage is fixed at 18 tokens (11 + 7); each request is estimated at 24 (see
test_governance_ratelimit.py), so a budget of T tokens admits at most T / 18 requests' worth of
real usage plus what refills while the test runs (T / 60 per second).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import RedisServer, RunningGateway
from fakes.providers import Fail, FakeProvider
from gateway_process import NO_ROUTER, GatewayProcess, start_all

TPM = 600
TOKENS_PER_REQUEST = 18


def body(model: str) -> dict[str, object]:
    return {"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "x" * 40}]}


def replica_config(provider_url: str, redis_url: str) -> str:
    return f"""
model_providers:
  - {{model: openai/shared-tpm, access_key: sk-replica-secret-1, base_url: {provider_url}, default: true}}
  - {{model: openai/cool, access_key: sk-replica-secret-1, base_url: {provider_url}}}
  - {{model: openai/policy, access_key: sk-replica-secret-1, base_url: {provider_url}}}
{NO_ROUTER}
shared_state: {{type: redis, url: "{redis_url}", timeout_ms: 1000}}
rate_limits:
  on_store_error: allow
  rules:
    - {{name: shared, models: [openai/shared-tpm], tokens_per_minute: {TPM}}}
    - {{name: policy, models: [openai/policy], requests_per_minute: 2}}
"""


@dataclass
class Cluster:
    a: GatewayProcess
    b: GatewayProcess
    redis: RedisServer
    provider: FakeProvider


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("replicas")
    redis = RedisServer(tmp)
    redis.start()
    try:
        with FakeProvider() as provider:
            text = replica_config(provider.url, redis.url)
            a, b = GatewayProcess(text, tmp, "a"), GatewayProcess(text, tmp, "b")
            try:
                start_all(a, b)
                yield Cluster(a, b, redis, provider)
            finally:
                a.stop()
                b.stop()
    finally:
        redis.stop()


async def burst(urls: list[str], model: str, per_replica: int) -> list[tuple[str, httpx.Response]]:
    limits = httpx.Limits(max_connections=per_replica * len(urls))
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:

        async def one(url: str) -> tuple[str, httpx.Response]:
            return url, await http.post(url + "/v1/chat/completions", json=body(model))

        return await asyncio.gather(*(one(url) for url in urls for _ in range(per_replica)))


def test_tokens_per_minute_budget_is_shared_by_both_replicas(cluster: Cluster) -> None:
    started = time.monotonic()
    results = asyncio.run(burst([cluster.a.url, cluster.b.url], "openai/shared-tpm", 30))
    elapsed = time.monotonic() - started
    ok = [url for url, response in results if response.status_code == 200]
    refused = [response for _, response in results if response.status_code == 429]
    assert len(ok) + len(refused) == len(results), [r.status_code for _, r in results]
    # Both replicas served some and refused some: one budget, two doors.
    assert {cluster.a.url, cluster.b.url} == set(ok)
    assert refused
    used = len(ok) * TOKENS_PER_REQUEST
    assert used <= TPM + TPM / 60 * elapsed, (len(ok), elapsed)
    # Per-replica budgets would have let all 60 through (60 × 18 = 1080 tokens).
    assert len(ok) >= TPM // 24 - 2
    for response in refused:
        assert response.json()["error"]["type"] == "rate_limit_error"
        assert int(response.headers["retry-after"]) >= 1


def test_a_cooldown_set_on_one_replica_is_honoured_by_the_other(cluster: Cluster) -> None:
    cluster.provider.script(Fail(429, headers={"Retry-After": "30"}))
    first = httpx.post(cluster.a.url + "/v1/chat/completions", json=body("openai/cool"), timeout=10)
    assert first.status_code == 503, first.text
    assert "429" in first.json()["error"]["message"]
    calls = len(cluster.provider.requests)
    # Replica B never saw that 429, yet skips the model without calling the provider.
    second = httpx.post(cluster.b.url + "/v1/chat/completions", json=body("openai/cool"), timeout=10)
    assert second.status_code == 503, second.text
    assert second.json()["error"]["attempts"][0]["error"] == "cooling"
    assert 1 <= int(second.headers["retry-after"]) <= 30
    assert len(cluster.provider.requests) == calls


def metric_value(url: str, name: str, **labels: str) -> float:
    wanted = name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
    for line in httpx.get(url + "/metrics").text.splitlines():
        if line.startswith(wanted):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_redis_killed_mid_test_fails_open_as_configured_then_recovers(cluster: Cluster) -> None:
    urls = [cluster.a.url, cluster.b.url]
    # The policy rule allows 2 requests per minute over both replicas.
    statuses = [r.status_code for _, r in asyncio.run(burst(urls, "openai/policy", 3))]
    assert sorted(statuses) == [200, 200, 429, 429, 429, 429]
    cluster.redis.stop()
    try:
        # Fail open: both replicas let every request through, and count it.
        statuses = [r.status_code for _, r in asyncio.run(burst(urls, "openai/policy", 3))]
        assert statuses == [200] * 6
        for url in urls:
            assert (
                metric_value(
                    url, "llmroute_shared_state_errors_total", operation="rate_limit", outcome="allowed"
                )
                >= 1
            )
            assert httpx.get(url + "/healthz").status_code == 200
    finally:
        cluster.redis.start()
    # Redis is back (empty): limiting resumes once the back-off has passed.
    deadline = time.monotonic() + 10
    while True:
        statuses = [r.status_code for _, r in asyncio.run(burst(urls, "openai/policy", 3))]
        if 429 in statuses or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert 429 in statuses
    assert cluster.a.alive and cluster.b.alive


def test_redis_down_with_deny_policy_refuses_in_the_clients_format(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path)
    redis.start()
    with FakeProvider() as provider:
        text = f"""
model_providers: [{{model: openai/gpt-4o, access_key: sk-x-1, base_url: {provider.url}, default: true}}]
{NO_ROUTER}
shared_state: {{type: redis, url: "{redis.url}", timeout_ms: 200}}
rate_limits: {{on_store_error: deny, rules: [{{requests_per_minute: 100}}]}}
"""
        with RunningGateway(text) as gw, httpx.Client(base_url=gw.url, timeout=10) as http:
            assert http.post("/v1/chat/completions", json=body("openai/gpt-4o")).status_code == 200
            redis.stop()
            chat = http.post("/v1/chat/completions", json=body("openai/gpt-4o"))
            anthropic = http.post("/v1/messages", json=body("openai/gpt-4o"))
    assert chat.status_code == 503 and anthropic.status_code == 503
    assert chat.json()["error"]["code"] == "rate_limit_store_unavailable"
    assert anthropic.json()["type"] == "error"
    assert chat.headers["retry-after"] == "1"
