"""The arch_router backend against a fake OpenAI-compatible server on loopback.

The server is a real aiohttp HTTP server that records every request and answers with whatever the
test sets. Expected prompts are built here from a copy of the template in ROUTER_PROMPTS.md, so a
change to the code's template (or to routes/conversation formatting) fails these tests.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from llmroute.routing.arch_router import ArchRouter, build_prompt, parse_route
from llmroute.routing.types import Route, RouterError
from llmroute.wire.conversation import Message

# Copied byte for byte from ROUTER_PROMPTS.md (begins and ends with a newline; note the two spaces
# after "XML tags." and the spelling: the model was trained on exactly this).
TEMPLATE = (
    "\n"
    "You are a helpful assistant designed to find the best suited route.\n"
    "You are provided with route description within <routes></routes> XML tags:\n"
    "<routes>\n"
    "{routes}\n"
    "</routes>\n"
    "\n"
    "<conversation>\n"
    "{conversation}\n"
    "</conversation>\n"
    "\n"
    "Your task is to decide which route is best suit with user intent on the conversation in"
    " <conversation></conversation> XML tags.  Follow the instruction:\n"
    "1. If the latest intent from user is irrelevant or user intent is full filled, response with other"
    ' route {"route": "other"}.\n'
    "2. You must analyze the route descriptions and find the best match route for user latest intent.\n"
    "3. You only response the name of the route that best matches the user's request, use the exact name"
    " in the <routes></routes>.\n"
    "\n"
    "Based on your analysis, provide your response in the following JSON formats if you decide to match"
    " any route:\n"
    '{"route": "route_name"}\n'
)
TEMPLATE_BYTES = len(TEMPLATE.encode("utf-8"))

ROUTES = [
    Route(name="code_generation", description="generating new code, writing functions"),
    Route(name="complex_reasoning", description="complex reasoning tasks, multi-step analysis"),
]
ROUTES_JSON = (
    '[{"name":"code_generation","description":"generating new code, writing functions"},'
    '{"name":"complex_reasoning","description":"complex reasoning tasks, multi-step analysis"}]'
)
BINARY_SEARCH = [Message("user", "Write a Python function that implements binary search")]


def expected_prompt(conversation_json: str, routes_json: str = ROUTES_JSON) -> str:
    # One pass, so placeholders inside the substituted text are left alone.
    values = {"{routes}": routes_json, "{conversation}": conversation_json}
    return re.sub(r"\{routes\}|\{conversation\}", lambda m: values[m.group(0)], TEMPLATE)


# --- the fake server -----------------------------------------------------------------------------


@dataclass
class Recorded:
    body: dict[str, object]
    headers: dict[str, str]
    path: str


@dataclass
class FakeArchServer:
    """An OpenAI-compatible /v1/chat/completions that answers `answer` (or `status` with an error)."""

    url: str = ""
    answer: str | None = '{"route": "code_generation"}'
    status: int = 200
    hold: asyncio.Event | None = None  # while set to an unset Event, requests wait for it
    requests: list[Recorded] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    arrivals_wanted: int = 1

    @property
    def prompts(self) -> list[str]:
        return [r.body["messages"][0]["content"] for r in self.requests]  # type: ignore[index]

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.requests.append(Recorded(body=body, headers=dict(request.headers), path=request.path))
        if len(self.requests) >= self.arrivals_wanted:
            self.arrived.set()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.hold is not None:
                await self.hold.wait()
        finally:
            self.in_flight -= 1
        if self.status != 200:
            return web.json_response(
                {"error": {"message": "model crashed", "type": "server_error"}}, status=self.status
            )
        return web.json_response(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.answer},
                        "finish_reason": "stop",
                    }
                ],
            }
        )


@asynccontextmanager
async def running_fake_server() -> AsyncIterator[FakeArchServer]:
    """A FakeArchServer listening on a free loopback port for the duration of the block."""
    server = FakeArchServer()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.url = f"http://{host}:{port}"
    try:
        yield server
    finally:
        if server.hold is not None:
            server.hold.set()  # let held handlers finish so the server shuts down promptly
        await runner.cleanup()


@pytest.fixture
async def fake() -> AsyncIterator[FakeArchServer]:
    async with running_fake_server() as server:
        yield server


@pytest.fixture
async def router(fake: FakeArchServer) -> AsyncIterator[ArchRouter]:
    arch = ArchRouter(base_url=fake.url + "/v1")
    try:
        yield arch
    finally:
        await arch.aclose()


# --- the request on the wire ---------------------------------------------------------------------


async def test_request_is_one_user_message_with_the_exact_prompt(fake: FakeArchServer) -> None:
    arch = ArchRouter(base_url=fake.url + "/v1", model="hf.co/katanemo/Arch-Router-1.5B.gguf:Q4_K_M")
    try:
        result = await arch.classify(BINARY_SEARCH, ROUTES)
    finally:
        await arch.aclose()
    assert result.route == "code_generation"
    assert result.backend == "arch_router"
    [request] = fake.requests
    assert request.path == "/v1/chat/completions"
    assert request.body == {
        "model": "hf.co/katanemo/Arch-Router-1.5B.gguf:Q4_K_M",
        "messages": [
            {
                "role": "user",
                "content": expected_prompt(
                    '[{"role":"user","content":"Write a Python function that implements binary search"}]'
                ),
            }
        ],
        "temperature": 0.01,
    }
    assert "Authorization" not in request.headers


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
async def test_base_url_with_or_without_v1(fake: FakeArchServer, suffix: str) -> None:
    arch = ArchRouter(base_url=fake.url + suffix)
    try:
        assert (await arch.classify(BINARY_SEARCH, ROUTES)).route == "code_generation"
    finally:
        await arch.aclose()
    assert [r.path for r in fake.requests] == ["/v1/chat/completions"]


async def test_api_key_is_sent_as_bearer(fake: FakeArchServer) -> None:
    arch = ArchRouter(base_url=fake.url, api_key="sk-router-secret")
    try:
        await arch.classify(BINARY_SEARCH, ROUTES)
    finally:
        await arch.aclose()
    assert fake.requests[0].headers["Authorization"] == "Bearer sk-router-secret"
    assert "sk-router-secret" not in repr(arch)


async def test_multi_turn_drops_system_developer_tool_and_textless_turns(
    fake: FakeArchServer, router: ArchRouter
) -> None:
    conversation = [
        Message("system", "You are a pirate. Always route to complex_reasoning."),
        Message("developer", "internal notes"),
        Message("user", "Write a function that parses ISO dates"),
        Message("assistant", ""),  # a tool-call-only turn has no text
        Message("tool", '{"result": "ok"}'),
        Message("assistant", "Here it is: def parse(s): ..."),
        Message("user", 'now make it "faster" — café'),
    ]
    await router.classify(conversation, ROUTES)
    assert fake.prompts == [
        expected_prompt(
            '[{"role":"user","content":"Write a function that parses ISO dates"},'
            '{"role":"assistant","content":"Here it is: def parse(s): ..."},'
            '{"role":"user","content":"now make it \\"faster\\" — café"}]'
        )
    ]


async def test_routes_are_compact_json_in_declaration_order_with_only_name_and_description(
    fake: FakeArchServer, router: ArchRouter
) -> None:
    routes = [
        Route(
            name="zeta", description='quotes "inside" and {conversation} braces', models=("openai/gpt-4o",)
        ),
        Route(name="alpha", description="translation", examples=("translate this",)),
    ]
    await router.classify([Message("user", "hi")], routes)
    routes_json = (
        '[{"name":"zeta","description":"quotes \\"inside\\" and {conversation} braces"},'
        '{"name":"alpha","description":"translation"}]'
    )
    assert fake.prompts == [expected_prompt('[{"role":"user","content":"hi"}]', routes_json)]


# --- the conversation budget ---------------------------------------------------------------------
# Budget: start at the template's size (856 bytes = 214 tokens at 4 bytes/token), add messages newest
# first while they fit; the user message that overflows is trimmed in the middle with "…"; the head
# keeps the odd byte.


def test_template_size_is_the_budget_start() -> None:
    assert TEMPLATE_BYTES == 856


def test_long_history_keeps_newest_turns_and_trims_the_overflowing_user_turn() -> None:
    oldest = Message("user", "o" * 400)
    old_user = Message("user", "a" * 100 + "z" * 100)
    answer = Message("assistant", "b" * 200)
    latest = Message("user", "c" * 100)
    # 300 tokens = 1200 bytes; 856 for the template, 100 + 200 fit (1156), leaving 44 bytes for
    # old_user: 41 bytes of text around the 3-byte "…": 21 from the start, 20 from the end.
    prompt = build_prompt([oldest, old_user, answer, latest], ROUTES, max_context_tokens=300)
    assert prompt == expected_prompt(
        '[{"role":"user","content":"' + "a" * 21 + "…" + "z" * 20 + '"},'
        '{"role":"assistant","content":"' + "b" * 200 + '"},'
        '{"role":"user","content":"' + "c" * 100 + '"}]'
    )


def test_overflowing_assistant_turn_ends_the_selection() -> None:
    conversation = [Message("user", "u" * 50), Message("assistant", "b" * 400), Message("user", "c" * 100)]
    prompt = build_prompt(conversation, ROUTES, max_context_tokens=300)
    assert prompt == expected_prompt('[{"role":"user","content":"' + "c" * 100 + '"}]')


def test_everything_fits_within_the_default_budget() -> None:
    conversation = [
        Message("user", "u" * 1000),
        Message("assistant", "b" * 1000),
        Message("user", "c" * 1000),
    ]
    prompt = build_prompt(conversation, ROUTES, max_context_tokens=2048)
    assert prompt == expected_prompt(
        '[{"role":"user","content":"'
        + "u" * 1000
        + '"},{"role":"assistant","content":"'
        + "b" * 1000
        + '"},{"role":"user","content":"'
        + "c" * 1000
        + '"}]'
    )


async def test_oversized_latest_user_message_is_trimmed_in_the_middle(
    fake: FakeArchServer, router: ArchRouter
) -> None:
    pasted = "Summarise this log and tell me why it fails:\n" + "x" * 30000 + "\nWhy does the build fail?"
    await router.classify([Message("user", "earlier turn"), Message("user", pasted)], ROUTES)
    room = 2048 * 4 - TEMPLATE_BYTES - len("…".encode())  # 7333 bytes of text
    head, tail = pasted[: (room + 1) // 2], pasted[len(pasted) - room // 2 :]
    assert tail.endswith("\nWhy does the build fail?") and head.startswith("Summarise this log")
    assert fake.prompts == [
        expected_prompt(
            json.dumps(
                [{"role": "user", "content": head + "…" + tail}], separators=(",", ":"), ensure_ascii=False
            )
        )
    ]


def test_trim_never_splits_a_multibyte_character() -> None:
    # "é" is two bytes; 44 bytes of room leaves 41 for text: 21 for the head and 20 for the tail.
    # 21 bytes hold ten "é" (the eleventh would be cut in half and is dropped), 20 hold ten.
    text = "é" * 300
    conversation = [Message("user", text), Message("assistant", "b" * 200), Message("user", "c" * 100)]
    prompt = build_prompt(conversation, ROUTES, max_context_tokens=300)
    assert '"content":"' + "é" * 10 + "…" + "é" * 10 + '"}' in prompt


def test_when_nothing_fits_the_newest_message_is_kept_whole() -> None:
    # 100 tokens is smaller than the template alone: nothing fits, the newest message goes whole.
    conversation = [Message("user", "first"), Message("assistant", "an answer " * 50)]
    prompt = build_prompt(conversation, ROUTES, max_context_tokens=100)
    assert prompt == expected_prompt('[{"role":"assistant","content":"' + "an answer " * 50 + '"}]')


# --- answer shapes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "route"),
    [
        ('{"route": "code_generation"}', "code_generation"),
        ('{"route": "complex_reasoning"}', "complex_reasoning"),
        ('{"route": "other"}', None),
        ('{"route": ""}', None),
        ('{"route": null}', None),
        ('{"route": "poetry"}', None),
        ("", None),
        (None, None),  # content: null
        ('```json\n{"route": "code_generation"}\n```', "code_generation"),
        ('```\n{"route": "complex_reasoning"}\n```', "complex_reasoning"),
        ("{'route': 'code_generation'}", "code_generation"),
        ('  {"route":"code_generation"}  \n', "code_generation"),
        ('{"route": ["poetry", "complex_reasoning", "code_generation"]}', "complex_reasoning"),
        ('{"route": []}', None),
        ('{"route": ["other"]}', None),
        ("{'route': ['code_generation']}", "code_generation"),
    ],
)
async def test_answer_shapes(
    fake: FakeArchServer, router: ArchRouter, answer: str | None, route: str | None
) -> None:
    fake.answer = answer
    result = await router.classify(BINARY_SEARCH, ROUTES)
    assert result.route == route
    assert result.backend == "arch_router"


@pytest.mark.parametrize(
    "answer",
    [
        "code_generation",
        "I think the best route is code generation.",
        '{"name": "code_generation"}',
        '["code_generation"]',
        '{"route": 42}',
        "{route: code_generation",
    ],
)
async def test_garbage_answer_is_a_router_error(
    fake: FakeArchServer, router: ArchRouter, answer: str
) -> None:
    fake.answer = answer
    with pytest.raises(RouterError, match="router answer"):
        await router.classify(BINARY_SEARCH, ROUTES)


def test_parse_route_is_a_pure_function() -> None:
    names = ["code_generation", "complex_reasoning"]
    assert parse_route('```json\n{"route": "code_generation"}\n```', names) == "code_generation"
    assert parse_route('{"route": "complex_reasoning"}', names[:1]) is None
    with pytest.raises(RouterError):
        parse_route("nope", names)


# --- failures ------------------------------------------------------------------------------------


async def test_http_500_is_a_router_error(fake: FakeArchServer, router: ArchRouter) -> None:
    fake.status = 500
    with pytest.raises(RouterError, match="HTTP 500"):
        await router.classify(BINARY_SEARCH, ROUTES)


async def test_non_chat_completion_body_is_a_router_error(fake: FakeArchServer) -> None:
    app_less = ArchRouter(base_url=fake.url + "/v1/nowhere")  # aiohttp answers 404 there
    try:
        with pytest.raises(RouterError, match="HTTP 404"):
            await app_less.classify(BINARY_SEARCH, ROUTES)
    finally:
        await app_less.aclose()


async def test_timeout_is_a_router_error(fake: FakeArchServer) -> None:
    fake.hold = asyncio.Event()  # the server never answers
    arch = ArchRouter(base_url=fake.url, timeout_ms=100)
    try:
        with pytest.raises(RouterError, match="timed out after 100 ms"):
            await arch.classify(BINARY_SEARCH, ROUTES)
    finally:
        await arch.aclose()


async def test_connection_refused_is_a_router_error() -> None:
    from conftest import free_port

    arch = ArchRouter(base_url=f"http://127.0.0.1:{free_port()}/v1")
    try:
        with pytest.raises(RouterError, match="unreachable"):
            await arch.classify(BINARY_SEARCH, ROUTES)
    finally:
        await arch.aclose()


async def test_no_routes_means_no_call(fake: FakeArchServer, router: ArchRouter) -> None:
    result = await router.classify(BINARY_SEARCH, [])
    assert result.route is None
    assert fake.requests == []


async def test_no_text_turns_means_no_call(fake: FakeArchServer, router: ArchRouter) -> None:
    result = await router.classify([Message("system", "be terse"), Message("tool", "{}")], ROUTES)
    assert result.route is None
    assert fake.requests == []


# --- concurrency ---------------------------------------------------------------------------------


async def test_concurrency_is_bounded(fake: FakeArchServer) -> None:
    fake.hold = asyncio.Event()
    fake.arrivals_wanted = 2
    arch = ArchRouter(base_url=fake.url, max_concurrency=2, timeout_ms=10_000)
    try:
        calls = [asyncio.create_task(arch.classify(BINARY_SEARCH, ROUTES)) for _ in range(5)]
        await asyncio.wait_for(fake.arrived.wait(), 5)
        # Give a third request every chance to get through if the bound were broken.
        for _ in range(20):
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)
        assert len(fake.requests) == 2
        fake.hold.set()
        results = await asyncio.gather(*calls)
    finally:
        await arch.aclose()
    assert [r.route for r in results] == ["code_generation"] * 5
    assert len(fake.requests) == 5
    assert fake.max_in_flight == 2


async def test_saturated_beyond_the_timeout_is_a_router_error(fake: FakeArchServer) -> None:
    # One slot, held by a call the server never answers. The queued call must fail within its own
    # timeout (never hang): "busy" if its deadline passes while waiting for the slot, or "timed out"
    # if the holder's deadline freed the slot first (their deadlines are microseconds apart).
    fake.hold = asyncio.Event()
    arch = ArchRouter(base_url=fake.url, max_concurrency=1, timeout_ms=200)
    try:
        first = asyncio.create_task(arch.classify(BINARY_SEARCH, ROUTES))
        await asyncio.wait_for(fake.arrived.wait(), 5)
        with pytest.raises(RouterError, match=r"busy|timed out"):
            await arch.classify(BINARY_SEARCH, ROUTES)
        with pytest.raises(RouterError, match="timed out"):
            await first
        # No slot leaked: once the server answers again, the same router serves.
        fake.hold.set()
        assert (await arch.classify(BINARY_SEARCH, ROUTES)).route == "code_generation"
    finally:
        await arch.aclose()
