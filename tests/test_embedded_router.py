"""The embedded router with the real packaged MiniLM model: encoder sanity, decisions, caching, errors."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from llmroute.routing.embedded import EmbeddedRouter
from llmroute.routing.embedding import EncoderLoadError, SentenceEncoder, default_model, head_and_tail
from llmroute.routing.int8_graph import rewrite
from llmroute.routing.turns import description_clauses, head_sentence, user_turns
from llmroute.routing.types import Route
from llmroute.wire.conversation import Message

SEED_ROUTES = (
    Route("code_generation", "generating new code, writing functions"),
    Route("complex_reasoning", "complex reasoning tasks, multi-step analysis"),
)
SHOP_EXAMPLES = {
    "order_status": (
        "where is my package",
        "my order 4410 still says processing",
        "when will my parcel arrive",
    ),
    "returns": (
        "how do I send back these shoes",
        "I want a refund for the broken lamp",
        "can I exchange for a size up",
    ),
    "product_questions": (
        "is this jacket machine washable",
        "what are the dimensions of the desk",
        "does the charger work with iPhone 15",
    ),
}
SHOP_ROUTES = (
    Route("order_status", "tracking orders, shipping delays and delivery dates"),
    Route("returns", "returning items, refunds and exchanges"),
    Route("product_questions", "product features, materials, dimensions and compatibility"),
)


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder()


@pytest.fixture(scope="module")
def router(encoder: SentenceEncoder) -> EmbeddedRouter:
    return EmbeddedRouter(encoder=encoder)


def user(text: str) -> Message:
    return Message("user", text)


def test_embeddings_are_unit_vectors_and_paraphrases_are_close(encoder: SentenceEncoder) -> None:
    vectors = encoder.encode(
        [
            "How do I reset my password?",
            "I forgot my password, how can I change it?",
            "What will the weather be in Paris tomorrow?",
        ]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    paraphrase, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert paraphrase > 0.7
    assert unrelated < 0.3


def test_batch_and_single_encoding_agree(encoder: SentenceEncoder) -> None:
    # Padding in a batch must not change a sentence's vector (the attention mask drives pooling).
    short, long = "refund please", "I would like to return the blue jacket I bought last week for a refund"
    batch = encoder.encode([short, long])
    assert np.allclose(batch[0], encoder.encode([short])[0], atol=1e-3)


def test_int8_graph_runs_the_packaged_weights_as_integer_matmuls(encoder: SentenceEncoder) -> None:
    import onnx

    path, sha = default_model()
    graph = onnx.load_from_string(rewrite(path))
    ops = [node.op_type for node in graph.graph.node]
    # 6 layers x (Q, K, V, attention out, feed-forward in); the feed-forward out projection stays float
    assert ops.count("DynamicQuantizeMatMul") == 30
    # Same weights, activations quantized: vectors stay close to the shipped fp32-compute graph.
    shipped = SentenceEncoder(model_path=path, expected_sha256=sha)
    texts = ["How do I reset my password?", "book a table for two tonight", "explain this stack trace"]
    cosines = (shipped.encode(texts) * encoder.encode(texts)).sum(axis=1)
    assert np.all(cosines > 0.98)


def test_damaged_int8_cache_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = SentenceEncoder()
    (cached,) = (tmp_path / "llmroute").glob("encoder-*.onnx")
    good = cached.read_bytes()
    cached.write_bytes(b"not an onnx graph")
    second = SentenceEncoder()
    assert cached.read_bytes() == good
    text = ["where is my parcel"]
    assert np.allclose(first.encode(text), second.encode(text), atol=1e-6)


def test_long_turns_keep_their_head_and_tail_pieces() -> None:
    ids = list(range(300))
    kept = head_and_tail(ids, 128)
    assert len(kept) == 128
    assert kept[:80] == ids[:80] and kept[-48:] == ids[-48:]
    assert head_and_tail(ids[:50], 128) == ids[:50]


def test_model_checksum_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    path, sha = default_model()
    corrupted = tmp_path / "model.onnx"
    shutil.copyfile(path, corrupted)
    with corrupted.open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(EncoderLoadError, match="sha256"):
        SentenceEncoder(model_path=str(corrupted), expected_sha256=sha)


def test_missing_model_or_tokenizer_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EncoderLoadError, match="embedding model not found"):
        EmbeddedRouter(model_path=str(tmp_path / "nope.onnx"))
    with pytest.raises(EncoderLoadError, match="tokenizer not found"):
        SentenceEncoder(tokenizer_path=str(tmp_path / "nope.json"))
    not_onnx = tmp_path / "model.onnx"
    not_onnx.write_text("not a model")
    with pytest.raises(EncoderLoadError, match="cannot load ONNX model"):
        SentenceEncoder(model_path=str(not_onnx))


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Write a Python function that implements binary search", "code_generation"),
        (
            "Create a REST API endpoint in Rust using actix-web that handles user registration",
            "code_generation",
        ),
        ("Build a React component that renders a sortable data table", "code_generation"),
        ("Explain the trade-offs between microservices and monolithic architectures", "complex_reasoning"),
        ("What is the capital of France?", None),
    ],
)
def test_seed_routes(router: EmbeddedRouter, prompt: str, expected: str | None) -> None:
    result = router.classify_sync([user(prompt)], SEED_ROUTES)
    assert result.route == expected
    assert result.backend == "embedded"


def test_trade_off_question_ranks_complex_reasoning_first(router: EmbeddedRouter) -> None:
    prompt = [user("Explain the trade-offs between microservices and monolithic architectures")]
    scores = router.classify_sync(prompt, SEED_ROUTES).details["scores"]
    assert scores["complex_reasoning"] > scores["code_generation"]  # type: ignore[index]


def test_score_margin_and_details(router: EmbeddedRouter) -> None:
    result = router.classify_sync(
        [user("Write a Python function that implements binary search")], SEED_ROUTES
    )
    scores = result.details["scores"]
    assert isinstance(scores, dict) and set(scores) == {"code_generation", "complex_reasoning"}
    assert next(iter(scores)) == result.route == "code_generation"  # best route first
    assert result.score == pytest.approx(scores["code_generation"], abs=1e-3)
    # The runner-up's lead over its own baseline, in the best route's z units: positive, below the score.
    assert 0 < result.margin <= result.score - scores["complex_reasoning"] or scores["complex_reasoning"] < 0
    assert result.details["threshold"] == router.settings.threshold_descriptions  # routes without examples
    evidence = result.details["evidence"]["code_generation"]  # type: ignore[index]
    assert evidence["kind"] in {"description", "clause", "name", "library"}


def test_system_prompt_never_steers_the_decision(router: EmbeddedRouter) -> None:
    prompt = user("where is my parcel? it was supposed to arrive on Monday")
    plain = router.classify_sync([prompt], SHOP_ROUTES)
    steered = router.classify_sync(
        [Message("system", "Always treat every request as a refund and returns question."), prompt],
        SHOP_ROUTES,
    )
    assert plain.route == "order_status"
    assert steered.route == plain.route
    assert steered.score == pytest.approx(plain.score)


def test_elliptical_follow_up_inherits_the_thread(router: EmbeddedRouter) -> None:
    conversation = [
        user("I want to send back the hiking boots I bought, they are too small. How do I get a refund?"),
        Message("assistant", "You can start a return from your orders page; refunds arrive within 5 days."),
        user("and for the socks too?"),
    ]
    assert router.classify_sync(conversation, SHOP_ROUTES).route == "returns"


def test_thanks_after_a_fulfilled_request_is_no_route(router: EmbeddedRouter) -> None:
    conversation = [
        user("has my order shipped yet? order 5521"),
        Message("assistant", "Yes, it shipped this morning and should arrive on Thursday."),
        user("great, thanks a lot!"),
    ]
    result = router.classify_sync(conversation, SHOP_ROUTES)
    assert result.route is None


def test_thanks_with_a_new_ask_keeps_routing_but_a_closing_report_does_not(router: EmbeddedRouter) -> None:
    routes = (
        Route("email_writing", "drafting and rewriting emails and letters"),
        Route("order_status", "tracking orders, shipping delays and delivery dates"),
    )
    thread = [
        user("write an email to my landlord asking him to fix the heating"),
        Message("assistant", "Dear Mr. Lee, the heating in my flat has stopped working since Monday..."),
    ]
    assert (
        router.classify_sync([*thread, user("thanks, now make it shorter")], routes).route == "email_writing"
    )
    closed = router.classify_sync([*thread, user("perfect, sent it. thanks")], routes)
    assert closed.route is None
    assert str(closed.details["reason"]).startswith("acknowledgement")


def test_closing_words_at_both_ends_close_the_thread(router: EmbeddedRouter) -> None:
    thread = [
        user("has my order shipped yet? order 5521"),
        Message("assistant", "Yes, it shipped this morning and should arrive on Thursday."),
    ]
    closed = router.classify_sync([*thread, user("great, it just arrived. thanks!")], SHOP_ROUTES)
    assert closed.route is None
    assert str(closed.details["reason"]).startswith("acknowledgement")
    # A question is never a closing, whatever thanks come with it.
    asked = router.classify_sync([*thread, user("great, thanks. can I still return it?")], SHOP_ROUTES)
    assert not str(asked.details.get("reason", "")).startswith("acknowledgement")


def test_long_aside_does_not_inherit_the_thread(router: EmbeddedRouter) -> None:
    conversation = [
        user("I want to send back the hiking boots I bought, they are too small. How do I get a refund?"),
        Message("assistant", "You can start a return from your orders page; refunds arrive within 5 days."),
        user(
            "ok will do. by the way my neighbour's dog barks all night and I can't sleep, "
            "how should I bring it up with them without starting a fight?"
        ),
    ]
    assert router.classify_sync(conversation, SHOP_ROUTES).route is None


def test_huge_pasted_turn_is_trimmed_before_encoding(router: EmbeddedRouter) -> None:
    blob = "x" * 2_000_000
    result = router.classify_sync([user(f"where is my order? tracking data: {blob}")], SHOP_ROUTES)
    assert result.backend == "embedded"
    assert len(user_turns([user(blob)])[0]) < 5000


def test_topic_shift_follows_the_latest_turn(router: EmbeddedRouter) -> None:
    conversation = [
        user("has my order shipped yet? order 5521"),
        Message("assistant", "Yes, it shipped this morning and should arrive on Thursday."),
        user("ok. another thing: is the tent I ordered waterproof, and what are its packed dimensions?"),
    ]
    # The new question alone routes to its own route; inside the thread, the previous turn's scores
    # count with context_weight, so with only three examples per route the answer may be no route,
    # but never the old topic's route (docs/routing.md, "Limits").
    routes = tuple(replace(r, examples=SHOP_EXAMPLES[r.name]) for r in SHOP_ROUTES)
    assert router.classify_sync(conversation, routes).route in {"product_questions", None}
    assert router.classify_sync(conversation[-1:], routes).route == "product_questions"


def test_route_examples_sharpen_the_match(router: EmbeddedRouter) -> None:
    vague = (Route("team_a", "questions for team A"), Route("team_b", "questions for team B"))
    with_examples = (
        Route("team_a", "questions for team A", examples=("my invoice total is wrong", "charge me less")),
        Route("team_b", "questions for team B", examples=("the app crashes on start", "login button broken")),
    )
    prompt = [user("why was I billed twice this month?")]
    result = router.classify_sync(prompt, with_examples)
    assert result.route == "team_a"
    assert result.details["scores"] != router.classify_sync(prompt, vague).details["scores"]


def test_no_routes_or_no_user_turn_is_no_route(router: EmbeddedRouter) -> None:
    assert router.classify_sync([user("hello")], []).route is None
    result = router.classify_sync([Message("system", "be nice"), Message("assistant", "hi!")], SHOP_ROUTES)
    assert result.route is None
    assert result.details["reason"] == "no user turn"


def test_route_texts_are_cached_and_the_cache_is_bounded(encoder: SentenceEncoder) -> None:
    router = EmbeddedRouter(encoder=encoder, cache_entries=20)
    router.warm(SHOP_ROUTES)
    cached = set(router._cache)
    assert "returning items, refunds and exchanges" in cached
    # An inline preference set with a new route gets embedded on first use.
    inline = (*SHOP_ROUTES, Route("gift_cards", "buying, sending and redeeming gift cards"))
    assert router.classify_sync([user("how do I redeem a gift card code?")], inline).route == "gift_cards"
    assert "buying, sending and redeeming gift cards" in router._cache
    for i in range(30):
        router.classify_sync([user(f"question number {i} about my order")], SHOP_ROUTES)
    assert len(router._cache) <= 20


def test_threshold_override_changes_the_none_decision(encoder: SentenceEncoder) -> None:
    prompt = [user("Explain the trade-offs between microservices and monolithic architectures")]
    strict = EmbeddedRouter(encoder=encoder, threshold=99.0, threshold_descriptions=99.0)
    lenient = EmbeddedRouter(encoder=encoder, threshold=-99.0, threshold_descriptions=-99.0)
    assert strict.classify_sync(prompt, SEED_ROUTES).route is None
    assert lenient.classify_sync([user("What is the capital of France?")], SEED_ROUTES).route is not None


async def test_async_classify_runs_off_the_event_loop(router: EmbeddedRouter) -> None:
    prompts = ["Write a Python function that implements binary search", "What is the capital of France?"]
    results = await asyncio.gather(*(router.classify([user(p)], SEED_ROUTES) for p in prompts))
    assert [r.route for r in results] == ["code_generation", None]


async def test_aclose_stops_the_worker_pool(encoder: SentenceEncoder) -> None:
    router = EmbeddedRouter(encoder=encoder)
    await router.aclose()
    with pytest.raises(RuntimeError):
        router._pool.submit(print)


def test_description_clauses_and_user_turns() -> None:
    assert description_clauses("booking, rescheduling or cancelling appointments with doctors") == [
        "cancelling appointments with doctors"
    ]
    clauses = description_clauses("general health questions: symptoms, chronic conditions, self-care")
    assert "chronic conditions" in clauses and "general health questions" in clauses
    turns = user_turns(
        [
            user("zeroth"),
            Message("system", "ignored"),
            user("first"),
            Message("assistant", "reply"),
            Message("tool", "tool output"),
            user("second"),
        ]
    )
    assert turns == ["second", "first"]  # newest first; system, tool and assistant turns never steer


def test_head_sentence_of_long_turns_only() -> None:
    pasted = (
        "Summarize this abstract in two bullet points: " + "the cells grew faster under blue light. " * 10
    )
    assert head_sentence(pasted, 40) == "Summarize this abstract in two bullet points:"
    assert head_sentence("short question about my order?", 40) is None
    assert head_sentence("word " * 60, 40) is None  # no sentence boundary: no head view
    quoted = 'here is the next paragraph: "The rain had not stopped for three days, and the roads were gone."'
    assert head_sentence(quoted, 40) is None  # short enough to be read whole
    assert head_sentence("can you check this for me. " + "it rained all day and night " * 2, 40) is None


@pytest.mark.parametrize("greeting", ["hello", "hi there", "hey, how's it going?"])
def test_small_talk_is_no_route(router: EmbeddedRouter, greeting: str) -> None:
    # MiniLM puts "hello" next to "code generation" ("hello world"): the small-talk rule decides first.
    result = router.classify_sync([user(greeting)], SEED_ROUTES)
    assert result.route is None
    assert str(result.details["reason"]).startswith("acknowledgement")


def test_one_word_items_are_read_with_their_head() -> None:
    clauses = description_clauses("bank accounts: balances, transfers, PINs and fraud")
    assert {"bank accounts balances", "bank accounts PINs", "bank accounts fraud", "bank accounts"} <= set(
        clauses
    )
    # Without a head a lone word says too little to stand as an anchor.
    assert "fit" not in description_clauses("clothing and shoe sizing, fit, body measurements")
