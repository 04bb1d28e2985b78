"""Per-key scoping (issue 14): session pins (defect 5) and the /v1/models list, in memory and in Redis.

Team A pins a session to a model team B may not use. Team B sending the same session id must get
a pin of its own: not a 403 naming A's model (a denial, and a leak of A's choice).
"""

from __future__ import annotations

import httpx
import pytest

from conftest import RedisServer, RunningGateway

KEYS = {"TEAM_A_KEY": "team-a-secret-key-1111", "TEAM_B_KEY": "team-b-secret-key-2222"}


def config(store: str) -> str:
    return f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0}}]
model_providers:
  - model: echo/big
    default: true
  - model: echo/small
auth:
  keys:
    - {{key: $TEAM_A_KEY, name: team-a}}
    - {{key: $TEAM_B_KEY, name: team-b, allowed_models: [echo/small]}}
routing:
  router: {{type: arch_router, base_url: "http://127.0.0.1:9"}}
  session_store: {store}
"""


def ask(url: str, path: str, key: str, model: str, session: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {key}", "X-Session-Id": session}
    return httpx.post(url + path, json=body, headers=headers, timeout=10)


@pytest.mark.parametrize("store_type", ["memory", "redis"])
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/routing/v1/chat/completions"])
def test_a_session_id_of_another_key_neither_denies_nor_leaks(
    request: pytest.FixtureRequest, store_type: str, path: str
) -> None:
    if store_type == "redis":
        redis: RedisServer = request.getfixturevalue("redis_server")
        store = f'{{type: redis, url: "{redis.url}", timeout_ms: 500}}'
    else:
        store = "{type: memory}"
    with RunningGateway(config(store), env=KEYS) as gw:
        a = ask(gw.url, path, KEYS["TEAM_A_KEY"], "echo/big", "shared-session")
        assert a.status_code == 200, a.text
        b = ask(gw.url, path, KEYS["TEAM_B_KEY"], "echo/small", "shared-session")
        assert b.status_code == 200, b.text
        assert "echo/big" not in b.text
        if path.startswith("/routing"):
            assert b.json()["fallback_model"] == "echo/small" and b.json()["pinned"] is False
        else:
            assert b.headers["x-llmroute-model"] == "echo/small"
        # Each key's pin holds for its own later requests.
        again = ask(gw.url, path, KEYS["TEAM_A_KEY"], "echo/small", "shared-session")
        assert again.status_code == 200, again.text
        if path.startswith("/routing"):
            # A pinned no-route session keeps the no-route shape: the pinned model is the fallback.
            assert again.json()["fallback_model"] == "echo/big" and again.json()["pinned"] is True
        else:
            assert again.headers["x-llmroute-model"] == "echo/big"


def test_models_list_shows_only_what_the_key_may_use() -> None:
    text = (
        config("{type: memory}") + "model_aliases:\n  fast: {target: echo/small}\n  big: {target: echo/big}\n"
    )
    with RunningGateway(text, env=KEYS) as gw:

        def ids(key: str) -> set[str]:
            response = httpx.get(gw.url + "/v1/models", headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200, response.text
            return {m["id"] for m in response.json()["data"]}

        assert ids(KEYS["TEAM_A_KEY"]) == {"echo/big", "echo/small", "fast", "big"}
        assert ids(KEYS["TEAM_B_KEY"]) == {"echo/small", "fast"}
