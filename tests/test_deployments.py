"""Several deployments of one model (entries sharing a `name`): load spread by weight or least in-flight,
a failing deployment cooled down on its own, every deployment tried before the next model, per-deployment
request budgets and metrics. Against real loopback fake providers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client import REGISTRY

from conftest import RunningGateway
from fakes.providers import Answer, Fail, FakeProvider
from llmroute.config import ConfigError, load_config_text
from llmroute.proxy.deployments import Balancer

KEY_A = "sk-east-secret-1111"
KEY_B = "sk-west-secret-2222"
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}


def config_text(a_url: str, b_url: str, weight_a: float = 1, weight_b: float = 1, extra: str = "") -> str:
    return f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 2s}}]
model_providers:
  - model: openai/gpt-4o
    name: gpt-4o
    access_key: {KEY_A}
    base_url: {a_url}
    weight: {weight_a}
    deployment_id: east
    default: true
  - model: azure_openai/gpt-4o-west
    name: gpt-4o
    access_key: {KEY_B}
    base_url: {b_url}
    weight: {weight_b}
    deployment_id: west
  - model: echo/backup
model_aliases:
  smart: {{target: gpt-4o}}
{extra}
"""


@dataclass
class Setup:
    a: FakeProvider
    b: FakeProvider
    http: httpx.Client
    gateway: RunningGateway


@pytest.fixture
def make_setup() -> Iterator[object]:
    stack: list[object] = []

    def start(**kwargs: object) -> Setup:
        a, b = FakeProvider().__enter__(), FakeProvider().__enter__()
        stack.extend([a, b])
        gateway = RunningGateway(config_text(a.url, b.url, **kwargs)).__enter__()  # type: ignore[arg-type]
        stack.append(gateway)
        http = httpx.Client(base_url=gateway.url, timeout=10)
        stack.append(http)
        return Setup(a, b, http, gateway)

    yield start
    for item in reversed(stack):
        item.__exit__(None, None, None)  # type: ignore[attr-defined]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- configuration -------------------------------------------------------------------------------


def test_entries_sharing_a_name_are_one_model_with_deployments() -> None:
    config = load_config_text(config_text("http://127.0.0.1:9", "http://127.0.0.1:9"))
    assert list(config.models) == ["openai/gpt-4o", "echo/backup"]
    assert [d.id for d in config.deployments["openai/gpt-4o"]] == ["east", "west"]
    # Every way of naming a deployment names the model.
    for ref in ("gpt-4o", "openai/gpt-4o", "azure_openai/gpt-4o-west", "gpt-4o-west"):
        assert config.resolve_model(ref) == "openai/gpt-4o"
    assert config.aliases == {"smart": "openai/gpt-4o"}
    assert config.default_model == "openai/gpt-4o"


def test_deployment_ids_default_to_the_model_name_numbered() -> None:
    config = load_config_text(
        """
model_providers:
  - {model: openai/gpt-4o, name: gpt-4o, access_key: a}
  - {model: openai/gpt-4o, name: gpt-4o, access_key: b, weight: 2}
"""
    )
    ids = [d.id for d in config.deployments["openai/gpt-4o"]]
    assert ids == ["openai/gpt-4o#1", "openai/gpt-4o#2"]
    assert not {"a", "b"} & set(ids)  # never the key


def test_the_same_model_twice_without_a_shared_name_is_still_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text("model_providers: [{model: openai/gpt-4o}, {model: openai/gpt-4o}]")
    assert "give the entries the same `name`" in str(info.value)


def test_bad_deployment_settings_are_errors() -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(
            """
model_providers:
  - {model: openai/*, name: any}
  - {model: openai/gpt-4o, name: any}
  - {model: openai/gpt-4o-mini, name: mini, deployment_id: x}
  - {model: groq/llama, name: mini, deployment_id: x}
"""
        )
    text = str(info.value)
    assert "model_providers[1].name: name 'any' is shared with model_providers[0], but a wildcard" in text
    assert "deployment_id 'x' of openai/gpt-4o-mini is used twice" in text
    with pytest.raises(ConfigError) as info:
        load_config_text("model_providers: [{model: openai/a, weight: 0, deployment_id: 'k y'}]")
    assert "model_providers[0].weight: " in str(info.value)
    assert "model_providers[0].deployment_id: " in str(info.value)


# --- load spreading ------------------------------------------------------------------------------


def test_two_deployments_share_load_by_weight(make_setup) -> None:  # type: ignore[no-untyped-def]
    setup = make_setup(weight_a=3, weight_b=1)
    n = 200
    for _ in range(n):
        response = setup.http.post("/v1/chat/completions", json=CHAT)
        assert response.status_code == 200
        assert response.headers["x-llmroute-model"] == "openai/gpt-4o"
    a, b = len(setup.a.requests), len(setup.b.requests)
    assert a + b == n
    # Binomial(200, 0.75): mean 150, sd 6.1; these bounds are 5 sd wide.
    assert 120 <= a <= 180, (a, b)
    # Each deployment got its own key and its own upstream model id.
    assert setup.a.last.headers["authorization"] == f"Bearer {KEY_A}"
    assert setup.b.last.headers["api-key"] == KEY_B
    assert "gpt-4o-west" in setup.b.last.path
    assert (
        metric("llmroute_deployment_requests_total", model="openai/gpt-4o", deployment="east", outcome="ok")
        >= a
    )


