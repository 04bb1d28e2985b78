"""A route set as the embedded router scores it: every route's anchor texts as vectors, and the
per-route baseline that turns raw similarities into comparable z-scores.

A route's anchors are its description, the description's clauses, its name (as words) and its
examples (hand-written, included or generated). A route without examples also borrows the examples
of the built-in library topics (data/library.json) whose "name: description" is close to its own:
generic request types (code generation, summarization, travel...) that descriptions alone match
poorly. A route's raw score for a text is the mean of its `top_k` best anchor similarities; the
z-score standardises it against ordinary requests (the library and data/background.json), so one
threshold holds for routes with and without examples and for any route set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from llmroute.routing.turns import description_clauses, route_name_text, trim_text
from llmroute.routing.types import Route

Embed = Callable[[list[str]], dict[str, np.ndarray]]

# Standard deviations below this are treated as this: a route that nothing resembles must not get
# huge z-scores from tiny differences.
MIN_STD = 0.02


@dataclass(frozen=True)
class Library:
    """The built-in texts: library topics (generic request types), acknowledgements, reference requests."""

    topic_texts: tuple[str, ...]  # "name: description" per topic
    topic_examples: tuple[tuple[str, ...], ...]
    acknowledgements: tuple[str, ...]  # closings ("thanks, that worked") and small talk ("hi there")
    reference: tuple[str, ...]  # ordinary requests of every kind: the baseline (topic examples first)

    def topic_rows(self, topic: int) -> range:
        """The rows of `reference` that hold `topic`'s examples."""
        start = sum(len(group) for group in self.topic_examples[:topic])
        return range(start, start + len(self.topic_examples[topic]))


@cache
def load_library() -> Library:
    data = resources.files("llmroute.routing") / "data"
    library = json.loads((data / "library.json").read_text("utf-8"))
    background = json.loads((data / "background.json").read_text("utf-8"))
    topics = library["topics"]
    examples = tuple(tuple(trim_text(e) for e in t["examples"]) for t in topics)
    return Library(
        topic_texts=tuple(f"{route_name_text(t['name'])}: {t['description']}" for t in topics),
        topic_examples=examples,
        acknowledgements=tuple(background["acknowledgement"] + background["small_talk"]),
        reference=tuple(e for group in examples for e in group) + tuple(background["reference"]),
    )


@dataclass(frozen=True)
class LibraryVectors:
    topics: np.ndarray  # one per topic text
    acknowledgements: np.ndarray
    reference: np.ndarray


@dataclass(frozen=True)
class Anchor:
    route: int
    kind: str  # description | clause | name | example | library
    text: str


def route_anchors(routes: Sequence[Route], lent: dict[int, list[str]]) -> list[Anchor]:
    """Every anchor text of every route (deduplicated per route), with what it is."""
    anchors: list[Anchor] = []
    for index, route in enumerate(routes):
        texts = [("description", route.description.strip())]
        texts += [("clause", c) for c in description_clauses(route.description)]
        texts.append(("name", route_name_text(route.name)))
        texts += [("example", trim_text(e)) for e in route.examples if e.strip()]
        texts += [("library", e) for e in lent.get(index, [])]
        seen: set[str] = set()
        for kind, text in texts:
            if text and text not in seen:
                seen.add(text)
                anchors.append(Anchor(index, kind, text))
    return anchors


@dataclass(frozen=True)
class RouteSet:
    names: tuple[str, ...]
    anchors: tuple[Anchor, ...]
    vectors: np.ndarray  # (n_anchors, dim)
    index: np.ndarray  # (n_routes, width): each route's anchor rows, padded with n_anchors
    top_k: int
    mean: np.ndarray  # (n_routes,) raw score of ordinary requests
    std: np.ndarray
    ack: np.ndarray  # acknowledgements not close to one of these routes' anchors
    member_floor: np.ndarray  # (n_routes,) where the route's own examples score (inf: too few examples)

    def raw(self, queries: np.ndarray) -> np.ndarray:
        """(n_queries, n_routes): mean of each route's top_k anchor similarities."""
        return group_top_mean(queries @ self.vectors.T, self.index, self.top_k)

    def z(self, queries: np.ndarray) -> np.ndarray:
        return (self.raw(queries) - self.mean) / self.std

    def rank(self, z: np.ndarray) -> np.ndarray:
        """Route indices, best first, by how far similarity rises above each route's baseline (z times
        spread: similarity units, the same for every route). Ranking by z itself would let a narrow
        route's small spread inflate its scores against the others: it picked the wrong route more often
        on the dev suites, CLINC150 and HWU64 (docs/routing.md)."""
        return np.argsort(-(z * self.std))

    def evidence(self, query: np.ndarray, route: int) -> tuple[Anchor, float]:
        """The route's anchor closest to `query`, and its similarity."""
        rows = [j for j in self.index[route] if j < len(self.anchors)]
        sims = self.vectors[rows] @ query
        best = int(np.argmax(sims))
        return self.anchors[rows[best]], float(sims[best])


