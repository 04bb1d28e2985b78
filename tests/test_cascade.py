"""The cascade router (primary first, Arch-Router when unsure) and the router factory.

The secondary is a real ArchRouter talking to the fake OpenAI-compatible server from
test_arch_router.py. The primary is either the real EmbeddedRouter or, where a test needs an exact
margin, a small keyword router defined here (the cascade is generic over the Router protocol).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from prometheus_client import REGISTRY

from conftest import free_port
from llmroute.config.models import RouterConfig
from llmroute.routing.arch_router import ArchRouter
from llmroute.routing.cascade import CascadeRouter
from llmroute.routing.factory import build_router
from llmroute.routing.types import Classification, Route, Router, RouterError
from llmroute.wire.conversation import Message
from test_arch_router import ROUTES, FakeArchServer, running_fake_server


class KeywordRouter:
    """Scores each route by how many of its keywords the latest user turn contains."""

    name = "keyword"

    def __init__(self, keywords: dict[str, list[str]], fail: bool = False) -> None:
        self.keywords = keywords
        self.fail = fail
        self.closed = False

    async def classify(self, conversation: Sequence[Message], routes: Sequence[Route]) -> Classification:
        if self.fail:
            raise RouterError("keyword index unavailable")
        latest = next(m.text.lower() for m in reversed(conversation) if m.role == "user")
        scores = sorted(
            ((sum(word in latest for word in self.keywords.get(r.name, [])), r.name) for r in routes),
            reverse=True,
        )
        best, second = scores[0][0], scores[1][0] if len(scores) > 1 else 0
        return Classification(
            route=scores[0][1] if best else None, backend=self.name, score=best, margin=best - second
        )

    async def aclose(self) -> None:
        self.closed = True


KEYWORDS = {"code_generation": ["function", "code"], "complex_reasoning": ["explain", "trade-offs"]}
CLEAR = [Message("user", "Write a Python function and some code for binary search")]  # margin 2
UNSURE = [Message("user", "Explain this function")]  # one keyword each: margin 0


@pytest.fixture
async def fake() -> AsyncIterator[FakeArchServer]:
    async with running_fake_server() as server:
        yield server


@pytest.fixture
async def arch(fake: FakeArchServer) -> AsyncIterator[ArchRouter]:
    router = ArchRouter(base_url=fake.url + "/v1", timeout_ms=500)
    try:
        yield router
    finally:
        await router.aclose()


async def test_confident_primary_decides_alone(fake: FakeArchServer, arch: ArchRouter) -> None:
    cascade = CascadeRouter(KeywordRouter(KEYWORDS), arch, margin=1.0)
    result = await cascade.classify(CLEAR, ROUTES)
    assert (result.route, result.backend, result.margin) == ("code_generation", "keyword", 2)
    assert fake.requests == []
    assert cascade.decided_by == {"keyword": 1}


def cascade_decisions(backend: str) -> float:
    return REGISTRY.get_sample_value("llmroute_cascade_decisions_total", {"backend": backend}) or 0.0


async def test_unsure_primary_defers_to_arch_router(fake: FakeArchServer, arch: ArchRouter) -> None:
    fake.answer = '{"route": "complex_reasoning"}'
    cascade = CascadeRouter(KeywordRouter(KEYWORDS), arch, margin=1.0)
    before = cascade_decisions("arch_router")
    result = await cascade.classify(UNSURE, ROUTES)
    assert cascade_decisions("arch_router") == before + 1  # exported as a Prometheus counter too
    assert (result.route, result.backend) == ("complex_reasoning", "arch_router")
    assert result.details["primary"] == {
        "backend": "keyword",
        "route": "complex_reasoning",
        "score": 1,
        "margin": 0,
    }
    assert len(fake.requests) == 1
    assert '"content":"Explain this function"' in fake.prompts[0]
    assert cascade.decided_by == {"arch_router": 1}


async def test_arch_router_no_route_overrides_an_unsure_primary(
    fake: FakeArchServer,
    arch: ArchRouter,
) -> None:
    fake.answer = '{"route": "other"}'
    cascade = CascadeRouter(KeywordRouter(KEYWORDS), arch, margin=1.0)
    result = await cascade.classify(UNSURE, ROUTES)
    assert (result.route, result.backend) == (None, "arch_router")


@pytest.mark.parametrize("failure", ["http_500", "garbage", "timeout"])
async def test_secondary_failure_keeps_the_primary_answer(
    fake: FakeArchServer,
    arch: ArchRouter,
    failure: str,
) -> None:
    if failure == "http_500":
        fake.status = 500
    elif failure == "garbage":
        fake.answer = "as an AI model I cannot route"
    else:
        fake.hold = asyncio.Event()
    cascade = CascadeRouter(KeywordRouter(KEYWORDS), arch, margin=1.0)
    result = await cascade.classify(UNSURE, ROUTES)
    assert (result.route, result.backend) == ("complex_reasoning", "keyword")
    assert "secondary_error" in result.details
    assert cascade.secondary_errors == 1
    assert cascade.decided_by == {"keyword": 1}


async def test_secondary_unreachable_keeps_the_primary_answer() -> None:
    arch = ArchRouter(base_url=f"http://127.0.0.1:{free_port()}")
    cascade = CascadeRouter(KeywordRouter(KEYWORDS), arch, margin=1.0)
    try:
        result = await cascade.classify(UNSURE, ROUTES)
    finally:
        await cascade.aclose()
    assert (result.route, result.backend) == ("complex_reasoning", "keyword")
    assert "unreachable" in str(result.details["secondary_error"])


async def test_primary_failure_falls_to_secondary_then_to_an_error(
    fake: FakeArchServer,
    arch: ArchRouter,
) -> None:
    cascade = CascadeRouter(KeywordRouter(KEYWORDS, fail=True), arch, margin=1.0)
    result = await cascade.classify(CLEAR, ROUTES)
    assert (result.route, result.backend) == ("code_generation", "arch_router")
    assert result.details["primary_error"] == "keyword index unavailable"
    fake.status = 503
    with pytest.raises(RouterError, match="both routers failed"):
        await cascade.classify(CLEAR, ROUTES)
    assert cascade.decided_by == {"arch_router": 1}


async def test_aclose_closes_both(arch: ArchRouter) -> None:
    primary = KeywordRouter(KEYWORDS)
    cascade = CascadeRouter(primary, arch, margin=0.5)
    await cascade.aclose()
    assert primary.closed


def test_negative_margin_is_rejected(arch: ArchRouter) -> None:
    with pytest.raises(ValueError, match="margin"):
        CascadeRouter(KeywordRouter(KEYWORDS), arch, margin=-0.1)


# --- with the real embedded router ---------------------------------------------------------------


@pytest.fixture
async def embedded_router() -> AsyncIterator[Router]:
    embedded = pytest.importorskip("llmroute.routing.embedded")
    router = embedded.EmbeddedRouter()
    try:
        yield router
    finally:
        await router.aclose()


async def test_cascade_over_the_real_embedded_router(
    fake: FakeArchServer,
    arch: ArchRouter,
    embedded_router: Router,
) -> None:
    conversation = [Message("user", "Write a Python function that implements binary search")]
    first = await embedded_router.classify(conversation, ROUTES)
    assert first.backend == "embedded"
    fake.answer = '{"route": "complex_reasoning"}'  # distinguishable from the embedded answer

    # The threshold sits just above the embedded router's own margin: it is unsure, arch decides.
    unsure = CascadeRouter(embedded_router, arch, margin=first.margin + 0.01)
    result = await unsure.classify(conversation, ROUTES)
    assert (result.route, result.backend) == ("complex_reasoning", "arch_router")
    assert len(fake.requests) == 1

    # Just below its margin: the embedded answer stands, no remote call.
    sure = CascadeRouter(embedded_router, arch, margin=max(first.margin - 0.01, 0.0))
    result = await sure.classify(conversation, ROUTES)
    assert (result.route, result.backend) == (first.route, "embedded")
    assert len(fake.requests) == 1
    assert (unsure.decided_by, sure.decided_by) == ({"arch_router": 1}, {"embedded": 1})


# --- the factory ---------------------------------------------------------------------------------


async def test_factory_builds_arch_router_from_config(fake: FakeArchServer) -> None:
    cfg = RouterConfig(
        type="arch_router",
        base_url=fake.url + "/v1",
        model="arch-q4",
        api_key="sk-x",
        timeout_ms=1500,
        max_context_tokens=1024,
        max_concurrency=3,
    )
    router = build_router(cfg)
    try:
        assert isinstance(router, ArchRouter)
        assert (
            router.url,
            router.model,
            router.timeout_ms,
            router.max_context_tokens,
            router.max_concurrency,
        ) == (fake.url + "/v1/chat/completions", "arch-q4", 1500, 1024, 3)
        assert (await router.classify(CLEAR, ROUTES)).route == "code_generation"
    finally:
        await router.aclose()
    assert fake.requests[0].body["model"] == "arch-q4"
    assert fake.requests[0].headers["Authorization"] == "Bearer sk-x"


async def test_factory_builds_cascade_from_config(fake: FakeArchServer) -> None:
    pytest.importorskip("llmroute.routing.embedded")
    router = build_router(RouterConfig(type="cascade", base_url=fake.url, cascade_margin=100.0))
    try:
        assert isinstance(router, CascadeRouter)
        assert router.primary.name == "embedded" and router.secondary.name == "arch_router"
        assert router.margin == 100.0
        # No embedded margin reaches 100: every request goes to the fake Arch-Router.
        result = await router.classify(CLEAR, ROUTES)
        assert (result.route, result.backend) == ("code_generation", "arch_router")
    finally:
        await router.aclose()
    assert len(fake.requests) == 1


async def test_factory_builds_embedded_by_default() -> None:
    embedded = pytest.importorskip("llmroute.routing.embedded")
    router = build_router(RouterConfig(threshold=0.4, threshold_descriptions=0.5))
    try:
        assert isinstance(router, embedded.EmbeddedRouter)
        assert (router.settings.threshold, router.settings.threshold_descriptions) == (0.4, 0.5)
    finally:
        await router.aclose()


def test_remote_router_without_base_url_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="needs base_url"):
        RouterConfig(type="cascade")