def test_a_failing_deployment_is_skipped_while_the_other_serves(make_setup) -> None:  # type: ignore[no-untyped-def]
    setup = make_setup()
    setup.a.script(*[Fail(500)] * 100)
    for _ in range(30):
        response = setup.http.post("/v1/chat/completions", json=CHAT)
        assert response.status_code == 200
        assert response.headers["x-llmroute-model"] == "openai/gpt-4o"
    # East failed once, then rested (failure_cooldown 10s) while west served every request.
    assert len(setup.a.requests) == 1
    assert len(setup.b.requests) == 30
    assert (
        metric(
            "llmroute_deployment_requests_total",
            model="openai/gpt-4o",
            deployment="east",
            outcome="status_5xx",
        )
        >= 1
    )
    text = setup.http.get("/metrics").text
    assert 'deployment="east"' in text and 'deployment="west"' in text
    assert KEY_A not in text and KEY_B not in text


def test_an_alias_tries_every_deployment_and_names_each_failure(make_setup) -> None:  # type: ignore[no-untyped-def]
    setup = make_setup()
    setup.a.script(Fail(503))
    setup.b.script(Fail(429, headers={"Retry-After": "30"}))
    response = setup.http.post("/v1/chat/completions", json={**CHAT, "model": "smart"})
    # The alias has one model; both its deployments fail: an error naming both, and no key.
    assert response.status_code == 502
    reasons = " ".join(a["reason"] for a in response.json()["error"]["attempts"])
    assert "deployment east" in reasons and "deployment west" in reasons
    assert KEY_A not in response.text and KEY_B not in response.text


def test_failover_order_deployments_then_next_model() -> None:
    with FakeProvider() as a, FakeProvider() as b, FakeProvider() as router:
        router.script(*[Answer(text='{"route": "chain"}')] * 5)
        text = config_text(
            a.url,
            b.url,
            extra=f"""
routing_preferences:
  - {{name: chain, description: everything, models: [gpt-4o, echo/backup]}}
routing:
  router: {{type: arch_router, base_url: {router.url}, timeout_ms: 2000}}
""",
        )
        a.script(Fail(500))
        b.script(Fail(502))
        with RunningGateway(text) as gateway, httpx.Client(base_url=gateway.url, timeout=10) as http:
            response = http.post("/v1/chat/completions", json=CHAT)
            assert response.status_code == 200, response.text
            assert response.headers["x-llmroute-model"] == "echo/backup"
            assert response.headers["x-llmroute-route"] == "chain"
            assert len(a.requests) == 1 and len(b.requests) == 1
            # Inline preferences may name the model by its shared name too.
            inline = [{"name": "chain", "description": "everything", "models": ["gpt-4o"]}]
            decision = http.post(
                "/routing/v1/chat/completions", json={**CHAT, "routing_preferences": inline}
            ).json()
            assert decision["models"] == ["openai/gpt-4o"]


def test_requests_per_minute_skips_a_deployment_over_its_budget() -> None:
    with FakeProvider() as a, FakeProvider() as b:
        text = config_text(a.url, b.url).replace(
            "deployment_id: east", "deployment_id: east\n    requests_per_minute: 3"
        )
        with RunningGateway(text) as gateway, httpx.Client(base_url=gateway.url, timeout=10) as http:
            for _ in range(40):
                assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
            assert len(a.requests) == 3
            assert len(b.requests) == 37


def test_least_in_flight_prefers_the_idle_deployment() -> None:
    text = config_text("http://127.0.0.1:9", "http://127.0.0.1:9").replace(
        "model_aliases:", "routing:\n  load_balancing: {strategy: least_in_flight}\nmodel_aliases:"
    )
    balancer = Balancer(load_config_text(text))
    east, west = balancer.group("openai/gpt-4o")
    balancer.started(east)
    for _ in range(20):
        assert [s.target.deployment for s in balancer.plan("openai/gpt-4o").states] == ["west", "east"]
    balancer.finished(east, "ok")
    balancer.started(west)
    assert balancer.plan("openai/gpt-4o").states[0].target.deployment == "east"
    balancer.finished(west, "ok")


def test_a_stream_fails_over_to_the_other_deployment(make_setup) -> None:  # type: ignore[no-untyped-def]
    setup = make_setup(weight_a=1000, weight_b=0.001)  # east first, practically always
    setup.a.script(Fail(502))
    with setup.http.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as response:
        assert response.status_code == 200
        text = response.read().decode()
    assert "Hello" in text and "[DONE]" in text
    assert len(setup.a.requests) == 1 and len(setup.b.requests) == 1


def test_a_429_rests_only_that_deployment_for_its_retry_after(make_setup) -> None:  # type: ignore[no-untyped-def]
    setup = make_setup(weight_a=1000, weight_b=0.001)
    setup.a.script(Fail(429, headers={"Retry-After": "30"}))
    for _ in range(5):
        assert setup.http.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert len(setup.a.requests) == 1  # resting for 30 s
    assert len(setup.b.requests) == 5
    resting = setup.gateway.gateway.proxy.cooldowns.snapshot()
    assert set(resting) == {"east"} and 25 < resting["east"] <= 30
