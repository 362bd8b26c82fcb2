"""EC2-style ids (`i-…`, `ami-…`) of the objects the metadata service's EC2 paths name.

The seam for the EC2 API (#18): there, every object gets a stable id of a prefix and 17 hex digits,
mapped to its UUID in one table. Until that table exists `DerivedEc2Ids` computes the same shape from
the UUID (the first 17 hex digits of its SHA-256), so a guest sees one id for its lifetime; #18 can seed
its table with these values, then hand the metadata service its own `Ec2Ids` in `api/assembly.py`.
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
