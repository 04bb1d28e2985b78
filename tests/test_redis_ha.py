"""Redis Sentinel and Redis Cluster URLs for the shared stores (llmroute/redis_urls.py), against a
real Sentinel (a master and one sentinel) and a real one-node Cluster started here."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import RunningGateway, free_port, wait_for_port

REDIS = shutil.which("redis-server")
CLI = shutil.which("redis-cli")
pytestmark = pytest.mark.skipif(REDIS is None or CLI is None, reason="redis-server / redis-cli not installed")


def start(args: list[str], port: int, procs: list[subprocess.Popen[bytes]], log: Path) -> None:
    assert REDIS is not None
    with log.open("ab") as out:
        procs.append(subprocess.Popen([REDIS, *args], stdout=out, stderr=subprocess.STDOUT))
    try:
        wait_for_port(port)
    except TimeoutError:
        raise TimeoutError(
            f"redis-server {' '.join(args)} did not start:\n{log.read_text()[-2000:]}"
        ) from None


def cli(port: int, *args: str) -> str:
    assert CLI is not None
    return subprocess.run([CLI, "-p", str(port), *args], capture_output=True, text=True, timeout=10).stdout


def wait(predicate, what: str, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is a valid port too."""
    while (port := free_port()) > 55_000:
        pass
    return port


@pytest.fixture(scope="module")
def deployments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("redis-ha")
    procs: list[subprocess.Popen[bytes]] = []
    plain = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp)]
    try:
        master, sentinel, cluster = free_port(), free_port(), cluster_port()
        start(["--port", str(master), *plain], master, procs, tmp / "master.log")
        conf = tmp / "sentinel.conf"
        conf.write_text(
            f"port {sentinel}\nbind 127.0.0.1\ndir {tmp}\n"
            f"sentinel monitor mymaster 127.0.0.1 {master} 1\nsentinel down-after-milliseconds mymaster 1000\n"
        )
        start([str(conf), "--sentinel"], sentinel, procs, tmp / "sentinel.log")
        wait(
            lambda: str(master) in cli(sentinel, "sentinel", "get-master-addr-by-name", "mymaster"),
            "sentinel",
        )
        start(
            [
                "--port",
                str(cluster),
                *plain,
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"nodes-{cluster}.conf",
            ],
            cluster,
            procs,
            tmp / "cluster.log",
        )
        cli(cluster, "cluster", "addslotsrange", "0", "16383")
        wait(lambda: "cluster_state:ok" in cli(cluster, "cluster", "info"), "cluster state ok")
        yield {
            "sentinel": f"redis+sentinel://127.0.0.1:{sentinel}/mymaster/0",
            "sentinel_master": str(master),
            "cluster": f"redis+cluster://127.0.0.1:{cluster}",
            "cluster_port": str(cluster),
        }
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def config(session_url: str, shared_url: str) -> str:
    return f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0}}]
model_providers:
  - model: echo/a
    default: true
routing:
  router: {{type: arch_router, base_url: "http://127.0.0.1:9"}}
  session_store: {{type: redis, url: "{session_url}", timeout_ms: 500}}
shared_state: {{type: redis, url: "{shared_url}", timeout_ms: 500}}
rate_limits:
  on_store_error: deny
  rules: [{{name: tiny, requests_per_minute: 3}}]
"""


def port_of(deployments: dict[str, str], url: str) -> int:
    return int(deployments["sentinel_master"] if "sentinel" in url else deployments["cluster_port"])


@pytest.mark.parametrize(("session_kind", "shared_kind"), [("sentinel", "cluster"), ("cluster", "sentinel")])
def test_pins_and_rate_limits_through_sentinel_and_cluster(
    deployments: dict[str, str], session_kind: str, shared_kind: str
) -> None:
    session_url, shared_url = deployments[session_kind], deployments[shared_kind]
    for port in (port_of(deployments, session_url), port_of(deployments, shared_url)):
        cli(port, "flushall")
    with (
        RunningGateway(config(session_url, shared_url)) as gw,
        httpx.Client(base_url=gw.url, timeout=10) as http,
    ):
        body = {"model": "echo/a", "messages": [{"role": "user", "content": "hi"}]}
        first = http.post("/v1/chat/completions", json=body, headers={"X-Session-Id": "ha-1"})
        assert first.status_code == 200, first.text
        decided = http.post("/routing/v1/chat/completions", json=body, headers={"X-Session-Id": "ha-1"})
        assert decided.json()["pinned"] is True, decided.text  # the pin came back from the store
        statuses = [http.post("/v1/chat/completions", json=body).status_code for _ in range(3)]
        assert statuses[-1] == 429, statuses  # 3 per minute, shared through the store (deny if down)
    session_keys = cli(port_of(deployments, session_url), "keys", "*")
    shared_keys = cli(port_of(deployments, shared_url), "keys", "*")
    assert "ha-1" in session_keys
    assert "ratelimit" in shared_keys
    if session_kind == "cluster":
        assert "{llmroute:session:}ha-1" in session_keys  # one hash slot for the pin and its index
    else:
        assert "{llmroute:}ratelimit" in shared_keys


def test_a_sentinel_url_needs_its_service_name() -> None:
    from llmroute.redis_urls import connect

    with pytest.raises(ValueError, match="service name"):
        connect("redis+sentinel://127.0.0.1:26379", 0.5)


@pytest.mark.parametrize("kind", ["sentinel", "cluster"])
async def test_generated_route_examples_are_shared_through_sentinel_and_cluster(
    deployments: dict[str, str], kind: str
) -> None:
    from llmroute.routing.examples.store import ExampleStore

    writer, reader = ExampleStore(None, deployments[kind]), ExampleStore(None, deployments[kind])
    try:
        await writer.put(f"set-{kind}", {"alpha": ["how long to boil pasta", "recipe for soup"]})
        assert await reader.get(f"set-{kind}") == {"alpha": ["how long to boil pasta", "recipe for soup"]}
    finally:
        await writer.aclose()
        await reader.aclose()
