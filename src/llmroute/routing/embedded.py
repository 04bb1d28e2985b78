"""The default router: sentence embeddings on the CPU, no network.

How a decision is made (docs/routing.md, "How the embedded router works"):

1. Every route becomes anchor texts: its description, the description's clauses and its `examples`;
   routes without examples also borrow those of the closest topics of a built-in topic bank. Texts are
   embedded once and cached by text, so inline preferences reuse the cache and new ones are embedded
   on first use.
2. The conversation becomes turns, newest first: the latest user turn, then up to two earlier user turns
   (and the assistant turns between). System/developer/tool messages are ignored.
3. Each turn is scored against each route and normalised by the route's baseline (how similar ordinary
   unrelated requests are to it). Turn scores are mixed with the latest turn weighted most; earlier turns
   fade when the latest turn stands on its own (a topic shift) and carry elliptical follow-ups.
4. A logistic calibration (data/calibration.json, fitted by scripts/fit_calibration.py on evals/train/)
   turns the best route's features into a confidence; below the threshold the answer is no route. A short
   turn that reads like "thanks, that worked" is no route whatever came before.

Only the latest turn's text usually needs the encoder: earlier turns and route anchors come from the
cache, and whatever is missing is embedded in the same single batch.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from importlib import resources

import numpy as np

from llmroute.routing.embedding import SentenceEncoder
from llmroute.routing.types import Classification, Route, RouterError
from llmroute.wire.conversation import Message, routable

# Calibrated probability that the best route is right, below which the answer is no route. The fit weighs
# route and no-route rows equally; 0.3 sits in the range (about 0.25 to 0.33) where the dev cases score
# best in aggregate, at the cost of some out-of-scope rejections (docs/routing.md).
DEFAULT_THRESHOLD = 0.3
CACHE_ENTRIES = 8192
# Long pasted turns (logs, code, e-mails) are cut to their head and tail: the ask is usually at either
# end, and encoder cost grows with length.
QUERY_HEAD_WORDS = 48
QUERY_TAIL_WORDS = 32
QUERY_MAX_CHARS = 4000


@dataclass(frozen=True)
class Tuning:
    """The router's knobs, in one place so the fit/eval scripts can vary them."""

    # minimum calibrated confidence (0..1) the best route needs; routing.router.threshold overrides it
    threshold: float = DEFAULT_THRESHOLD
    # route text score = desc_weight * sim(description) + (1 - desc_weight) * clause score
    desc_weight: float = 0.5
    # clause score = clause_mean * mean + (1 - clause_mean) * max over the description's clauses
    clause_mean: float = 0.0
    # with `examples`: route score = example_weight * (mean of the top-k example similarities)
    #                               + (1 - example_weight) * description score
    example_top_k: int = 3
    example_weight: float = 1.0
    # a latest turn this close to a built-in acknowledgement, and this short, is no route
    ack_gate: float = 0.6
    ack_max_words: int = 8
    # ... or whose every comma/sentence piece is at least this close to one
    ack_piece_gate: float = 0.5
    # ... or, with no question mark, that has two pieces at least this close to one (0 disables)
    ack_pair_gate: float = 0.65
    # a turn longer than this many words is also scored by its first sentence (0 disables)
    head_min_words: int = 40
    # ... and a turn longer than this by a first sentence that ends with a colon (0 disables)
    intro_min_words: int = 12
    # ... and so are the earlier user turns of the context
    context_heads: bool = True
    # built-in topic bank: a route borrows the examples of topics whose description is at least this
    # similar to its own (and closer to it than to any other route); borrowed score weight
    topic_affinity: float = 0.4
    topic_weight: float = 0.7
    # weights of the previous user turn and the previous assistant turn next to the latest user turn (1.0)
    prev_user_weight: float = 0.5
    prev_assistant_weight: float = 0.3
    older_user_weight: float = 0.2
    # earlier turns fade when the latest turn is self-sufficient: their weights are scaled by
    # 2 / (1 + exp(self_sufficiency * (latest_max_z - sufficient_z)))  (0 disables the fade)
    self_sufficiency: float = 1.0
    sufficient_z: float = 3.0
    # ... and when the latest turn is long: scaled by exp((context_words - words) / scale) beyond
    context_words: float = 14.0
    context_words_scale: float = 3.0
    # a background example closer than this to a route anchor is dropped for that route set
    background_prune: float = 0.6


