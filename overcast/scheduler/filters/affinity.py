"""Server group affinity and anti-affinity (hard), and the same_host / different_host hints."""

from __future__ import annotations

import numpy as np

from overcast.scheduler.filters.base import BaseFilter
from overcast.scheduler.host_state import HostStateTable, Indices, Mask
from overcast.scheduler.request_spec import RequestSpec


def _on(table: HostStateTable, idx: Indices, hosts: tuple[str, ...]) -> Mask:
    return np.isin(idx, table.indices_for_hosts(hosts))


class ServerGroupAntiAffinityFilter(BaseFilter):
    def applies(self, spec: RequestSpec) -> bool:
        return spec.group_policy == "anti-affinity" and bool(spec.group_hosts)

    def passes(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Mask:
        return ~_on(table, idx, spec.group_hosts)

    def detail(self, table: HostStateTable, rejected: Indices, spec: RequestSpec) -> str:
        return "already hold a member of the anti-affinity group"


class ServerGroupAffinityFilter(BaseFilter):
    def applies(self, spec: RequestSpec) -> bool:
        return spec.group_policy == "affinity" and bool(spec.group_hosts)

    def passes(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Mask:
        return _on(table, idx, spec.group_hosts)

    def detail(self, table: HostStateTable, rejected: Indices, spec: RequestSpec) -> str:
        return f"the affinity group lives on {', '.join(spec.group_hosts)}"


class SameHostFilter(BaseFilter):
    def applies(self, spec: RequestSpec) -> bool:
        return "same_host" in spec.scheduler_hints

    def passes(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Mask:
        return _on(table, idx, spec.same_hosts)

    def detail(self, table: HostStateTable, rejected: Indices, spec: RequestSpec) -> str:
        return "not the host of the same_host instances"


class DifferentHostFilter(BaseFilter):
    def applies(self, spec: RequestSpec) -> bool:
        return bool(spec.different_hosts)

    def passes(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Mask:
        return ~_on(table, idx, spec.different_hosts)

    def detail(self, table: HostStateTable, rejected: Indices, spec: RequestSpec) -> str:
        return "host of a different_host instance"
