"""`llmroute up`: serve the gateway with uvicorn (uvloop + httptools), one or more worker processes."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
import tempfile
from typing import Any

import uvicorn

from llmroute.config import load_config
from llmroute.observability.logs import configure_logging
from llmroute.server.protocol import GuardedHttpToolsProtocol

log = logging.getLogger("llmroute.server")


def _event_loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def bind_problem(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on (e.g. "address already in use"), or None.

    Bound and released at once, as uvicorn will bind it (SO_REUSEADDR): a port another process
    listens on is refused, one in TIME_WAIT is not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot resolve the address ({exc.strerror})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return (exc.strerror or str(exc)).lower()
    return None


def serve(
    config_path: str,
    host: str | None = None,
    port: int | None = None,
    workers: int = 1,
    log_format: str = "human",
    log_level: str = "info",
) -> None:
    config = load_config(config_path)
    listener = config.raw.listener
    host = host or listener.address
    port = port if port is not None else listener.port
    configure_logging(log_format, log_level)
    problem = bind_problem(host, port)
    if problem is not None:
        # One clear line, and no "listening ... try: curl" hint for a server that never listened.
        print(f"llmroute: cannot listen on {host}:{port}: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(1)
    if workers > 1 and config.raw.routing.session_store.type == "memory":
        log.warning(
            "--workers %d with the memory session store: each worker keeps its own session pins, so one"
            " session's requests may be routed differently by different workers; set"
            " routing.session_store: {type: redis, url: ...} to share them",
            workers,
        )
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(
        f"llmroute listening on http://{host}:{port} (workers: {workers}, config: {config_path})", flush=True
    )
    print(
        f"try: curl -s http://{shown}:{port}/routing/v1/chat/completions -H 'Content-Type: application/json' "
        """-d '{"messages": [{"role": "user", "content": "Write a Python function that implements binary search"}]}'""",
        flush=True,
    )
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "loop": _event_loop(),
        # httptools with header/body deadlines and a header size cap (server/protocol.py).
        "http": GuardedHttpToolsProtocol,
        "log_level": log_level.lower(),
        "access_log": False,  # we log one structured line per request ourselves
        # llmroute never reads the client's address or scheme (keys, limits and logs do not depend on
        # them), so uvicorn's X-Forwarded-For/-Proto rewriting would be work on every request for nothing.
        "proxy_headers": False,
        "server_header": False,  # no "server: uvicorn" on every response: it only tells scanners what runs here
        "timeout_graceful_shutdown": 30,
        "log_config": None,  # keep our logging configuration
    }
    if workers > 1:
        os.environ["LLMROUTE_CONFIG"] = os.path.abspath(config_path)
        os.environ["LLMROUTE_LOG_FORMAT"] = log_format
        os.environ["LLMROUTE_LOG_LEVEL"] = log_level
        # Prometheus multiprocess mode: every worker writes its samples under this directory and
        # /metrics (on any worker) sums them. It must be set before the workers import
        # prometheus_client, and start empty, so a fresh one is made unless the operator chose one.
        metrics_dir = None
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            metrics_dir = tempfile.mkdtemp(prefix="llmroute-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        log.info(
            "metrics: %d workers share %s (prometheus multiprocess mode)",
            workers,
            os.environ["PROMETHEUS_MULTIPROC_DIR"],
        )
        try:
            uvicorn.run("llmroute.server.app:app_from_env", factory=True, workers=workers, **common)
        finally:
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)
    else:
        from llmroute.server.app import create_app

        uvicorn.run(create_app(config), **common)
