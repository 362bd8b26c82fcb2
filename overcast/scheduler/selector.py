"""One decision: run the preset's filters in order, weigh the survivors, return the best and alternates.

Presets (settings.scheduler.preset):
- "filter": the configured filters in order, then every weigher (the default, Nova's filter scheduler);
- "chance": Cactus' chance scheduler, a random host among those up with room for the instance;
- "simple": Cactus' simple scheduler, the least loaded host (fewest vCPUs claimed, then fewest instances);
- "zone": Cactus' zone scheduler, a random host in the requested zone (or in a randomly drawn zone).
Every preset keeps the resource filters: a host without room would only lose its claim anyway.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from overcast import errors
from overcast.config import SchedulerSettings
from overcast.scheduler.filters import FILTERS, BaseFilter
from overcast.scheduler.host_state import HostStateTable, Indices
from overcast.scheduler.request_spec import RequestSpec
from overcast.scheduler.weighers import WEIGHERS, BaseWeigher, Weights, normalise

NO_VALID_HOST = "No valid host was found."
BASIC_FILTERS = ["ComputeFilter", "RamFilter", "CoreFilter", "DiskFilter"]
PRESETS = {
    "filter": None,  # settings.enabled_filters
    "chance": BASIC_FILTERS,
    "simple": BASIC_FILTERS,
    "zone": ["ComputeFilter", "AvailabilityZoneFilter", "RamFilter", "CoreFilter", "DiskFilter"],
}


@dataclass(frozen=True)
class FilterReport:
    name: str
    before: int
    rejected: int
    detail: str = ""

    def text(self) -> str:
        suffix = f" ({self.detail})" if self.detail else ""
        return f"{self.name}: {self.rejected} of {self.before} hosts rejected{suffix}"


@dataclass
class Selection:
    """Table indices, best first: the choice, then the alternates."""

    indices: list[int]
    reports: list[FilterReport] = field(default_factory=list)
    candidates: int = 0

    def explanation(self) -> str:
        rejecting = [report.text() for report in self.reports if report.rejected]
        return "; ".join(rejecting) if rejecting else "no compute hosts are known"


# Up to this many hosts (the choice and its alternates) are picked by one argmax each: numpy's
# argpartition slows down about 15 times when most weights are equal (a cloud of identical empty hosts).
FEW = 8


def _highest(weights: Weights, count: int) -> list[int]:
    """Positions of the `count` highest weights, highest first, a tie to the lower position: `idx` is
    sorted, so that is the lower table index, and the same state gives the same decision."""
    remaining = np.where(np.isnan(weights), -np.inf, weights)  # NaN ranks last, as in a sort
    order: list[int] = []
    for _ in range(min(count, len(remaining))):
        position = int(np.argmax(remaining))
        if position in order:  # only -inf is left: the rest go in position order
            order += [p for p in range(len(remaining)) if p not in order][: count - len(order)]
            break
        order.append(position)
        remaining[position] = -np.inf
    return order


def _highest_many(weights: Weights, count: int) -> list[int]:
    """`_highest` for many: a partition finds the count-th weight, ties at it go to the lower positions."""
    ranked = np.where(np.isnan(weights), -np.inf, weights)
    if count < len(ranked):
        last = ranked[np.argpartition(-ranked, count - 1)[count - 1]]
        above = np.flatnonzero(ranked > last)
        top = np.concatenate((above, np.flatnonzero(ranked == last)[: count - len(above)]))
    else:
        top = np.arange(len(ranked))
    return [int(i) for i in top[np.lexsort((top, -ranked[top]))]]


def no_valid_host(selection: Selection) -> errors.NoValidHost:
    return errors.NoValidHost(f"{NO_VALID_HOST} {selection.explanation()}")


class HostSelector:
    def __init__(self, settings: SchedulerSettings, rng: random.Random | None = None) -> None:
        if settings.preset not in PRESETS:
            raise errors.BadRequest(
                f"Unknown scheduler preset {settings.preset!r}; known: {sorted(PRESETS)}."
            )
        names = PRESETS[settings.preset] or settings.enabled_filters
        unknown = [name for name in names if name not in FILTERS]
        if unknown:
            raise errors.BadRequest(f"Unknown scheduler filters: {', '.join(unknown)}.")
        self.settings = settings
        self.filter_names = list(names)
        self.rng = rng or random.Random()
        self.weighers: list[BaseWeigher] = (
            [weigher(settings) for weigher in WEIGHERS.values()] if settings.preset == "filter" else []
        )

    def filters(self, now: float, service_down_time: float) -> list[BaseFilter]:
        return [FILTERS[name](self.settings, now, service_down_time) for name in self.filter_names]

    def run_filters(
        self, table: HostStateTable, spec: RequestSpec, now: float, service_down_time: float
    ) -> tuple[Indices, list[FilterReport]]:
        idx = table.all_indices()
        reports = []
        for host_filter in self.filters(now, service_down_time):
            if not len(idx):
                break
            if not host_filter.applies(spec):
                continue
            mask = host_filter.passes(table, idx, spec)
            rejected = idx[~mask]
            detail = host_filter.detail(table, rejected, spec) if len(rejected) else ""
            reports.append(FilterReport(host_filter.name, len(idx), len(rejected), detail))
            idx = idx[mask]
        return idx, reports

    def select(
        self, table: HostStateTable, spec: RequestSpec, now: float, service_down_time: float, count: int
    ) -> Selection:
        """Up to `count` hosts (the choice and count - 1 alternates); empty when nothing passes."""
        idx, reports = self.run_filters(table, spec, now, service_down_time)
        selection = Selection([], reports, len(idx))
        if not len(idx):
            return selection
        preset = self.settings.preset
        if preset == "zone" and not spec.availability_zone:
            zones = table.columns["zone"][idx]
            idx = idx[zones == self.rng.choice(sorted(set(zones.tolist())))]
        if preset in ("chance", "zone"):
            picked = self.rng.sample(range(len(idx)), min(count, len(idx)))
            selection.indices = [int(idx[i]) for i in picked]
            return selection
        weights = self._least_loaded(table, idx) if preset == "simple" else self.weigh(table, idx, spec)
        selection.indices = self._best(idx, weights, count)
        return selection

    def weigh(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Weights:
        total = np.zeros(len(idx), dtype=np.float64)
        if len(idx) < 2:
            return total
        for weigher in self.weighers:
            if weigher.applies(spec):
                total += weigher.multiplier * normalise(weigher.raw(table, idx, spec))
        return total

    @staticmethod
    def _least_loaded(table: HostStateTable, idx: Indices) -> Weights:
        vcpus = table.columns["vcpus_used"][idx]
        instances = table.columns["running_vms"][idx]
        return -(vcpus + instances / (instances.max() + 1.0))

    def _best(self, idx: Indices, weights: Weights, count: int) -> list[int]:
        subset = max(1, self.settings.host_subset_size)
        wanted = min(len(idx), max(count, subset))
        positions = _highest(weights, wanted) if wanted <= FEW else _highest_many(weights, wanted)
        best = [int(idx[i]) for i in positions]
        if subset > 1:
            chosen = self.rng.randrange(min(subset, len(best)))
            best.insert(0, best.pop(chosen))
        return best[:count]
