"""Generated route examples (routing.router.examples): written in the background by a configured model,
shared through the cache, never in a request's way. The generator is a real HTTP server (fakes/generator.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from conftest import RunningGateway
from fakes.generator import FakeGenerator
from fakes.providers import wait_until
from llmroute.cli import main
from llmroute.config import ConfigError, load_config, load_config_text

COOKING = [
    "how long do I boil spaghetti for al dente",
    "what can I cook tonight with rice, eggs and spinach",
    "my bread dough won't rise, what did I do wrong",
    "recipe for a quick tomato soup",
    "how do I sear a steak in a cast iron pan",
]
CARS = [
    "my car makes a grinding noise when I brake",
    "how often should I change the oil in a 2015 Civic",
    "check engine light came on after filling up",
    "what tire pressure for a Golf on the highway",
    "the battery died twice this week, alternator?",
]
EXAMPLES = {"alpha": COOKING, "beta": CARS}
PASTA = "how many minutes should fresh tagliatelle cook in boiling water?"


def config(
    generator_url: str, *, interface: str = "openai", extra: str = "", examples: str = "", routes: str = ""
) -> str:
    provider = "openai/gpt-4o-mini" if interface == "openai" else "anthropic/claude-haiku"
    routes = (
        routes
        or """
  - name: alpha
    description: requests for team alpha
    models: [echo/a]
  - name: beta
    description: requests for team beta
    models: [echo/b]
"""
    )
    return f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 5s}}]
model_providers:
  - model: echo/a
    default: true
  - model: echo/b
  - model: {provider}
    access_key: sk-generator-test-key
    base_url: {generator_url}
routing_preferences:{routes}
routing:
  router:
    type: embedded
    examples: {{generator: {provider}, per_route: 5, retry_seconds: 0.2, timeout_ms: 1000{examples}}}
{extra}
"""


