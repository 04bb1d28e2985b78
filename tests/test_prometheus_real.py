"""`prefer: fastest` against a real Prometheus server running a real PromQL query.

The fixture starts the Debian `prometheus` binary on a free loopback port, scraping a small exporter
served by the test: a latency histogram per `model_name`, whose counters grow at every scrape with
observations at each model's current latency. The store asks Prometheus for the median latency per
model (`histogram_quantile` over `rate`), the same kind of query an operator would configure; the second
test asks the real gateway's decision endpoint.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import RunningGateway, free_port
from llmroute.ranking import MetricsStore, PrometheusMetrics, rank
from test_ranking_gateway import CHAT_PROMPT, KEYS, PROVIDERS, decide, router_section, wait_until
from test_ranking_support import MetricsHTTPServer, Reply, eventually

BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, float("inf"))
QUERY = "histogram_quantile(0.5, sum by (model_name, le) (rate(llm_request_duration_seconds_bucket[3s])))"


class LatencyExporter:
    """Prometheus text exposition of `llm_request_duration_seconds`; each scrape records 10 requests per
    model at that model's current latency (set `latency[model]` to change it)."""

    def __init__(self, latency: dict[str, float]) -> None:
        self.latency = dict(latency)
        self.counts: dict[str, list[int]] = {model: [0] * len(BUCKETS) for model in latency}
        self.sums: dict[str, float] = dict.fromkeys(latency, 0.0)
        self.lock = threading.Lock()

    def scrape(self) -> Reply:
        lines = [
            "# HELP llm_request_duration_seconds Upstream LLM request latency.",
            "# TYPE llm_request_duration_seconds histogram",
        ]
        with self.lock:
            for model, seconds in self.latency.items():
                counts = self.counts.setdefault(model, [0] * len(BUCKETS))
                for index, bound in enumerate(BUCKETS):
                    if seconds <= bound:
                        counts[index] += 10
                self.sums[model] = self.sums.get(model, 0.0) + 10 * seconds
                for bound, count in zip(BUCKETS, counts, strict=True):
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    lines.append(
                        f'llm_request_duration_seconds_bucket{{model_name="{model}",le="{le}"}} {count}'
                    )
                lines.append(f'llm_request_duration_seconds_sum{{model_name="{model}"}} {self.sums[model]}')
                lines.append(f'llm_request_duration_seconds_count{{model_name="{model}"}} {counts[-1]}')
        body = ("\n".join(lines) + "\n").encode()
        return Reply(body=body, content_type="text/plain; version=0.0.4")


class PrometheusServer:
    def __init__(self, binary: str, tmp: Path, scrape_port: int) -> None:
        self.port = free_port()
        config = tmp / "prometheus.yml"
        config.write_text(
            "global:\n"
            "  scrape_interval: 250ms\n"
            "  scrape_timeout: 200ms\n"
            "scrape_configs:\n"
            "  - job_name: llm-gateway\n"
            "    static_configs:\n"
            f"      - targets: ['127.0.0.1:{scrape_port}']\n"
        )
        self.log = (tmp / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.proc.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"prometheus not ready after {timeout}s; see {self.log.name}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def exporter() -> Iterator[tuple[MetricsHTTPServer, LatencyExporter]]:
    latencies = LatencyExporter(
        {"openai/gpt-4o": 1.5, "openai/gpt-4o-mini": 0.3, "anthropic/claude-sonnet-4": 4.0}
    )
    server = MetricsHTTPServer()
    server.set_reply("/metrics", latencies.scrape)
    server.start()
    yield server, latencies
    server.stop()


@pytest.fixture
def prometheus(
    tmp_path: Path, exporter: tuple[MetricsHTTPServer, LatencyExporter]
) -> Iterator[PrometheusServer]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip(
            "the prometheus binary is not installed (apt-get install prometheus; .ci/run installs it)"
        )
    server = PrometheusServer(binary, tmp_path, exporter[0].port)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


async def test_fastest_ranks_by_a_real_promql_query(
    prometheus: PrometheusServer, exporter: tuple[MetricsHTTPServer, LatencyExporter]
) -> None:
    _, latencies = exporter
    models = ["anthropic/claude-sonnet-4", "openai/gpt-4o", "openai/gpt-4o-mini"]
    store = MetricsStore(
        [PrometheusMetrics(url=prometheus.url, query=QUERY, refresh_interval=0.2)], retry_initial=0.1
    )
    await store.start()
    try:
        # rate() needs two scrapes before the query has a sample for every model.
        await eventually(lambda: all(store.latency(m) is not None for m in models), timeout=30)
        assert rank(models, "fastest", store) == [
            "openai/gpt-4o-mini",
            "openai/gpt-4o",
            "anthropic/claude-sonnet-4",
        ]
        # The median falls inside each model's bucket: (0.25, 0.5], (1, 2.5], (2.5, 5].
        assert 0.25 < store.latency("openai/gpt-4o-mini") <= 0.5
        assert 1.0 < store.latency("openai/gpt-4o") <= 2.5
        assert 2.5 < store.latency("anthropic/claude-sonnet-4") <= 5.0

        # gpt-4o-mini slows down: once Prometheus sees it, a refresh re-ranks.
        with latencies.lock:
            latencies.latency["openai/gpt-4o-mini"] = 8.0
        await eventually(lambda: rank(models, "fastest", store)[-1] == "openai/gpt-4o-mini", timeout=30)
        assert rank(models, "fastest", store) == [
            "openai/gpt-4o",
            "anthropic/claude-sonnet-4",
            "openai/gpt-4o-mini",
        ]
        assert store.snapshot()["sources"][0]["failures"] == 0
    finally:
        await store.stop()


def test_gateway_decision_ranked_by_real_prometheus(
    prometheus: PrometheusServer, exporter: tuple[MetricsHTTPServer, LatencyExporter]
) -> None:
    router = MetricsHTTPServer().start()
    config = f"""
version: v0.4.0
{PROVIDERS}
{router_section(router)}
routing_preferences:
  - name: general questions
    description: casual conversation and simple queries
    models: [anthropic/claude-sonnet-4-20250514, openai/gpt-4o, openai/gpt-4o-mini]
    selection_policy:
      prefer: fastest
model_metrics_sources:
  - type: prometheus_metrics
    url: {prometheus.url}
    query: '{QUERY}'
    refresh_interval: 0.2
"""
    try:
        with RunningGateway(config, KEYS) as gw:
            expected = ["openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-sonnet-4-20250514"]
            wait_until(lambda: decide(gw, CHAT_PROMPT)["models"] == expected, timeout=30)
            assert decide(gw, CHAT_PROMPT)["route"] == "general questions"
    finally:
        router.stop()
