"""The bench's table and its verdict against the goals (p50 added <= 0.5 ms, 0 errors, >= 20x LiteLLM)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litellm_proxy import LITELLM_VERSION


def fmt_ms(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def fmt_int(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def added(target: dict[str, Any], direct: dict[str, Any], section: str, key: str) -> float | None:
    try:
        return target[section][key] - direct[section][key]
    except (KeyError, TypeError):
        return None


def get(target: dict[str, Any], section: str, key: str) -> float | None:
    value = target.get(section, {}) if isinstance(target, dict) else {}
    return value.get(key) if isinstance(value, dict) else None


def failures(target: dict[str, Any]) -> int | None:
    if not isinstance(target, dict) or "error" in target:
        return None
    total = 0
    for section in target.values():
        if isinstance(section, dict):
            total += int(section.get("non_2xx", 0)) + int(section.get("errors", 0))
    return total


def report(results: dict[str, Any]) -> list[str]:
    targets = results["targets"]
    direct = targets.get("direct", {})
    columns = [name for name in ("direct", "llmroute", "litellm", "llmroute_routing", "llmroute_2_workers")]
    titles = {
        "direct": "direct",
        "llmroute": "llmroute",
        "litellm": f"LiteLLM {LITELLM_VERSION}",
        "llmroute_routing": "llmroute+routing",
        "llmroute_2_workers": "llmroute x2 workers",
    }
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("sequential p50 ms", lambda t: fmt_ms(get(t, "sequential", "p50_ms"))),
        ("sequential p99 ms", lambda t: fmt_ms(get(t, "sequential", "p99_ms"))),
        ("added p50 ms", lambda t: fmt_ms(added(t, direct, "sequential", "p50_ms"))),
        ("added p99 ms", lambda t: fmt_ms(added(t, direct, "sequential", "p99_ms"))),
        ("req/s @32 conns", lambda t: fmt_int(get(t, "c32", "rps"))),
        ("p50 ms @32 conns", lambda t: fmt_ms(get(t, "c32", "p50_ms"))),
        ("req/s @256 conns", lambda t: fmt_int(get(t, "c256", "rps"))),
        ("p99 ms @256 conns", lambda t: fmt_ms(get(t, "c256", "p99_ms"))),
        ("stream TTFB p50 ms", lambda t: fmt_ms(get(t, "stream", "ttfb_p50_ms"))),
        ("added TTFB p50 ms", lambda t: fmt_ms(added(t, direct, "stream", "ttfb_p50_ms"))),
        ("added TTFB p99 ms", lambda t: fmt_ms(added(t, direct, "stream", "ttfb_p99_ms"))),
        ("server CPU us/req @32", lambda t: fmt_int(get(t, "c32", "server_cpu_us_per_request"))),
        ("req per CPU-s @32", lambda t: fmt_int(get(t, "c32", "requests_per_cpu_second"))),
        ("req per CPU-s @256", lambda t: fmt_int(get(t, "c256", "requests_per_cpu_second"))),
        ("non-2xx + errors", lambda t: fmt_int(failures(t))),
        (
            "RSS MiB after load",
            lambda t: fmt_ms(t.get("rss_mib")).rsplit(".", 1)[0] if t.get("rss_mib") else "-",
        ),
    ]
    shown = [c for c in columns if c in targets]
    width = max(len(titles[c]) for c in shown) + 2
    lines = [f"{'':<20}" + "".join(f"{titles[c]:>{width}}" for c in shown)]
    for label, cell in rows:
        cells = []
        for c in shown:
            target = targets[c]
            if "error" in target:
                cells.append("skipped" if str(target["error"]).startswith("skipped") else "failed")
            else:
                cells.append(cell(target))
        lines.append(f"{label:<20}" + "".join(f"{v:>{width}}" for v in cells))
    return lines


def verdict(results: dict[str, Any]) -> list[str]:
    targets = results["targets"]
    ours, direct, litellm = targets.get("llmroute", {}), targets.get("direct", {}), targets.get("litellm")
    lines = []
    p50 = added(ours, direct, "sequential", "p50_ms")
    if p50 is not None:
        lines.append(
            f"llmroute p50 added latency: {p50:.3f} ms (goal <= 0.5 ms): {'PASS' if p50 <= 0.5 else 'FAIL'}"
        )
    bad = failures(ours)
    if bad is not None:
        routed_bad = failures(targets.get("llmroute_routing", {}))
        lines.append(
            f"llmroute non-2xx + errors: {bad} (routing on: {routed_bad if routed_bad is not None else '-'}) "
            f"(goal 0): {'PASS' if bad == 0 and not routed_bad else 'FAIL'}"
        )
    if isinstance(litellm, dict) and "error" not in litellm:
        for c in (32, 256):
            mine, theirs = get(ours, f"c{c}", "rps"), get(litellm, f"c{c}", "rps")
            if mine and theirs:
                ratio = mine / theirs
                lines.append(
                    f"throughput vs LiteLLM @{c} conns: {ratio:.1f}x ({mine:,.0f} vs {theirs:,.0f} req/s) "
                    f"(goal >= 20x): {'PASS' if ratio >= 20 else 'FAIL'}"
                )
            mine, theirs = (
                get(ours, f"c{c}", "requests_per_cpu_second"),
                get(litellm, f"c{c}", "requests_per_cpu_second"),
            )
            if mine and theirs:
                ratio = mine / theirs
                lines.append(
                    f"throughput per CPU-second vs LiteLLM @{c} conns: {ratio:.1f}x ({mine:,.0f} vs {theirs:,.0f}) "
                    f"(goal >= 20x): {'PASS' if ratio >= 20 else 'FAIL'}"
                )
        lp50 = added(litellm, direct, "sequential", "p50_ms")
        if lp50 is not None:
            lines.append(f"LiteLLM p50 added latency: {lp50:.3f} ms")
    else:
        why = litellm.get("error") if isinstance(litellm, dict) else "not run"
        lines.append(f"LiteLLM: not measured ({why})")
    return lines
