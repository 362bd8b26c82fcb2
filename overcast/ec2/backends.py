"""What the EC2 actions work with: the service objects of the API process and the EC2 tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from overcast.compute.api import ComputeService
from overcast.compute.api.admin import AdminServices
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.ec2.ids import IdTable
from overcast.ec2.params import Params
from overcast.image.api import ImageAPI


@dataclass(frozen=True)
class Backends:
    db: Database
    compute: ComputeService
    admin: AdminServices
    images: ImageAPI
    ids: IdTable
    clock: Callable[[], datetime]
    region: str
    # The endpoint DescribeRegions names, and the key NextToken values are signed with.
    endpoint: str
    token_key: bytes


@dataclass(frozen=True)
class Ec2Request:
    context: RequestContext
    params: Params
    action: str

    @property
    def project_id(self) -> str:
        assert self.context.project_id is not None
        return self.context.project_id

    def target(self, project_id: str | None = None) -> dict[str, Any]:
        """The policy target of the caller's (or the named project's) resources."""
        return {"project_id": project_id or self.context.project_id, "user_id": self.context.user_id}


# A handler's answer: the elements of the action's response below its root, in order.
Response = dict[str, Any]
Handler = Callable[[Backends, Ec2Request], Response]
