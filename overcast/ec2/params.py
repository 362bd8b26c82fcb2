"""AWS's query parameters: a flat map of dotted names (`InstanceId.1`, `Filter.2.Value.1`,
`TagSpecification.1.Tag.1.Key`) read as scalars, numbered lists and structures."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from overcast.ec2.errors import Ec2Error, invalid_value, missing_parameter

_INDEX = re.compile(r"[1-9][0-9]{0,4}")
TRUE_VALUES = frozenset({"true", "1"})
FALSE_VALUES = frozenset({"false", "0"})


@dataclass(frozen=True)
class Params:
    """The parameters below `prefix` (a structure's members), by their names relative to it."""

    values: Mapping[str, str]
    prefix: str = ""

    def _name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(self._name(name), default)

    def has(self, name: str) -> bool:
        full = self._name(name)
        return full in self.values or any(key.startswith(full + ".") for key in self.values)

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None or value == "":
            raise missing_parameter(self._name(name))
        return value

    def integer(self, name: str, default: int | None = None, *, low: int | None = None,
                high: int | None = None) -> int | None:  # fmt: skip
        raw = self.get(name)
        if raw is None:
            return default
        try:
            number = int(raw)
        except ValueError:
            raise invalid_value(self._name(name), raw, "It must be an integer.") from None
        if (low is not None and number < low) or (high is not None and number > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise invalid_value(self._name(name), raw, f"It must be {bounds}.")
        return number

    def boolean(self, name: str, default: bool = False) -> bool:
        raw = self.get(name)
        if raw is None:
            return default
        if raw.lower() in TRUE_VALUES:
            return True
        if raw.lower() in FALSE_VALUES:
            return False
        raise invalid_value(self._name(name), raw, "It must be true or false.")

    def indexes(self, name: str) -> list[int]:
        """The numbers N of `name.N…` present, in order (AWS lists start at 1; gaps are allowed)."""
        full = self._name(name) + "."
        found: set[int] = set()
        for key in self.values:
            if key.startswith(full):
                index = key[len(full) :].partition(".")[0]
                if not _INDEX.fullmatch(index):
                    raise Ec2Error("InvalidParameter", f"The parameter {key} is not recognized")
                found.add(int(index))
        return sorted(found)

    def strings(self, name: str) -> list[str]:
        """A list of scalars: `name.1`, `name.2`, …"""
        return [self.values[f"{self._name(name)}.{index}"] for index in self.indexes(name)
                if f"{self._name(name)}.{index}" in self.values]  # fmt: skip

    def structs(self, name: str) -> list[Params]:
        """A list of structures: the members of `name.1.*`, `name.2.*`, …"""
        return [Params(self.values, f"{self._name(name)}.{index}.") for index in self.indexes(name)]

    def struct(self, name: str) -> Params:
        """A structure's members (`name.Member`)."""
        return Params(self.values, f"{self._name(name)}.")


@dataclass(frozen=True)
class Filter:
    name: str
    values: tuple[str, ...]


def filters_of(params: Params) -> list[Filter]:
    """`Filter.N.Name` with its `Filter.N.Value.M` values."""
    found = []
    for item in params.structs("Filter"):
        name = item.required("Name")
        values = tuple(item.strings("Value"))
        if not values:
            raise Ec2Error("InvalidParameterCombination", f"The filter '{name}' requires at least one value.")
        found.append(Filter(name, values))
    return found
