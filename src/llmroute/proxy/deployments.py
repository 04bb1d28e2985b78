"""Spreading one model's requests over its deployments (entries sharing a `name`, SPEC §12).

`Balancer.order(model)` gives the model's deployment targets in the order to try them:

- `weighted` (the default): a random order where each deployment comes first with probability
  weight / total weight (weighted sampling without replacement, Efraimidis–Spirakis keys), so
  traffic splits by weight and the next deployments are the failover order;
- `least_in_flight`: fewest requests in flight per unit of weight first (ties in random order).

A model with one deployment skips all of this (one target, no random numbers). The proxy tries
every deployment of a model before the next model. A deployment over its `requests_per_minute`
is skipped like a cooling one; the budget is per gateway process (a fixed one-minute window).
Metrics carry the deployment id, which is the entry's `deployment_id` or its model name, never a key.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache

from prometheus_client import Gauge

from llmroute.config.models import LoadBalancing
from llmroute.config.resolved import LoadedConfig
from llmroute.observability import metrics
from llmroute.proxy.targets import Target, TargetError, build_target


@dataclass(slots=True)
class DeploymentState:
    target: Target
    weight: float
    requests_per_minute: int | None
    in_flight: int = 0
    window_start: float = 0.0
    window_count: int = 0


@dataclass(slots=True)
class Plan:
    """One model's deployments to try, in order, and the ones skipped for their request budget."""

    states: list[DeploymentState]
    over_budget: list[DeploymentState] = field(default_factory=list)


class Balancer:
    def __init__(
        self,
        config: LoadedConfig,
        policy: LoadBalancing | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.policy = policy or config.raw.routing.load_balancing
        self._rng = rng or random.Random()
        self._clock = clock
        # model -> its deployments' state, for models with several deployments (built on first use)
        self._groups: dict[str, list[DeploymentState]] = {}
        # Models this balancer handles: several deployments, or a request budget. Every other
        # model takes the proxy's plain path (one target, nothing to count).
        self.balanced = {
            model
            for model, group in config.deployments.items()
            if len(group) > 1 or any(d.entry.requests_per_minute for d in group)
        }
        self.budgeted = any(
            d.entry.requests_per_minute for group in config.deployments.values() for d in group
        )

    def handles(self, model: str) -> bool:
        return model in self.balanced

    def group(self, model: str) -> list[DeploymentState]:
        states = self._groups.get(model)
        if states is None:
            states = []
            for deployment in self.config.deployments_of(model):
                entry = deployment.entry
                try:
                    target = build_target(entry.model, entry)
                except TargetError:
                    continue  # config validation makes this impossible; never a 500
                # The client sees the model it asked for; the deployment only in metrics and logs.
                target = replace(target, model=model, deployment=deployment.id)
                states.append(DeploymentState(target, entry.weight, entry.requests_per_minute))
            self._groups[model] = states
        return states

    def plan(self, model: str) -> Plan:
        states = self.group(model)
        if len(states) > 1:
            states = self._ordered(states)
        if not self.budgeted:
            return Plan(states)
        plan = Plan([])
        for state in states:
            (plan.states if self._within_budget(state) else plan.over_budget).append(state)
        return plan

    def _ordered(self, states: list[DeploymentState]) -> list[DeploymentState]:
        if self.policy.strategy == "least_in_flight":
            return sorted(states, key=lambda s: (s.in_flight / s.weight, self._rng.random()))
        # Efraimidis–Spirakis: sorting by u^(1/w) descending samples without replacement by weight.
        return sorted(states, key=lambda s: self._rng.random() ** (1.0 / s.weight), reverse=True)

    def _within_budget(self, state: DeploymentState) -> bool:
        limit = state.requests_per_minute
        if limit is None:
            return True
        now = self._clock()
        if now - state.window_start >= 60.0:
            state.window_start, state.window_count = now, 0
        return state.window_count < limit

    def started(self, state: DeploymentState) -> None:
        state.in_flight += 1
        state.window_count += 1
        deployment_metrics(state.target.model, state.target.deployment).in_flight.inc()

    def finished(self, state: DeploymentState, outcome: str | None) -> None:
        """The request left the deployment; `outcome` is counted now unless None (counted by `count`)."""
        state.in_flight -= 1
        deployment_metrics(state.target.model, state.target.deployment).in_flight.dec()
        if outcome is not None:
            self.count(state, outcome)

    def count(self, state: DeploymentState, outcome: str) -> None:
        metrics.DEPLOYMENT_REQUESTS.labels(
            model=state.target.model, deployment=state.target.deployment, outcome=outcome
        ).inc()

    def snapshot(self) -> list[dict[str, object]]:
        """Each balanced model's deployments and their load (for the console's live view)."""
        rows: list[dict[str, object]] = []
        for model in sorted(self.balanced):
            for state in self.group(model):
                rows.append(
                    {
                        "model": model,
                        "deployment": state.target.deployment,
                        "weight": state.weight,
                        "in_flight": state.in_flight,
                    }
                )
        return rows


@dataclass(frozen=True, slots=True)
class DeploymentMetrics:
    in_flight: Gauge


@lru_cache(maxsize=10_000)
def deployment_metrics(model: str, deployment: str) -> DeploymentMetrics:
    return DeploymentMetrics(metrics.DEPLOYMENT_IN_FLIGHT.labels(model=model, deployment=deployment))
