"""Gateway API keys: 401 in the client's format without a valid key, open probe paths, allowed models."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from conftest import RunningGateway
from llmroute.config import ConfigError, load_config_text

TEAM_A = "gw-team-a-4f1c9e2b7d"
TEAM_B = "gw-team-b-8a0e3c6f51"

CONFIG = """
model_providers:
  - model: echo/small
    default: true
  - model: echo/large
  - model: other/model-x
    provider_interface: openai
    base_url: http://127.0.0.1:9
auth:
  keys:
    - key: $TEAM_A_KEY
      name: team-a
    - key: ${TEAM_B_KEY}
      name: team-b
      allowed_models: [echo/small]
"""

PATHS = {
    "openai_chat": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "responses": "/v1/responses",
}
BODIES = {
    "openai_chat": {"messages": [{"role": "user", "content": "hi"}]},
    "anthropic": {"max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]},
    "responses": {"input": "hi"},
}


@pytest.fixture(scope="module")
def gw() -> Iterator[RunningGateway]:
    with RunningGateway(CONFIG, env={"TEAM_A_KEY": TEAM_A, "TEAM_B_KEY": TEAM_B}) as gateway:
        yield gateway


def check_401(fmt: str, response: httpx.Response, fragment: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    if fmt == "anthropic":
        assert body["type"] == "error"
        assert body["error"]["type"] == "authentication_error"
        message = body["error"]["message"]
    else:
        assert body["error"]["type"] == "authentication_error"
        assert body["error"]["code"] == "invalid_api_key"
        message = body["error"]["message"]
    assert fragment in message


@pytest.mark.parametrize("family", ["", "/routing"])
@pytest.mark.parametrize("fmt", list(PATHS))
def test_no_key_is_401_in_the_clients_format(gw: RunningGateway, fmt: str, family: str) -> None:
    response = httpx.post(gw.url + family + PATHS[fmt], json=BODIES[fmt])
    check_401(fmt, response, "Missing API key")


@pytest.mark.parametrize("fmt", list(PATHS))
def test_wrong_key_is_401_and_never_echoed(
    gw: RunningGateway, fmt: str, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "gw-not-a-real-key-123456"
    with caplog.at_level(logging.DEBUG):
        response = httpx.post(gw.url + PATHS[fmt], json=BODIES[fmt], headers={"x-api-key": wrong})
    check_401(fmt, response, "Invalid API key")
    assert wrong not in response.text
    assert wrong not in caplog.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {TEAM_A}"},
        {"x-api-key": TEAM_A},
        {"api-key": TEAM_A},
        {"authorization": f"bearer {TEAM_A}"},
    ],
    ids=["bearer", "x-api-key", "api-key", "lowercase-scheme"],
)
def test_each_sdk_way_of_sending_the_key_works(gw: RunningGateway, headers: dict[str, str]) -> None:
    response = httpx.post(gw.url + PATHS["openai_chat"], json=BODIES["openai_chat"], headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "echo: hi"


def test_every_format_and_family_serves_a_valid_key(gw: RunningGateway) -> None:
    for fmt, path in PATHS.items():
        for family in ("", "/routing"):
            response = httpx.post(gw.url + family + path, json=BODIES[fmt], headers={"x-api-key": TEAM_A})
            assert response.status_code == 200, (fmt, family, response.text)


def test_probes_and_metrics_stay_open_the_rest_is_closed(gw: RunningGateway) -> None:
    assert httpx.get(gw.url + "/healthz").status_code == 200
    assert httpx.get(gw.url + "/readyz").status_code == 200
    assert httpx.get(gw.url + "/metrics").status_code == 200
    assert httpx.get(gw.url + "/v1/models").status_code == 401
    assert httpx.get(gw.url + "/v1/models", headers={"x-api-key": TEAM_B}).status_code == 200
    # An unknown path is refused before it is looked up: no probing of what exists without a key.
    assert httpx.get(gw.url + "/v1/nothing").status_code == 401


def test_failures_are_counted(gw: RunningGateway) -> None:
    httpx.post(gw.url + PATHS["openai_chat"], json=BODIES["openai_chat"], headers={"x-api-key": "nope-nope"})
    text = httpx.get(gw.url + "/metrics").text
    assert 'llmroute_auth_failures_total{reason="invalid"}' in text
    assert 'llmroute_auth_failures_total{reason="missing"}' in text


def test_allowed_models_restrict_a_key(gw: RunningGateway) -> None:
    headers = {"x-api-key": TEAM_B}
    ok = httpx.post(
        gw.url + PATHS["openai_chat"], json={**BODIES["openai_chat"], "model": "echo/small"}, headers=headers
    )
    assert ok.status_code == 200, ok.text
    refused = httpx.post(
        gw.url + PATHS["anthropic"], json={**BODIES["anthropic"], "model": "echo/large"}, headers=headers
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["type"] == "permission_error"
    assert "echo/large" in refused.json()["error"]["message"]
    # The decision endpoint agrees with the proxy.
    decision = httpx.post(
        gw.url + "/routing" + PATHS["openai_chat"],
        json={**BODIES["openai_chat"], "model": "echo/large"},
        headers=headers,
    )
    assert decision.status_code == 403
    # Team A has no restriction.
    other = httpx.post(
        gw.url + PATHS["openai_chat"],
        json={**BODIES["openai_chat"], "model": "echo/large"},
        headers={"x-api-key": TEAM_A},
    )
    assert other.status_code == 200


def test_allowed_models_filter_a_routed_candidate_list(gw: RunningGateway) -> None:
    """Inline preferences rank [large, small]; team B only gets small."""
    body = {
        **BODIES["openai_chat"],
        "messages": [{"role": "user", "content": "write a python function that reverses a list"}],
        "routing_preferences": [
            {
                "name": "code",
                "description": "writing code, programming functions",
                "models": ["echo/large", "echo/small"],
            }
        ],
    }
    response = httpx.post(gw.url + "/routing/v1/chat/completions", json=body, headers={"x-api-key": TEAM_B})
    assert response.status_code == 200, response.text
    assert response.json()["route"] == "code"
    assert response.json()["models"] == ["echo/small"]
    # Without the restriction the same request gets both.
    response = httpx.post(gw.url + "/routing/v1/chat/completions", json=body, headers={"x-api-key": TEAM_A})
    assert response.json()["models"] == ["echo/large", "echo/small"]


def test_open_paths_are_configurable() -> None:
    config = CONFIG + "  open_paths: [/healthz]\n"
    with RunningGateway(config, env={"TEAM_A_KEY": TEAM_A, "TEAM_B_KEY": TEAM_B}) as gateway:
        assert httpx.get(gateway.url + "/healthz").status_code == 200
        assert httpx.get(gateway.url + "/metrics").status_code == 401
        assert httpx.get(gateway.url + "/metrics", headers={"x-api-key": TEAM_A}).status_code == 200


def test_without_auth_nothing_changes() -> None:
    with RunningGateway("model_providers: [{model: echo/small, default: true}]\n") as gateway:
        assert gateway.gateway.governance is None
        response = httpx.post(gateway.url + PATHS["openai_chat"], json=BODIES["openai_chat"])
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ("auth: {keys: []}", "auth.keys: must have at least 1 item"),
        ("auth: {keys: [{key: a, name: x}, {key: b, name: x}]}", "duplicate key name 'x'"),
        ("auth: {keys: [{key: a, name: x}, {key: a, name: y}]}", "declared twice"),
        ("auth: {keys: [{key: a, name: x, role: admin}]}", "auth.keys[0].role: unknown key"),
        ("auth: {keys: [{key: $NOT_SET_ANYWHERE, name: x}]}", "NOT_SET_ANYWHERE is not set"),
    ],
)
def test_bad_auth_config_is_one_clear_line(section: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text("model_providers: [{model: echo/small}]\n" + section, env={})
    assert fragment in str(caught.value)
