"""Properties of rank(): a permutation, ranked prefix ascending, unranked suffix in declared order."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from llmroute.ranking import rank


class Table:
    """A fixed lookup: rank() is pure over the MetricsLookup protocol (cost/latency by model)."""

    def __init__(self, costs: dict[str, float], latencies: dict[str, float]) -> None:
        self.costs = costs
        self.latencies = latencies

    def cost(self, model: str) -> float | None:
        return self.costs.get(model)

    def latency(self, model: str) -> float | None:
        return self.latencies.get(model)


NAMES = st.sampled_from([f"p/m{i}" for i in range(8)])
VALUES = st.dictionaries(NAMES, st.floats(min_value=0, max_value=1000, allow_nan=False))


@given(
    models=st.lists(NAMES, unique=True),
    costs=VALUES,
    latencies=VALUES,
    prefer=st.sampled_from(["cheapest", "fastest"]),
)
def test_rank_orders_known_models_then_keeps_declared_order(
    models: list[str], costs: dict[str, float], latencies: dict[str, float], prefer: str
) -> None:
    table = Table(costs, latencies)
    values = costs if prefer == "cheapest" else latencies

    ranked = rank(models, prefer, table)

    assert sorted(ranked) == sorted(models)
    known = [m for m in ranked if m in values]
    assert ranked[: len(known)] == known  # every model with data comes before every model without
    assert [values[m] for m in known] == sorted(values[m] for m in known)
    # Ties and models without data keep their declared order.
    for a, b in pairwise(known):
        if values[a] == values[b]:
            assert models.index(a) < models.index(b)
    assert ranked[len(known) :] == [m for m in models if m not in values]


@given(models=st.lists(NAMES, unique=True), costs=VALUES)
def test_prefer_none_and_no_store_keep_declared_order(models: list[str], costs: dict[str, float]) -> None:
    assert rank(models, "none", Table(costs, costs)) == models
    assert rank(models, "cheapest", None) == models