def decide(gateway: RunningGateway, text: str, **body: Any) -> dict[str, Any]:
    response = httpx.post(
        gateway.url + "/routing/v1/chat/completions",
        json={"messages": [{"role": "user", "content": text}], **body},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def examples_status(gateway: RunningGateway) -> str:
    return httpx.get(gateway.url + "/readyz", timeout=5).json().get("route_examples", "")


def wait_for(predicate: Any, timeout: float = 20.0) -> bool:
    return wait_until(predicate, timeout)


def example_sets(gateway: RunningGateway, result: str) -> float:
    text = httpx.get(gateway.url + "/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "llmroute_route_example_sets_total" and sample.labels.get("result") == result:
                return sample.value
    return 0.0


@pytest.mark.parametrize("interface", ["openai", "anthropic"])
def test_config_routes_get_examples_in_the_background(interface: str) -> None:
    with (
        FakeGenerator(EXAMPLES) as generator,
        RunningGateway(config(generator.url, interface=interface)) as gw,
    ):
        assert wait_for(lambda: examples_status(gw) == "ready"), examples_status(gw)
        assert decide(gw, PASTA)["route"] == "alpha"
        assert decide(gw, "my brakes squeal every morning, do the pads need changing?")["route"] == "beta"
        # One call per route, each showing the whole route set, sent with the configured key.
        assert sorted(generator.routes_asked()) == ["alpha", "beta"]  # type: ignore[type-var]
        for call in generator.calls:
            assert "- alpha: requests for team alpha" in call.prompt
            assert "- beta: requests for team beta" in call.prompt
            expected_path = "/v1/chat/completions" if interface == "openai" else "/v1/messages"
            assert call.path == expected_path
            auth = call.headers.get("authorization", "") + call.headers.get("x-api-key", "")
            assert "sk-generator-test-key" in auth


def test_descriptions_only_until_the_examples_arrive() -> None:
    with FakeGenerator(EXAMPLES, mode="hang") as generator, RunningGateway(config(generator.url)) as gw:
        # The generator hangs: requests are answered at once, from the descriptions alone.
        started = time.monotonic()
        assert decide(gw, PASTA)["route"] is None
        assert time.monotonic() - started < 2.0
        assert examples_status(gw) in ("generating", "retrying")
        assert httpx.get(gw.url + "/readyz", timeout=5).status_code == 200
        generator.mode = "ok"
        assert wait_for(lambda: examples_status(gw) == "ready")
        assert decide(gw, PASTA)["route"] == "alpha"


@pytest.mark.parametrize("mode", ["fail", "hang", "garbage"])
def test_a_failing_generator_is_counted_and_retried_never_fails_a_request(mode: str) -> None:
    with FakeGenerator(EXAMPLES, mode=mode) as generator, RunningGateway(config(generator.url)) as gw:
        before = example_sets(gw, "failed")
        assert wait_for(lambda: example_sets(gw, "failed") > before, timeout=10)
        for _ in range(3):
            assert decide(gw, PASTA)["route"] is None  # answered, with descriptions only
        assert examples_status(gw) == "retrying"
        calls = len(generator.calls)
        generator.mode = "ok"
        # Retried after the back-off (0.2 s, doubling), then used.
        assert wait_for(lambda: examples_status(gw) == "ready")
        assert len(generator.calls) > calls
        assert decide(gw, PASTA)["route"] == "alpha"


def test_hand_written_examples_win_over_generated_ones() -> None:
    routes = """
  - name: alpha
    description: requests for team alpha
    models: [echo/a]
    examples: ["my car makes a grinding noise when I brake", "check engine light is on"]
  - name: beta
    description: requests for team beta
    models: [echo/b]
"""
    # Were alpha given generated examples, they would be about cooking.
    scripted = {"alpha": COOKING, "beta": COOKING}
    with FakeGenerator(scripted) as generator, RunningGateway(config(generator.url, routes=routes)) as gw:
        assert wait_for(lambda: examples_status(gw) == "ready")
        assert generator.routes_asked() == ["beta"]  # alpha's own examples are not replaced
        assert decide(gw, "there's a grinding sound from the front wheel when braking")["route"] == "alpha"


def test_two_gateways_share_generated_examples_through_redis(redis_server) -> None:  # type: ignore[no-untyped-def]
    extra = f"  session_store: {{type: redis, url: {redis_server.url}}}"
    with FakeGenerator(EXAMPLES) as generator:
        with RunningGateway(config(generator.url, extra=extra)) as first:
            assert wait_for(lambda: examples_status(first) == "ready")
        assert len(generator.calls) == 2
        with RunningGateway(config(generator.url, extra=extra)) as second:
            assert wait_for(lambda: examples_status(second) == "ready")
            assert example_sets(second, "loaded") >= 1
            assert decide(second, PASTA)["route"] == "alpha"
        assert len(generator.calls) == 2  # the second replica asked nobody


def test_generated_examples_survive_a_restart_in_cache_dir(tmp_path: Path) -> None:
    cache = tmp_path / "examples"
    with FakeGenerator(EXAMPLES) as generator:
        text = config(generator.url, examples=f", cache_dir: {cache}")
        with RunningGateway(text) as gw:
            assert wait_for(lambda: examples_status(gw) == "ready")
        (stored,) = cache.glob("*.json")
        assert "tagliatelle" not in stored.read_text() and "spaghetti" in stored.read_text()
        with RunningGateway(text) as gw:
            assert wait_for(lambda: examples_status(gw) == "ready")
        assert len(generator.calls) == 2


def test_inline_route_sets_get_examples_on_their_second_use() -> None:
    inline = [
        {"name": "crew_one", "description": "questions for crew one", "models": ["echo/a"]},
        {"name": "crew_two", "description": "questions for crew two", "models": ["echo/b"]},
    ]
    scripted = {**EXAMPLES, "crew_one": COOKING, "crew_two": CARS}
    with FakeGenerator(scripted) as generator, RunningGateway(config(generator.url)) as gw:
        assert wait_for(lambda: examples_status(gw) == "ready")  # the config routes first
        first = decide(gw, PASTA, routing_preferences=inline)
        assert first["route"] is None  # served at once with descriptions only
        assert wait_for(lambda: {"crew_one", "crew_two"} <= set(generator.routes_asked()))
        assert wait_for(lambda: decide(gw, PASTA, routing_preferences=inline)["route"] == "crew_one")


def test_routes_expand_writes_yaml_that_the_config_includes(tmp_path: Path) -> None:
    with FakeGenerator(EXAMPLES) as generator:
        path = tmp_path / "llmroute.yaml"
        path.write_text(config(generator.url))
        out = tmp_path / "route-examples.yaml"
        result = CliRunner().invoke(main, ["routes", "expand", str(path), "--output", str(out)])
        assert result.exit_code == 0, result.output
        assert sorted(generator.routes_asked()) == ["alpha", "beta"]  # type: ignore[type-var]
    written = yaml.safe_load(out.read_text())
    assert written == {"examples": {"alpha": COOKING, "beta": CARS}}
    assert out.read_text().startswith("# Route examples written by openai/gpt-4o-mini")
    # Included by a config without a generator: the reviewed file counts as hand-written.
    reviewed = tmp_path / "reviewed.yaml"
    reviewed.write_text(
        path.read_text().replace(
            "examples: {generator: openai/gpt-4o-mini, per_route: 5, retry_seconds: 0.2, timeout_ms: 1000}",
            "examples: {include: route-examples.yaml}",
        )
    )
    loaded = load_config(reviewed)
    assert {r.name: list(r.examples) for r in loaded.routes} == {"alpha": COOKING, "beta": CARS}
    routed = CliRunner().invoke(main, ["route", str(reviewed), PASTA])
    assert routed.exit_code == 0 and '"route": "alpha"' in routed.output


def test_routes_expand_without_a_generator_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("model_providers: [{model: echo/a, default: true}]\n")
    result = CliRunner().invoke(main, ["routes", "expand", str(path)])
    assert result.exit_code == 2 and "no generator" in result.output


@pytest.mark.parametrize(
    ("examples", "message"),
    [
        (
            "{generator: openai/nope}",
            "routing.router.examples.generator: model 'openai/nope' is not declared",
        ),
        ("{generator: echo/a}", "the echo provider cannot write examples"),
        ("{include: /nonexistent/examples.yaml}", "routing.router.examples.include: cannot read"),
        ("{per_route: 1}", "per_route"),
    ],
)
def test_bad_examples_config_is_one_clear_error(examples: str, message: str) -> None:
    text = f"""
model_providers: [{{model: echo/a, default: true}}, {{model: openai/gpt-4o, access_key: k}}]
routing: {{router: {{examples: {examples}}}}}
"""
    with pytest.raises(ConfigError) as err:
        load_config_text(text)
    assert message in str(err.value)


def test_a_config_reload_keeps_the_examples_it_has() -> None:
    from llmroute.server.gateway import Gateway
    from llmroute.server.reload import carry_state

    with FakeGenerator(EXAMPLES) as generator, RunningGateway(config(generator.url)) as gw:
        assert wait_for(lambda: examples_status(gw) == "ready")
        new = Gateway(load_config_text(config(generator.url)))
        carry_state(gw.gateway, new)
        assert new.route_examples is not None and new.route_examples.status() == "ready"
        assert len(generator.calls) == 2  # the reloaded gateway asks nobody again
