"""EC2-style ids (`i-…`, `ami-…`) of the objects the metadata service's EC2 paths name.

Every object has a stable id of a prefix and 17 hex digits: the first 17 hex digits of its UUID's SHA-256
(`derived_id`). The EC2 API's id table (`overcast/ec2/ids.py`'s `IdTable`, which `api/assembly.py` gives the
metadata service) keeps these ids beside their UUIDs; migration 0035 seeded it with them, so a guest sees
one id for its lifetime. `DerivedEc2Ids` computes them without the table (the metadata service's default
when built alone, as tests do).
"""

from __future__ import annotations

import hashlib
from typing import Protocol

HEX_DIGITS = 17


class Ec2Ids(Protocol):
    def instance_id(self, instance_uuid: str) -> str: ...

    def image_id(self, image_uuid: str, prefix: str = "ami") -> str:
        """`ami-` for a machine image, `aki-` for a kernel, `ari-` for a ramdisk."""
        ...


def derived_id(prefix: str, uuid: str) -> str:
    return f"{prefix}-{hashlib.sha256(uuid.encode()).hexdigest()[:HEX_DIGITS]}"


class DerivedEc2Ids:
    def instance_id(self, instance_uuid: str) -> str:
        return derived_id("i", instance_uuid)

    def image_id(self, image_uuid: str, prefix: str = "ami") -> str:
        return derived_id(prefix, image_uuid)