@dataclass(frozen=True)
class _RouteSet:
    names: tuple[str, ...]
    desc: np.ndarray  # (n_routes, dim) description vectors
    clauses: np.ndarray  # (n_clauses, dim)
    clause_index: np.ndarray  # (n_routes, k): each route's clause columns, padded with n_clauses
    clause_mean_matrix: np.ndarray  # (n_clauses, n_routes): averages each route's clause scores
    has_clauses: np.ndarray  # (n_routes,) bool
    examples: np.ndarray  # (n_examples, dim)
    example_index: np.ndarray  # (n_routes, k), padded with n_examples
    has_examples: np.ndarray  # (n_routes,) bool
    borrowed: np.ndarray  # (n_borrowed, dim) topic-bank examples lent to routes
    borrowed_index: np.ndarray  # (n_routes, k), padded with n_borrowed
    has_borrowed: np.ndarray  # (n_routes,) bool
    # per-route mean and spread of the raw score over the reference requests (the baseline)
    base_mean: np.ndarray
    base_std: np.ndarray
    # built-in acknowledgement and small-talk examples, minus those close to one of these routes
    ack: np.ndarray
    chat: np.ndarray


class EmbeddedRouter:
    name = "embedded"

    def __init__(
        self,
        model_path: str | None = None,
        tokenizer_path: str | None = None,
        threshold: float | None = None,
        *,
        tuning: Tuning | None = None,
        cache_entries: int = CACHE_ENTRIES,
        encoder: SentenceEncoder | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self._encoder = encoder or SentenceEncoder(model_path=model_path, tokenizer_path=tokenizer_path)
        tuning = tuning or Tuning()
        if threshold is not None:
            tuning = replace(tuning, threshold=threshold)
        self.tuning = tuning
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_entries = cache_entries
        self._route_sets: OrderedDict[tuple[tuple[str, str, tuple[str, ...]], ...], _RouteSet] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="llmroute-embed")
        builtin = load_background()
        self._ack = self._encoder.encode(builtin["acknowledgement"])
        # Small talk and everyday off-topic requests: evidence that a turn belongs to no route.
        self._chat = self._encoder.encode(builtin["chitchat"] + builtin.get("offtopic", []))
        self._reference = self._encoder.encode(builtin["reference"] + builtin["chitchat"])
        topics = load_topics()
        self._topic_desc = self._encoder.encode([f"{name}: {desc}" for name, desc, _ in topics])
        self._topic_examples = self._encoder.encode([e for _, _, examples in topics for e in examples])
        self._topic_slices: list[tuple[int, int]] = []
        start = 0
        for _, _, examples in topics:
            self._topic_slices.append((start, start + len(examples)))
            start += len(examples)
        self.calibration = calibration if calibration is not None else load_calibration()

    # -- public API -------------------------------------------------------------------------------

    def warm(self, routes: Sequence[Route]) -> None:
        """Embed the routes' anchors now so the first request does not pay for it."""
        if routes:
            self._route_set(routes, self._embed(text for route in routes for text in route_texts(route)))

    async def classify(self, conversation: Sequence[Message], routes: Sequence[Route]) -> Classification:
        # ONNX inference holds the CPU for milliseconds; keep it off the event loop.
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._pool, self.classify_sync, list(conversation), list(routes)
            )
        except RouterError:
            raise
        except Exception as exc:
            raise RouterError(f"embedded router failed: {exc}") from exc

    def classify_sync(self, conversation: Sequence[Message], routes: Sequence[Route]) -> Classification:
        if not routes:
            return Classification(route=None, backend=self.name)
        turns = context_turns(conversation)
        if turns is None:
            return Classification(route=None, backend=self.name, details={"reason": "no user turn"})
        pieces = short_turn_pieces(turns[0][1], self.tuning.ack_max_words)
        # A long user turn is also read by its opening sentence ("Summarize this abstract: ..."); an
        # earlier turn's head was embedded when that turn was the latest, so it costs nothing now.
        heads = {
            i: head
            for i, (role, text) in enumerate(turns)
            if role == "user"
            and (i == 0 or self.tuning.context_heads)
            and (head := head_sentence(text, self.tuning.head_min_words, self.tuning.intro_min_words))
        }
        texts = [text for _, text in turns] + pieces + list(heads.values())
        route_set = self._cached_route_set(routes)
        if route_set is None:
            vectors = self._embed([*texts, *(t for route in routes for t in route_texts(route))])
            route_set = self._route_set(routes, vectors)
        else:
            vectors = self._embed(texts)
        return self._decide(route_set, turns, vectors, pieces, heads)

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- scoring ----------------------------------------------------------------------------------

    def _decide(
        self,
        rs: _RouteSet,
        turns: list[tuple[str, str]],
        vectors: dict[str, np.ndarray],
        pieces: Sequence[str] = (),
        heads: dict[int, str] | None = None,
    ) -> Classification:
        scores, features = self._score(rs, turns, vectors, heads)
        ack = features["ack"]
        features["piece_ack"] = ack
        if pieces and len(rs.ack):
            # "cool, booked the 3pm slot": every piece of the turn reads as closing the thread (but
            # "thanks, now make it shorter" has a piece that does not).
            piece_acks = [float((rs.ack @ vectors[piece]).max()) for piece in pieces]
            features["piece_ack"] = max(ack, *piece_acks)
            if min(piece_acks) >= self.tuning.ack_piece_gate:
                ack = max(ack, self.tuning.ack_gate)
            # "perfect, it arrived today. thanks": closing words at two places and no question.
            gate = self.tuning.ack_pair_gate
            if gate and "?" not in turns[0][1] and sum(a >= gate for a in piece_acks) >= 2:
                ack = max(ack, self.tuning.ack_gate)
        order = np.argsort(-scores)
        best = int(order[0])
        best_score = float(scores[best])
        second = float(scores[order[1]]) if len(order) > 1 else best_score - 1.0
        details: dict[str, object] = {
            "scores": {name: round(float(s), 4) for name, s in zip(rs.names, scores, strict=True)},
            "features": {k: round(v, 4) for k, v in features.items()},
        }
        confidence = self.calibration.probability(features)
        details["confidence"] = round(confidence, 4)
        route: str | None = rs.names[best] if confidence >= self.tuning.threshold else None
        # A short turn that reads like "thanks, that worked" closes the thread, whatever came before.
        if ack >= self.tuning.ack_gate and features["log_words"] <= np.log1p(self.tuning.ack_max_words):
            route, details["reason"] = None, "acknowledgement"
        return Classification(
            route=route, backend=self.name, score=best_score, margin=best_score - second, details=details
        )

    def _score(
        self,
        rs: _RouteSet,
        turns: list[tuple[str, str]],
        vectors: dict[str, np.ndarray],
        heads: dict[int, str] | None = None,
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Per-route combined scores and the features the calibrated none-decision reads."""
        t = self.tuning
        queries = np.stack([vectors[text] for _, text in turns])
        raw = self._raw_scores(rs, queries)
        per_turn = (raw - rs.base_mean) / rs.base_std  # (n_turns, n_routes), baseline-normalised
        for i, head in (heads or {}).items():
            # A long turn's opening sentence usually states the ask ("Summarize this abstract: ...").
            head_z = (self._raw_scores(rs, vectors[head][None, :])[0] - rs.base_mean) / rs.base_std
            per_turn[i] = np.maximum(per_turn[i], head_z)
        roles = [role for role, _ in turns]
        weights = turn_weights(roles, t)
        fade = 1.0 / (1.0 + np.exp(t.self_sufficiency * (float(per_turn[0].max()) - t.sufficient_z)))
        weights[1:] *= 2 * fade if t.self_sufficiency else 1.0
        n_words = len(turns[0][1].split())
        # A pasted turn's ask is its opening sentence: "here's the next one: <text>" is as elliptical as it.
        ask_words = len(heads[0].split()) if heads and 0 in heads else n_words
        # An elliptical follow-up is short ("and for 15 years?"); a long turn says what it wants itself.
        carry = 1.0  # how much of the earlier turns' weight the latest turn's length leaves
        if t.context_words and ask_words > t.context_words:
            carry = float(np.exp((t.context_words - ask_words) / t.context_words_scale))
            weights[1:] *= carry
        scores = (weights[:, None] * per_turn).sum(axis=0) / weights.sum()
        best = int(np.argmax(scores))
        ordered = np.sort(scores)[::-1]
        latest = queries[0]
        previous_user = next((i for i, role in enumerate(roles) if i > 0 and role == "user"), None)
        features = {
            "score": float(scores[best]),
            "margin": float(ordered[0] - ordered[1]) if len(ordered) > 1 else 1.0,
            "latest_z": float(per_turn[0, best]),
            "latest_max_z": float(per_turn[0].max()),
            "previous_z": float(per_turn[previous_user, best]) if previous_user is not None else 0.0,
            "has_context": 1.0 if previous_user is not None else 0.0,
            "latest_raw": float(raw[0, best]),
            "ack": float((rs.ack @ latest).max()) if len(rs.ack) else 0.0,
            "chat": float((rs.chat @ latest).max()) if len(rs.chat) else 0.0,
            "log_words": float(np.log1p(n_words)),
            # the previous user turn's evidence as far as the latest turn's length lets it carry
            "carried_z": carry * (float(per_turn[previous_user, best]) if previous_user is not None else 0.0),
        }
        return scores, features

    def _raw_scores(self, rs: _RouteSet, queries: np.ndarray) -> np.ndarray:
        """(n_queries, n_routes) similarity of each query to each route's texts."""
        t = self.tuning
        desc = queries @ rs.desc.T
        clause = desc
        if len(rs.clauses):
            sims = queries @ rs.clauses.T
            clause_max = np.maximum(desc, _group_max(sims, rs.clause_index))
            clause_mean = np.where(rs.has_clauses, sims @ rs.clause_mean_matrix, desc)
            clause = t.clause_mean * clause_mean + (1 - t.clause_mean) * clause_max
        scores = t.desc_weight * desc + (1 - t.desc_weight) * clause
        if len(rs.borrowed):
            lent = _group_top_mean(queries @ rs.borrowed.T, rs.borrowed_index, t.example_top_k)
            scores = np.where(rs.has_borrowed, t.topic_weight * lent + (1 - t.topic_weight) * scores, scores)
        if len(rs.examples):
            examples = _group_top_mean(queries @ rs.examples.T, rs.example_index, t.example_top_k)
            scores = np.where(
                rs.has_examples, t.example_weight * examples + (1 - t.example_weight) * scores, scores
            )
        return scores

    # -- embedding cache --------------------------------------------------------------------------

    def _embed(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """Vectors for `texts`, encoding the ones not cached in a single batch."""
        wanted = list(dict.fromkeys(texts))
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in wanted:
                vector = self._cache.get(text)
                if vector is not None:
                    self._cache.move_to_end(text)
                    found[text] = vector
        missing = [text for text in wanted if text not in found]
        if missing:
            encoded = self._encoder.encode(missing)
            with self._lock:
                for text, vector in zip(missing, encoded, strict=True):
                    found[text] = vector
                    self._cache[text] = vector
                while len(self._cache) > self._cache_entries:
                    self._cache.popitem(last=False)
        return found

    def _lend_topics(self, rs: _RouteSet) -> _RouteSet:
        """Give each route the examples of the built-in topics that describe it best."""
        if not len(self._topic_desc):
            return rs
        affinity = rs.desc @ self._topic_desc.T  # (n_routes, n_topics)
        owner_of_topic = affinity.argmax(axis=0)
        rows: list[np.ndarray] = []
        owner: list[int] = []
        for topic, route in enumerate(owner_of_topic):
            # A route with its own examples needs no borrowed ones.
            if affinity[route, topic] >= self.tuning.topic_affinity and not rs.has_examples[route]:
                start, end = self._topic_slices[topic]
                rows.append(self._topic_examples[start:end])
                owner += [int(route)] * (end - start)
        if not rows:
            return rs
        n = len(rs.names)
        return replace(
            rs,
            borrowed=np.concatenate(rows),
            borrowed_index=_index_matrix(owner, n),
            has_borrowed=np.array([i in owner for i in range(n)]),
        )

    def _cached_route_set(self, routes: Sequence[Route]) -> _RouteSet | None:
        key = _route_key(routes)
        with self._lock:
            cached = self._route_sets.get(key)
            if cached is not None:
                self._route_sets.move_to_end(key)
            return cached

    def _route_set(self, routes: Sequence[Route], vectors: dict[str, np.ndarray]) -> _RouteSet:
        cached = self._cached_route_set(routes)
        if cached is not None:
            return cached
        key = _route_key(routes)
        dim = self._reference.shape[1]
        desc, clauses, clause_owner, examples, example_owner = [], [], [], [], []
        for index, route in enumerate(routes):
            desc.append(vectors[route.description.strip()])
            for text in description_clauses(route.description):
                clauses.append(vectors[text])
                clause_owner.append(index)
            for text in route_examples(route):
                examples.append(vectors[text])
                example_owner.append(index)
        empty = np.zeros((0, dim), dtype=np.float32)
        n = len(routes)
        mean_matrix = np.zeros((len(clauses), n), dtype=np.float32)
        for j, owner in enumerate(clause_owner):
            mean_matrix[j, owner] = 1.0 / clause_owner.count(owner)
        partial = _RouteSet(
            names=tuple(r.name for r in routes),
            desc=np.stack(desc),
            clauses=np.stack(clauses) if clauses else empty,
            clause_index=_index_matrix(clause_owner, n),
            clause_mean_matrix=mean_matrix,
            has_clauses=np.array([i in clause_owner for i in range(n)]),
            examples=np.stack(examples) if examples else empty,
            example_index=_index_matrix(example_owner, n),
            has_examples=np.array([i in example_owner for i in range(n)]),
            borrowed=empty,
            borrowed_index=_index_matrix([], n),
            has_borrowed=np.zeros(n, dtype=bool),
            base_mean=np.zeros(len(routes), dtype=np.float32),
            base_std=np.ones(len(routes), dtype=np.float32),
            ack=empty,
            chat=empty,
        )
        partial = self._lend_topics(partial)
        baseline = self._raw_scores(partial, self._reference)
        anchors = np.concatenate([partial.desc, partial.clauses, partial.examples])
        prune = self.tuning.background_prune
        # Background examples that sit close to one of these routes are that route's business here.
        route_set = replace(
            partial,
            base_mean=baseline.mean(axis=0),
            base_std=np.maximum(baseline.std(axis=0), 0.02),
            ack=self._ack[(self._ack @ anchors.T).max(axis=1) < prune],
            chat=self._chat[(self._chat @ anchors.T).max(axis=1) < prune],
        )
        with self._lock:
            self._route_sets[key] = route_set
            while len(self._route_sets) > 256:
                self._route_sets.popitem(last=False)
        return route_set


def _route_key(routes: Sequence[Route]) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    return tuple((r.name, r.description, r.examples) for r in routes)


def _index_matrix(owner: list[int], n_routes: int) -> np.ndarray:
    """Row r lists the columns owned by route r, padded with the index one past the last column."""
    rows = [[j for j, o in enumerate(owner) if o == r] for r in range(n_routes)]
    width = max(1, max((len(row) for row in rows), default=0))
    return np.array([row + [len(owner)] * (width - len(row)) for row in rows], dtype=np.int64)


def _group_max(sims: np.ndarray, index: np.ndarray) -> np.ndarray:
    """(n_queries, n_routes) max of each route's columns of `sims`; -1 for a route with none."""
    padded = np.concatenate([sims, np.full((sims.shape[0], 1), -1.0, dtype=sims.dtype)], axis=1)
    return padded[:, index].max(axis=2)


def _group_top_mean(sims: np.ndarray, index: np.ndarray, k: int) -> np.ndarray:
    """(n_queries, n_routes) mean of each route's k best columns (fewer when it has fewer)."""
    padded = np.concatenate([sims, np.full((sims.shape[0], 1), np.nan, dtype=sims.dtype)], axis=1)
    grouped = -np.sort(-np.nan_to_num(padded[:, index], nan=-np.inf), axis=2)[:, :, :k]
    valid = np.isfinite(grouped)
    return np.where(valid, grouped, 0.0).sum(axis=2) / np.maximum(valid.sum(axis=2), 1)


def turn_weights(roles: Sequence[str], t: Tuning) -> np.ndarray:
    """Weight of each context turn (newest first): the latest user turn counts most."""
    weights = []
    users = 0
    for i, role in enumerate(roles):
        if i == 0:
            weights.append(1.0)
            users = 1
        elif role == "user":
            weights.append(t.prev_user_weight if users == 1 else t.older_user_weight)
            users += 1
        else:
            weights.append(t.prev_assistant_weight if users == 1 else 0.0)
    return np.array(weights, dtype=np.float32)


# -- text preparation -----------------------------------------------------------------------------

_CLAUSE_SPLIT = re.compile(r"[:;,]|\bor\b|\band\b")


def description_clauses(description: str) -> list[str]:
    """The description's parts ("booking, rescheduling or cancelling X" -> three clauses)."""
    description = description.strip()
    head, sep, tail = description.partition(":")
    parts = [c.strip() for c in _CLAUSE_SPLIT.split(tail if sep else description)]
    clauses = [c for c in parts if len(c.split()) >= 2 and c != description]
    if sep and head.strip():
        clauses.append(head.strip())
    return list(dict.fromkeys(clauses))


def route_examples(route: Route) -> list[str]:
    return list(dict.fromkeys(e.strip() for e in route.examples if e.strip()))


def route_texts(route: Route) -> list[str]:
    """Every text of a route that needs a vector."""
    return [route.description.strip(), *description_clauses(route.description), *route_examples(route)]


_PIECE_SPLIT = re.compile(r"[.,;!?]+\s*|\s+-\s+")


def short_turn_pieces(text: str, max_words: int) -> list[str]:
    """The comma/sentence pieces of a short turn ("great, that worked. ty"), or [] for a long or one-piece turn."""
    if len(text.split()) > max_words:
        return []
    pieces = [p.strip() for p in _PIECE_SPLIT.split(text) if p.strip()]
    return pieces if len(pieces) > 1 else []


_SENTENCE_END = re.compile(r"(?<=[.?!:])\s+|\n+")


def head_sentence(text: str, min_words: int, intro_min_words: int = 0) -> str | None:
    """The first sentence of a turn longer than `min_words` words, when it is a sentence of its own; or,
    for a turn longer than `intro_min_words`, a first sentence that introduces what follows with a colon
    ("line edit this please: ...")."""
    n_words = len(text.split())
    if min_words <= 0 or n_words <= min(min_words, intro_min_words or min_words):
        return None
    first = _SENTENCE_END.split(text.strip(), maxsplit=1)[0].strip()
    words = first.split()
    if len(words) < 3 or len(words) >= min_words:
        return None
    if n_words <= min_words and not first.endswith(":"):
        return None
    return " ".join(words)


def trim_text(text: str) -> str:
    # Characters first: one pasted blob without spaces must not reach the tokenizer whole.
    if len(text) > QUERY_MAX_CHARS:
        text = f"{text[: QUERY_MAX_CHARS // 2]} ... {text[-QUERY_MAX_CHARS // 2 :]}"
    words = text.split()
    if len(words) <= QUERY_HEAD_WORDS + QUERY_TAIL_WORDS:
        return " ".join(words)
    return " ".join([*words[:QUERY_HEAD_WORDS], "...", *words[-QUERY_TAIL_WORDS:]])


def context_turns(conversation: Sequence[Message], user_turns: int = 3) -> list[tuple[str, str]] | None:
    """(role, trimmed text) newest first: the latest user turn, then earlier turns up to `user_turns` users."""
    turns = routable(list(conversation))
    while turns and turns[-1].role != "user":
        turns.pop()
    if not turns:
        return None
    picked: list[tuple[str, str]] = []
    users = 0
    for message in reversed(turns):
        if message.role == "user":
            if users == user_turns:
                break
            users += 1
        picked.append((message.role, trim_text(message.text)))
    return picked


@dataclass(frozen=True)
class Calibration:
    """Logistic model over the decision features: P(the best route is the answer rather than none)."""

    weights: dict[str, float]
    bias: float
    mean: dict[str, float]
    scale: dict[str, float]

    def probability(self, features: dict[str, float]) -> float:
        z = self.bias
        for name, weight in self.weights.items():
            z += weight * (features[name] - self.mean[name]) / self.scale[name]
        return float(1.0 / (1.0 + np.exp(-z)))

    def to_json(self) -> dict[str, object]:
        return {"weights": self.weights, "bias": self.bias, "mean": self.mean, "scale": self.scale}

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> Calibration:
        raw = {k: v for k, v in raw.items() if not k.startswith("_")}
        return cls(
            weights=dict(raw["weights"]),  # type: ignore[arg-type]
            bias=float(raw["bias"]),  # type: ignore[arg-type]
            mean=dict(raw["mean"]),  # type: ignore[arg-type]
            scale=dict(raw["scale"]),  # type: ignore[arg-type]
        )


# Used when no fitted calibration ships (first fit): a plain threshold on the combined score.
UNCALIBRATED = Calibration(weights={"score": 4.0}, bias=-4.0, mean={"score": 0.0}, scale={"score": 1.0})


def load_calibration() -> Calibration:
    path = resources.files("llmroute.routing") / "data" / "calibration.json"
    if not path.is_file():
        return UNCALIBRATED
    return Calibration.from_json(json.loads(path.read_text("utf-8")))


def load_topics() -> list[tuple[str, str, list[str]]]:
    """(name, description, examples) of the built-in topic bank (data/topics.txt)."""
    text = (resources.files("llmroute.routing") / "data" / "topics.txt").read_text("utf-8")
    topics: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or (line.startswith("#") and not line.startswith("## ")):
            continue
        if line.startswith("## "):
            name, _, description = line[3:].partition(":")
            topics.append((name.strip(), description.strip(), []))
        elif topics:
            topics[-1][2].append(line)
    return topics


def load_background() -> dict[str, list[str]]:
    raw = json.loads((resources.files("llmroute.routing") / "data" / "background.json").read_text("utf-8"))
    return {key: list(value) for key, value in raw.items() if not key.startswith("_")}
