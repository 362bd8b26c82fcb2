"""Operator rules and the `query` hint as JSON expressions: ["and", [">=", "$free_ram_mb", 1024], ...].

Variables are "$" plus a host attribute (free_ram_mb, free_vcpus, free_disk_gb, running_vms, io_ops,
host, availability_zone, capabilities.cpu_arch, capabilities.hypervisor_type, ...). Operators are Nova's:
=, <, >, <=, >=, in, not, or, and.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from overcast import errors
from overcast.scheduler.filters.base import BaseFilter
from overcast.scheduler.host_state import HostState, HostStateTable, Indices, Mask
from overcast.scheduler.request_spec import RequestSpec


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[list[Any]], bool]:
    def check(args: list[Any]) -> bool:
        return len(args) >= 2 and all(op(args[0], other) for other in args[1:])

    return check


_OPS: dict[str, Callable[[list[Any]], Any]] = {
    "=": _compare(operator.eq), "<": _compare(operator.lt), ">": _compare(operator.gt),
    "<=": _compare(operator.le), ">=": _compare(operator.ge),
    "in": lambda args: len(args) >= 2 and args[0] in args[1:],
    "not": lambda args: not all(args), "or": any, "and": all,
}  # fmt: skip


@lru_cache(maxsize=256)
def parse(text: str) -> Any:
    try:
        expression = json.loads(text)
    except ValueError:
        raise errors.BadRequest(f"Invalid JSON filter expression: {text!r}") from None
    if not isinstance(expression, list) or not expression or expression[0] not in _OPS:
        raise errors.BadRequest(f"A JSON filter expression must start with one of {sorted(_OPS)}.")
    return expression


def _variable(host: HostState, name: str) -> Any:
    value: Any = host
    for part in name.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def evaluate(expression: Any, host: HostState) -> Any:
    if isinstance(expression, str) and expression.startswith("$"):
        return _variable(host, expression[1:])
    if not isinstance(expression, list) or not expression or expression[0] not in _OPS:
        return expression
    args = [evaluate(arg, host) for arg in expression[1:]]
    try:
        return _OPS[expression[0]](args)
    except TypeError:  # comparing a missing variable (None) with a number
        return False


class JsonFilter(BaseFilter):
    def _rules(self, spec: RequestSpec) -> list[Any]:
        texts = list(self.settings.json_filter_rules)
        query = spec.scheduler_hints.get("query")
        if query:
            texts.append(query if isinstance(query, str) else json.dumps(query))
        return [parse(text) for text in texts]

    def applies(self, spec: RequestSpec) -> bool:
        return bool(self.settings.json_filter_rules or spec.scheduler_hints.get("query"))

    def passes(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Mask:
        rules = self._rules(spec)
        return table.per_host(idx, lambda host: all(bool(evaluate(rule, host)) for rule in rules))

    def detail(self, table: HostStateTable, rejected: Indices, spec: RequestSpec) -> str:
        return "fail " + " and ".join(json.dumps(rule) for rule in self._rules(spec))
