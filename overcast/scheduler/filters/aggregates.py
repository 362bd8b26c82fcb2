"""Host aggregates: flavor extra specs matched against aggregate metadata, and tenant isolation."""

from __future__ import annotations

from overcast.scheduler.filters.base import BaseFilter
from overcast.scheduler.host_state import AggregateInfo, HostStateTable, Indices, Mask
from overcast.scheduler.request_spec import RequestSpec

SCOPE = "aggregate_instance_extra_specs"
TENANT_KEY_PREFIX = "filter_tenant_id"


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def spec_matches(values: set[str], requirement: str) -> bool:
    """Nova's extra-spec operators on the aggregates' values: '<in> x', 's== x', '>= n', '<or> a <or> b'."""
    words = requirement.split()
    if not words:
        return requirement in values
    op, rest = words[0], " ".join(words[1:])
    if op == "<or>":
        return any(choice.strip() in values for choice in requirement.split("<or>") if choice.strip())
    if op == "<in>":
        return any(rest in value for value in values)
    if op in ("s==", "="):
        return rest in values if op == "s==" else any(_number(v) == _number(rest) for v in values)
    if op in (">=", "<="):
        wanted = _number(rest)
        numbers = [n for n in (_number(v) for v in values) if n is not None]
        if wanted is None:
            return False
        return any(n >= wanted if op == ">=" else n <= wanted for n in numbers)
    return requirement in values


class AggregateInstanceExtraSpecsFilter(BaseFilter):
    @staticmethod
    def _requirements(spec: RequestSpec) -> dict[str, str]:
        wanted = {}
        for key, value in spec.flavor_extra_specs.items():
            scope, sep, name = key.partition(":")
            if not sep:
                wanted[key] = value
            elif scope == SCOPE:
                wanted[name] = value
        return wanted

    def applies(self, spec: RequestSpec) -> bool:
        return bool(self._requirements(spec))

    def passes(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Mask:
        requirements = self._requirements(spec)

        def fits(aggregates: tuple[AggregateInfo, ...]) -> bool:
            for key, requirement in requirements.items():
                values = {part.strip() for agg in aggregates for k, v in agg.metadata if k == key
                          for part in v.split(",")}  # fmt: skip
                if not values or not spec_matches(values, requirement):
                    return False
            return True

        return table.per_code("aggregates", table.aggregate_sets, idx, fits)

    def detail(self, table: HostStateTable, rejected: Indices, spec: RequestSpec) -> str:
        return "aggregate metadata does not match " + ", ".join(
            f"{key}={value}" for key, value in sorted(self._requirements(spec).items())
        )


class AggregateMultiTenancyIsolation(BaseFilter):
    """Hosts of an aggregate with filter_tenant_id* metadata take only those projects' instances."""

    def passes(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Mask:
        def allowed(aggregates: tuple[AggregateInfo, ...]) -> bool:
            tenants = {part.strip() for agg in aggregates for key, value in agg.metadata
                       if key.startswith(TENANT_KEY_PREFIX) for part in value.split(",")}  # fmt: skip
            return not tenants or spec.project_id in tenants

        return table.per_code("aggregates", table.aggregate_sets, idx, allowed)

    def detail(self, table: HostStateTable, rejected: Indices, spec: RequestSpec) -> str:
        return f"reserved for other projects than {spec.project_id}"
