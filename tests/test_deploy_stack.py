"""deploy/compose.yaml: the files it names fit together, and the stack's wiring works for real on loopback.

No container registry is reachable here, so the compose file itself is not run (`make image-test` builds and
runs the gateway image). What it wires is: two `llmroute up` replicas with deploy/compose/llmroute.yaml,
sharing a real redis-server (session pins), scraped by a real Prometheus with deploy/compose/prometheus.yml,
sending spans to an OTLP/HTTP collector. The service host names are swapped for loopback ports; nothing else
in the files changes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conftest import REPO, RedisServer, free_port
from gateway_process import GatewayProcess, start_all
from llmroute.config import load_config_text
from test_observability_tracing import Collector

DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
GATEWAYS = ("llmroute-1", "llmroute-2")
CONFIG_IN_IMAGE = "/etc/llmroute/llmroute.yaml"


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """container path -> host path (resolved against deploy/, as compose does)."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        found[target] = (DEPLOY / source).resolve()
    return found


# --- the files fit together ----------------------------------------------------------------------


def test_compose_has_the_stack() -> None:
    services = compose()["services"]
    assert set(services) == {"redis", *GATEWAYS, "prometheus", "grafana", "jaeger"}
    for name in GATEWAYS:
        service = services[name]
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        assert mounts(service)[CONFIG_IN_IMAGE] == DEPLOY / "compose" / "llmroute.yaml"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    for name, service in services.items():
        for target, source in mounts(service).items():
            assert source.exists(), f"{name}: {source} (mounted at {target}) does not exist"


def test_the_config_path_is_the_images() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert f"LLMROUTE_CONFIG_FILE={CONFIG_IN_IMAGE}" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert re.search(r"^USER 10001", dockerfile, re.MULTILINE)
    assert "ARG BASE_IMAGE=python:3.11-slim" in dockerfile


def test_the_gateway_config_points_at_the_stacks_services() -> None:
    config = load_config_text((DEPLOY / "compose" / "llmroute.yaml").read_text(), env={})
    raw = config.raw
    services = compose()["services"]
    assert raw.routing.session_store.type == "redis" and "//redis:6379" in str(raw.routing.session_store.url)
    assert raw.shared_state is not None and "//redis:6379" in str(raw.shared_state.url)
    assert raw.tracing is not None and raw.tracing.otlp_endpoint == "http://jaeger:4318"
    assert services["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    assert raw.console.enabled
    assert raw.listener.port == 12000
    assert [p.split(":")[1] for s in GATEWAYS for p in services[s]["ports"]] == ["12000", "12000"]
    assert len(config.deployments["echo/general"]) == 2
    # Both demo configs (the image's default and the stack's) validate with no keys.
    load_config_text((DEPLOY / "llmroute.yaml").read_text(), env={})


def test_prometheus_scrapes_both_replicas() -> None:
    scrape = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())["scrape_configs"][0]
    assert scrape["metrics_path"] == "/metrics"
    assert scrape["static_configs"][0]["targets"] == [f"{name}:12000" for name in GATEWAYS]
    promtool = shutil.which("promtool")
    if promtool is not None:
        checked = subprocess.run(
            [promtool, "check", "config", str(DEPLOY / "compose" / "prometheus.yml")],
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_grafana_is_provisioned_with_the_dashboard() -> None:
    services = compose()["services"]
    grafana = mounts(services["grafana"])
    assert grafana["/var/lib/grafana/dashboards/llmroute.json"] == REPO / "docs" / "grafana-dashboard.json"
    provisioning = grafana["/etc/grafana/provisioning"]
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    assert "9090:9090" in services["prometheus"]["ports"]
    dashboards = yaml.safe_load((provisioning / "dashboards" / "llmroute.yaml").read_text())
    assert dashboards["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


# --- the wiring, for real on loopback ------------------------------------------------------------


@pytest.fixture
def stack(tmp_path: Path, redis_server: RedisServer) -> Iterator[dict[str, Any]]:
    prometheus_binary = shutil.which("prometheus")
    if prometheus_binary is None:
        pytest.skip("the prometheus binary is not installed (apt-get install prometheus; make test does it)")
    with Collector() as collector:
        text = (DEPLOY / "compose" / "llmroute.yaml").read_text()
        text = text.replace("redis://redis:6379/0", redis_server.url).replace(
            "http://jaeger:4318", collector.url
        )
        one = GatewayProcess(text, tmp_path, "llmroute-1")
        two = GatewayProcess(text, tmp_path, "llmroute-2")
        prometheus = None
        try:
            start_all(one, two)
            scrape = (DEPLOY / "compose" / "prometheus.yml").read_text()
            scrape = scrape.replace("llmroute-1:12000", f"127.0.0.1:{one.port}")
            scrape = scrape.replace("llmroute-2:12000", f"127.0.0.1:{two.port}")
            scrape = scrape.replace("scrape_interval: 5s", "scrape_interval: 1s")  # a faster test
            (tmp_path / "prometheus.yml").write_text(scrape)
            port = free_port()
            prometheus = subprocess.Popen(
                [
                    prometheus_binary,
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            yield {"one": one, "two": two, "prometheus": f"http://127.0.0.1:{port}", "collector": collector}
        finally:
            if prometheus is not None:
                prometheus.terminate()
                prometheus.wait(timeout=10)
            one.stop()
            two.stop()


def wait_for(predicate: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.3)
    return predicate()


def test_the_stack_shares_pins_is_scraped_and_traced(stack: dict[str, Any]) -> None:
    one, two = stack["one"], stack["two"]
    body = {"messages": [{"role": "user", "content": "Write a Python function that sorts a list"}]}
    session = {"X-Session-Id": "compose-demo"}
    first = httpx.post(one.url + "/v1/chat/completions", json=body, headers=session, timeout=30)
    assert first.status_code == 200 and first.headers["x-llmroute-route"] == "code_generation"
    # The other replica answers the same session from the pin in Redis.
    other = {"messages": [{"role": "user", "content": "Write a haiku about autumn"}]}
    second = httpx.post(two.url + "/v1/chat/completions", json=other, headers=session, timeout=30)
    assert second.headers["x-llmroute-pinned"] == "true"
    assert second.headers["x-llmroute-model"] == first.headers["x-llmroute-model"]
    # The console is on in the demo.
    assert httpx.get(one.url + "/console", timeout=10).status_code == 200

    def both_up() -> bool:
        query = {"query": 'up{job="llmroute"}'}
        data = httpx.get(stack["prometheus"] + "/api/v1/query", params=query, timeout=5).json()
        values = [sample["value"][1] for sample in data["data"]["result"]]
        return values == ["1", "1"]

    assert wait_for(both_up), "Prometheus did not scrape both replicas"

    def requests_seen() -> bool:
        query = {"query": 'sum(llmroute_requests_total{endpoint="/v1/chat/completions"})'}
        result = httpx.get(stack["prometheus"] + "/api/v1/query", params=query, timeout=5).json()
        samples = result["data"]["result"]
        return bool(samples) and float(samples[0]["value"][1]) >= 2

    assert wait_for(requests_seen), "Prometheus has no request counts from the replicas"
    one.stop()
    two.stop()  # stopping flushes the span batches
    assert wait_for(lambda: "llmroute" in stack["collector"].service_names(), timeout=10)
    assert "POST /v1/chat/completions" in stack["collector"].span_names()
