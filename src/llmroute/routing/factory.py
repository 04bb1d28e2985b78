"""Build the configured router (`routing.router`) once at start-up."""

from __future__ import annotations

from llmroute.config.models import RouterConfig
from llmroute.routing.types import Router


def build_router(cfg: RouterConfig) -> Router:
    """The router for `routing.router.type`: embedded (default), arch_router, or cascade of both."""
    if cfg.type == "embedded":
        return _embedded(cfg)
    if cfg.type == "arch_router":
        return _arch_router(cfg)
    if cfg.type == "cascade":
        from llmroute.routing.cascade import CascadeRouter

        return CascadeRouter(_embedded(cfg), _arch_router(cfg), cfg.cascade_margin)
    raise ValueError(f"unknown router type {cfg.type!r} (expected embedded, arch_router or cascade)")


def _embedded(cfg: RouterConfig) -> Router:
    # Imported here so that a gateway running arch_router alone never loads the ONNX runtime.
    from llmroute.routing.embedded import EmbeddedRouter

    return EmbeddedRouter(
        model_path=cfg.model_path,
        tokenizer_path=cfg.tokenizer_path,
        threshold=cfg.threshold,
        threshold_descriptions=cfg.threshold_descriptions,
    )


def _arch_router(cfg: RouterConfig) -> Router:
    from llmroute.routing.arch_router import ArchRouter

    if not cfg.base_url:
        # RouterConfig's validator already rejects this; kept so a hand-built config gets a clear error too.
        raise ValueError(f"router type {cfg.type} needs base_url (an OpenAI-compatible endpoint)")
    return ArchRouter(
        base_url=cfg.base_url,
        model=cfg.model,
        api_key=cfg.api_key,
        timeout_ms=cfg.timeout_ms,
        max_context_tokens=cfg.max_context_tokens,
        max_concurrency=cfg.max_concurrency,
    )
