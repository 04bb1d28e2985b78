"""The routing console (/console): its JSON API against a live gateway, its access rules, and the page
driven in headless Chromium (Debian's `chromium`, through Playwright) with screenshots saved under
test-artifacts/console/ (LLMROUTE_TEST_ARTIFACTS overrides the folder)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import RunningGateway

ARTIFACTS = Path(os.environ.get("LLMROUTE_TEST_ARTIFACTS", "test-artifacts")) / "console"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ROUTES = """
routing_preferences:
  - name: code_generation
    description: writing, fixing or explaining code, functions, scripts and SQL queries in a programming language
    models: [echo/smart, echo/fast]
  - name: creative_writing
    description: poems, haiku, short stories, song lyrics and other creative writing
    models: [echo/creative]
  - name: travel
    description: booking flights, hotels and train tickets for a trip
    models: [echo/fast]
"""


def config(console: str = "console: {enabled: true}", auth: str = "") -> str:
    return f"""
version: v0.4.0
model_providers:
  - {{model: echo/fast, default: true}}
  - {{model: echo/smart}}
  - {{model: echo/creative}}
  - {{model: echo/general, name: general, weight: 3, deployment_id: general-a}}
  - {{model: echo/general, name: general, weight: 1, deployment_id: general-b}}
{ROUTES}
{console}
{auth}
"""


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    with RunningGateway(config("console: {enabled: true, recent: 50}")) as running:
        yield running


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


# --- API -----------------------------------------------------------------------------------------


def test_console_is_off_by_default() -> None:
    with RunningGateway(config(console="")) as running, httpx.Client(base_url=running.url) as client:
        assert client.get("/console").status_code == 404
        assert client.get("/console/api/state").status_code == 404
        assert client.post("/console/api/decide", json={"messages": user("hi")}).status_code == 404


def test_state_lists_the_configs_routes(http: httpx.Client) -> None:
    state = http.get("/console/api/state").json()
    assert [r["name"] for r in state["routes"]] == ["code_generation", "creative_writing", "travel"]
    assert state["routes"][0]["models"] == ["echo/smart", "echo/fast"]
    assert state["default_model"] == "echo/fast"
    assert state["router"]["type"] == "embedded"


def test_decide_shows_every_routes_score_and_the_ranked_models(http: httpx.Client) -> None:
    result = http.post(
        "/console/api/decide", json={"messages": user("Write a haiku about the sea in autumn")}
    ).json()
    assert result["route"] == "creative_writing"
    assert result["models"] == ["echo/creative"]
    scores = result["details"]["scores"]
    assert set(scores) == {"code_generation", "creative_writing", "travel"}
    assert max(scores, key=scores.get) == "creative_writing"
    assert result["latency_ms"] > 0


def test_an_edited_description_changes_the_decision(http: httpx.Client) -> None:
    prompt = user("Which castle in Scotland has the best ghost stories?")
    routes = [
        {"name": "code_generation", "description": "writing and debugging Python code"},
        {"name": "travel", "description": "booking flights, hotels and train tickets"},
    ]
    before = http.post("/console/api/decide", json={"messages": prompt, "routes": routes}).json()
    routes.append({"name": "castles", "description": "castles, ghosts and haunted places in Scotland"})
    after = http.post("/console/api/decide", json={"messages": prompt, "routes": routes}).json()
    assert after["route"] == "castles"
    assert after["details"]["scores"]["castles"] > before["details"]["scores"].get("travel", -1.0)
    # Routes being tried need no models: the fallback (default) model is what would serve.
    assert after["models"] == ["echo/fast"]


def test_decide_rejects_bad_input_clearly(http: httpx.Client) -> None:
    bad = http.post("/console/api/decide", json={"messages": "hi"})
    assert bad.status_code == 400 and "messages" in bad.json()["error"]["message"]
    unknown = http.post(
        "/console/api/decide",
        json={"messages": user("hi"), "routes": [{"name": "a", "description": "b", "models": ["gpt-99"]}]},
    )
    assert unknown.status_code == 400
    assert "routes[0].models[0]" in unknown.json()["error"]["message"]
    duplicate = http.post(
        "/console/api/decide",
        json={"messages": user("hi"), "routes": [{"name": "a", "description": "b"}] * 2},
    )
    assert duplicate.status_code == 400 and "duplicate" in duplicate.json()["error"]["message"]


EVAL_CASES = "\n".join(
    json.dumps(case)
    for case in [
        {
            "id": "1",
            "messages": user("Write a SQL query for the top customers"),
            "expected": "code_generation",
            "scenario": "code",
        },
        {
            "id": "2",
            "messages": user("Fix this Python function that crashes"),
            "expected": "code_generation",
            "scenario": "code",
        },
        {
            "id": "3",
            "messages": user("Write a poem about my cat"),
            "expected": "creative_writing",
            "scenario": "creative",
        },
        {
            "id": "4",
            "messages": user("Book me a hotel in Rome for Friday"),
            "expected": "travel",
            "scenario": "travel",
        },
        {"id": "5", "messages": user("thanks!"), "expected": None, "scenario": "closing"},
    ]
)


def test_eval_upload_reports_accuracy_scenarios_and_confusions(http: httpx.Client) -> None:
    report = http.post("/console/api/eval", json={"cases": EVAL_CASES}).json()
    assert report["cases"] == 5
    assert set(report["per_scenario"]) == {"code", "creative", "travel", "closing"}
    correct = sum(s["correct"] for s in report["per_scenario"].values())
    assert report["accuracy"] == pytest.approx(correct / 5, abs=1e-3)
    assert isinstance(report["confusions"], list)
    bad = http.post("/console/api/eval", json={"cases": '{"messages": []}'})
    assert bad.status_code == 400 and "upload:1" in bad.json()["error"]["message"]


def test_live_view_lists_recent_requests_without_content(http: httpx.Client) -> None:
    secret_prompt = "Write a haiku about my secret project falcon"
    response = http.post("/v1/chat/completions", json={"messages": user(secret_prompt)})
    assert response.status_code == 200
    live = http.get("/console/api/live").json()
    row = next(r for r in live["recent"] if r["endpoint"] == "/v1/chat/completions")
    assert row["route"] == "creative_writing" and row["model"] == "echo/creative"
    assert row["status"] == 200 and row["pinned"] is False and row["failovers"] == 0
    assert "content" not in row and "falcon" not in json.dumps(live)
    assert live["cooldowns"] == [] and live["metrics"] is None


def test_live_view_shows_content_when_asked() -> None:
    text = config("console: {enabled: true, show_content: true}")
    with RunningGateway(text) as running, httpx.Client(base_url=running.url) as client:
        client.post("/routing/v1/chat/completions", json={"messages": user("Book a flight to Oslo")})
        row = client.get("/console/api/live").json()["recent"][0]
        assert row["content"] == "Book a flight to Oslo"
        assert row["route"] == "travel"


def test_with_keys_the_console_needs_an_admin_key() -> None:
    auth = "auth: {keys: [{key: sk-admin-1, name: ops, admin: true}, {key: sk-app-1, name: app}]}"
    with RunningGateway(config(auth=auth)) as running, httpx.Client(base_url=running.url) as client:
        page = client.get("/console")  # the page has no data: served without a key
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert client.get("/console/api/state").status_code == 401
        refused = client.get("/console/api/state", headers={"Authorization": "Bearer sk-app-1"})
        assert refused.status_code == 403 and "admin: true" in refused.json()["error"]["message"]
        assert "sk-app-1" not in refused.text
        ok = client.get("/console/api/live", headers={"Authorization": "Bearer sk-admin-1"})
        assert ok.status_code == 200


def test_the_page_loads_nothing_from_elsewhere(http: httpx.Client) -> None:
    page = http.get("/console").text
    assert "http://" not in page and "https://" not in page
    for asset in ("/console/console.js", "/console/console.css"):
        response = http.get(asset)
        assert response.status_code == 200
        # No URL at all except the SVG namespace name (an identifier, never fetched).
        text = response.text.replace('"http://www.w3.org/2000/svg"', "")
        assert "https://" not in text and "http://" not in text


# --- the page in a real browser ------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser_page() -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("chromium is not installed (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as driver, tempfile.TemporaryDirectory() as profile:
        context = driver.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1366, "height": 900},
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.errors = errors  # type: ignore[attr-defined]
        try:
            yield page
        finally:
            context.close()


def test_browser_playground_decides_and_renders_scores(gateway: RunningGateway, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    page.goto(gateway.url + "/console")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#route-list .route").count() == 3
    page.fill("#conversation", "Write a Python function that merges two sorted lists")
    page.click("#decide")
    page.wait_for_selector("#decision:not([hidden]) #score-bars .bar")
    assert page.text_content("#d-route") == "code_generation"
    assert page.text_content("#d-models") == "echo/smart → echo/fast"
    # The bars show the scores the API gives for the same request.
    api = httpx.post(
        gateway.url + "/console/api/decide",
        json={"messages": user("Write a Python function that merges two sorted lists")},
        timeout=30,
    ).json()
    for name, score in api["details"]["scores"].items():
        shown = page.text_content(f'#score-bars .bar[data-route="{name}"] .value')
        assert float(shown) == pytest.approx(score, abs=1e-3)
    assert page.get_attribute('#score-bars .bar[data-route="code_generation"]', "class") == "bar best"
    page.screenshot(path=str(ARTIFACTS / "playground.png"), full_page=True)

    # Edit a description: the decision follows as you type.
    page.fill("#conversation", "Which castle in Scotland has the best ghost stories?")
    page.click("#add-route")
    card = page.locator("#route-list .route").last
    card.locator(".name").fill("castles")
    card.locator(".description").fill("castles, ghosts and haunted places in Scotland")
    # (A locator wait: the page's CSP refuses the eval behind wait_for_function.)
    page.wait_for_selector('#d-route:text-is("castles")', timeout=15000)
    assert page.locator('#score-bars .bar[data-route="castles"]').count() == 1
    page.screenshot(path=str(ARTIFACTS / "playground-edited.png"), full_page=True)
    assert not page.errors  # type: ignore[attr-defined]


def test_browser_evaluate_and_live_view(gateway: RunningGateway, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    for prompt in ("Write a poem about rain", "Book a train to Lyon", "What time is it?"):
        httpx.post(gateway.url + "/v1/chat/completions", json={"messages": user(prompt)}, timeout=30)
    for i in range(4):  # a model with two deployments, in one pinned session
        body = {"model": "general", "messages": user(f"Status report number {i}")}
        headers = {"X-Session-Id": "console-demo"}
        httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)
    page.goto(gateway.url + "/console")
    page.wait_for_selector("body[data-ready=true]")

    page.click('#tabs button[data-tab="evaluate"]')
    page.fill("#eval-text", EVAL_CASES)
    page.click("#run-eval")
    page.wait_for_selector("#eval-result:not([hidden])")
    assert page.text_content("#e-accuracy").endswith("%")
    assert page.locator("#e-scenarios .bar").count() == 4
    page.screenshot(path=str(ARTIFACTS / "evaluate.png"), full_page=True)

    page.click('#tabs button[data-tab="live"]')
    page.wait_for_selector("#recent tbody tr td")
    rows = page.locator("#recent tbody tr")
    assert rows.count() >= 3
    assert "travel" in page.text_content("#recent tbody")
    assert page.locator("#latency-chart svg rect").count() == 12
    assert "yes" in page.text_content("#recent tbody")  # the pinned session's later requests
    assert "general-a" in page.text_content("#deployments") and "general-b" in page.text_content(
        "#deployments"
    )
    page.screenshot(path=str(ARTIFACTS / "live.png"), full_page=True)
    assert not page.errors  # type: ignore[attr-defined]
