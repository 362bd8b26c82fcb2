"""What the EC2 actions work with: the service objects of the API process and the EC2 tables."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from overcast.compute.api import ComputeService
from overcast.compute.api.admin import AdminServices
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.ec2.ids import IdTable, Named
from overcast.ec2.params import Params
from overcast.image.api import ImageAPI

Recorder = Callable[["Backends", RequestContext], None]


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
    # For each kind of id, what records the ids of every such object the caller can see (listings show
    # ids without recording them); service.py names them.
    recorders: Mapping[str, Recorder] = field(default_factory=dict)

    def resolve(
        self, context: RequestContext, ec2_ids: Collection[str], kinds: Collection[str]
    ) -> dict[str, Named]:
        """What each id names (ids.IdTable.resolve), recording the caller's objects of these kinds first
        when an id is not in the table yet."""

        def discover() -> None:
            for kind in dict.fromkeys(kinds):
                recorder = self.recorders.get(kind)
                if recorder is not None:
                    recorder(self, context)

        return self.ids.resolve(ec2_ids, kinds, discover=discover)


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


@dataclass(frozen=True, eq=False)
class Inline:
    """Constant children written in place of the key that holds them (no element of their own), rendered
    once for the life of the process: only for module-level constants, such as the many elements every
    instance of a DescribeInstances page shows alike."""

    children: Mapping[str, Any]


class ConstantItems(tuple[Any, ...]):
    """A list of items kept for the life of the process and rendered once, as `Inline` is (a page's
    instances mostly share a handful of security group sets)."""

    __slots__ = ()


def listing_recorder(
    kind: str,
    listing: Callable[[Backends, Ec2Request], Sequence[Mapping[str, Any]]],
    owner: str = "project_id",
) -> Recorder:
    """What records the ids of the caller's objects of `kind` that `listing` shows (records with an `id` and
    their project under `owner`): one made through the OpenStack API is found by its EC2 id before any
    EC2 listing showed it (Backends.resolve)."""

    def record(backends: Backends, context: RequestContext) -> None:
        records = listing(backends, Ec2Request(context, Params({}), "Discover"))
        backends.ids.ids_of(kind, {str(record["id"]): record.get(owner) for record in records})

    return record


# A handler's answer: the elements of the action's response below its root, in order.
Response = dict[str, Any]
Handler = Callable[[Backends, Ec2Request], Response]