def build_route_set(
    routes: Sequence[Route],
    embed: Embed,
    library: Library,
    library_vectors: LibraryVectors,
    top_k: int,
    library_affinity: float,
    ack_prune: float,
    member_quantile: float,
) -> RouteSet:
    lent, lent_topics = _lend(routes, embed, library_vectors.topics, library, library_affinity)
    anchors = route_anchors(routes, lent)
    vectors_by_text = embed([a.text for a in anchors])
    vectors = np.stack([vectors_by_text[a.text] for a in anchors])
    index = index_matrix([a.route for a in anchors], len(routes))
    # A borrowed topic's examples are this route set's anchors now, not ordinary requests.
    keep = np.ones(len(library_vectors.reference), dtype=bool)
    for topic in lent_topics:
        keep[list(library.topic_rows(topic))] = False
    raw = group_top_mean(library_vectors.reference[keep] @ vectors.T, index, top_k)
    mean = raw.mean(axis=0)
    std = np.maximum(raw.std(axis=0), MIN_STD)
    ack = library_vectors.acknowledgements
    close = (ack @ vectors.T).max(axis=1) >= ack_prune
    return RouteSet(
        names=tuple(r.name for r in routes),
        anchors=tuple(anchors),
        vectors=vectors,
        index=index,
        top_k=top_k,
        mean=mean,
        std=std,
        # "thanks, the refund arrived" is a closing line, unless refunds are what a route is about.
        ack=ack[~close],
        member_floor=_member_floor(anchors, vectors, index, top_k, mean, std, member_quantile),
    )


# A quantile of fewer scores than this says little about a route's spread.
MIN_MEMBERS = 6


def _member_floor(
    anchors: Sequence[Anchor],
    vectors: np.ndarray,
    index: np.ndarray,
    top_k: int,
    mean: np.ndarray,
    std: np.ndarray,
    quantile: float,
) -> np.ndarray:
    """Per route, the `quantile` of its examples' z-scores, each example scored against the route's
    other anchors (leave one out): how far from the route its own members lie. inf for a route with
    fewer than MIN_MEMBERS examples."""
    floor = np.full(len(index), np.inf)
    for route in range(len(index)):
        rows = [i for i, a in enumerate(anchors) if a.route == route and a.kind == "example"]
        if len(rows) < MIN_MEMBERS:
            continue
        sims = vectors[rows] @ vectors.T
        sims[np.arange(len(rows)), rows] = -np.inf  # an example does not vote for itself
        raw = group_top_mean(sims, index[route : route + 1], top_k)[:, 0]
        floor[route] = float(np.quantile((raw - mean[route]) / std[route], quantile))
    return floor


def _lend(
    routes: Sequence[Route], embed: Embed, topic_vectors: np.ndarray, library: Library, affinity: float
) -> tuple[dict[int, list[str]], list[int]]:
    """Route index -> library examples it borrows, and the topics lent: each topic goes to the route
    without examples whose "name: description" is closest to the topic's, when at least `affinity` close."""
    if not len(topic_vectors):
        return {}, []
    texts = [f"{route_name_text(r.name)}: {r.description.strip()}" for r in routes]
    by_text = embed(texts)
    similarity = np.stack([by_text[t] for t in texts]) @ topic_vectors.T  # (n_routes, n_topics)
    owner = similarity.argmax(axis=0)
    lent: dict[int, list[str]] = {}
    topics: list[int] = []
    for topic, route in enumerate(owner):
        if similarity[route, topic] >= affinity and not routes[route].examples:
            lent.setdefault(int(route), []).extend(library.topic_examples[topic])
            topics.append(topic)
    return lent, topics


def index_matrix(owner: list[int], n_routes: int) -> np.ndarray:
    """Row r lists the columns owned by route r, padded with the index one past the last column."""
    rows: list[list[int]] = [[] for _ in range(n_routes)]
    for column, route in enumerate(owner):
        rows[route].append(column)
    width = max(1, max(len(row) for row in rows))
    return np.array([row + [len(owner)] * (width - len(row)) for row in rows], dtype=np.int64)


def group_top_mean(sims: np.ndarray, index: np.ndarray, k: int) -> np.ndarray:
    """(n_queries, n_routes) mean of each route's k best columns (fewer when it has fewer)."""
    padded = np.concatenate([sims, np.full((sims.shape[0], 1), -np.inf, dtype=sims.dtype)], axis=1)
    grouped = np.sort(padded[:, index], axis=2)[:, :, ::-1][:, :, :k]
    valid = np.isfinite(grouped)
    return np.where(valid, grouped, 0.0).sum(axis=2) / np.maximum(valid.sum(axis=2), 1)
