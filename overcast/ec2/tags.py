"""CreateTags, DeleteTags, DescribeTags, and the tags other actions show (tagSet) and take at creation
(TagSpecification.N). Tags are EC2's own (key → value, on any resource an EC2 id names), kept in
`ec2_tags` by the resource's id."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from overcast.db.models.ec2 import Ec2Tag
from overcast.db.value_sets import in_values
from overcast.ec2 import ids
from overcast.ec2.actions import Action
from overcast.ec2.backends import Backends, Ec2Request, Response
from overcast.ec2.errors import Ec2Error, invalid_value
from overcast.ec2.filtering import FilterTable
from overcast.ec2.ids import Named
from overcast.ec2.pagination import page
from overcast.ec2.params import Params, filters_of

MAX_KEY, MAX_VALUE, MAX_TAGS = 128, 256, 50
# AWS's resource types (TagSpecification.N.ResourceType, DescribeTags' resource-type) by id prefix.
RESOURCE_TYPES = {
    ids.INSTANCE: "instance", ids.MACHINE_IMAGE: "image", ids.KERNEL_IMAGE: "image",
    ids.RAMDISK_IMAGE: "image", ids.VOLUME: "volume", ids.SNAPSHOT: "snapshot",
    ids.SECURITY_GROUP: "security-group", ids.SUBNET: "subnet", ids.VPC: "vpc",
    ids.NETWORK_INTERFACE: "network-interface", ids.ADDRESS: "elastic-ip", ids.KEY_PAIR: "key-pair",
}  # fmt: skip


OwnerCheck = Callable[[Backends, RequestContext, str], None]


def _own_instance(backends: Backends, context: RequestContext, uuid: str) -> None:
    backends.compute.servers.find(context, uuid)


def _own_image(backends: Backends, context: RequestContext, uuid: str) -> None:
    image = backends.images.get(context, uuid)
    if image.image.owner != context.project_id and not context.is_admin:
        raise Ec2Error("UnauthorizedOperation", "You may tag only your own images.")


def _own_volume(backends: Backends, context: RequestContext, uuid: str) -> None:
    backends.compute.volumes.get(context, uuid)


def _own_snapshot(backends: Backends, context: RequestContext, uuid: str) -> None:
    backends.compute.volumes.snapshots.get(context, uuid)


def _own_key_pair(backends: Backends, context: RequestContext, key_pair_id: str) -> None:
    if not any(str(keypair.id) == key_pair_id for keypair in backends.compute.keypairs.list(context)):
        raise errors.NotFound("The key pair does not exist.")


def _own_network_object(get: Callable[[Backends], Callable[[RequestContext, str], object]]) -> OwnerCheck:
    """The network service's own NotFound for an object the caller does not see."""

    def check(backends: Backends, context: RequestContext, uuid: str) -> None:
        get(backends)(context, uuid)

    return check


# How the service that keeps each kind of object shows that the caller may tag it (its own NotFound for
# another project's object); a kind absent here cannot be tagged yet.
OWNER_CHECKS: dict[str, OwnerCheck] = {
    ids.INSTANCE: _own_instance, ids.MACHINE_IMAGE: _own_image, ids.KERNEL_IMAGE: _own_image,
    ids.RAMDISK_IMAGE: _own_image, ids.VOLUME: _own_volume, ids.SNAPSHOT: _own_snapshot,
    ids.KEY_PAIR: _own_key_pair,
    ids.VPC: _own_network_object(lambda b: b.compute.network.networks.get),
    ids.SUBNET: _own_network_object(lambda b: b.compute.network.subnets.get),
    ids.SECURITY_GROUP: _own_network_object(lambda b: b.compute.network.security_groups.get),
    ids.NETWORK_INTERFACE: _own_network_object(lambda b: b.compute.network.ports.get),
    ids.ADDRESS: _own_network_object(lambda b: b.compute.network.floating_ips.get),
}  # fmt: skip


def tags_of(session: Session, resource_ids: Collection[str]) -> dict[str, dict[str, str]]:
    """Each resource's tags, in one query."""
    found: dict[str, dict[str, str]] = {resource_id: {} for resource_id in resource_ids}
    if not resource_ids:
        return found
    # A page of a thousand ids is one costly query, which a cloud without tags does without.
    if session.scalar(select(Ec2Tag.resource_id).limit(1)) is None:
        return found
    query = select(Ec2Tag.resource_id, Ec2Tag.key, Ec2Tag.value).where(
        in_values(session, Ec2Tag.resource_id, list(resource_ids))
    )
    for resource_id, key, value in session.execute(query):
        found[resource_id][key] = value
    return found


def tag_set(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in sorted(tags.items())]


def _read_tags(items: list[Params], *, value_required: bool) -> dict[str, str | None]:
    tags: dict[str, str | None] = {}
    for item in items:
        key = item.required("Key")
        if len(key) > MAX_KEY or key.lower().startswith("aws:"):
            raise invalid_value("Tag.Key", key, f"Tag keys are at most {MAX_KEY} characters and may not "
                                                "start with 'aws:'.")  # fmt: skip
        value = item.get("Value")
        if value is None and value_required:
            value = ""
        if value is not None and len(value) > MAX_VALUE:
            raise invalid_value("Tag.Value", value, f"Tag values are at most {MAX_VALUE} characters.")
        tags[key] = value
    if len(tags) > MAX_TAGS:
        raise Ec2Error("TagLimitExceeded", f"The maximum number of tags per resource is {MAX_TAGS}.")
    return tags


def tag_specifications(params: Params, resource_type: str) -> dict[str, str]:
    """The tags of `TagSpecification.N` for `resource_type` (other types are the action's to refuse)."""
    tags: dict[str, str] = {}
    for spec in params.structs("TagSpecification"):
        kind = spec.required("ResourceType")
        if kind not in RESOURCE_TYPES.values():
            raise invalid_value("TagSpecification.ResourceType", kind, "It is not a taggable resource type.")
        if kind == resource_type:
            tags.update(
                {
                    key: value or ""
                    for key, value in _read_tags(spec.structs("Tag"), value_required=True).items()
                }
            )
    return tags


def set_tags(
    backends: Backends, project_id: str, resource_ids: Collection[str], tags: Mapping[str, str]
) -> None:
    if not tags or not resource_ids:
        return

    def write(session: Session) -> None:
        session.execute(delete(Ec2Tag).where(Ec2Tag.resource_id.in_(list(resource_ids)),
                                             Ec2Tag.key.in_(list(tags))))  # fmt: skip
        session.add_all(
            Ec2Tag(resource_id=resource_id, key=key, value=value, project_id=project_id)
            for resource_id in resource_ids for key, value in tags.items()
        )  # fmt: skip
        session.flush()
        for resource_id in resource_ids:
            held = session.scalars(select(Ec2Tag.key).where(Ec2Tag.resource_id == resource_id)).all()
            if len(held) > MAX_TAGS:
                raise Ec2Error("TagLimitExceeded", f"The maximum number of tags per resource is {MAX_TAGS}.")

    backends.db.write(write)


def _owned_resources(backends: Backends, request: Ec2Request) -> list[Named]:
    resource_ids = request.params.strings("ResourceId")
    if not resource_ids:
        raise Ec2Error("MissingParameter", "The request must contain the parameter ResourceId")
    named = backends.resolve(request.context, resource_ids, RESOURCE_TYPES)
    for resource in named.values():
        check = OWNER_CHECKS.get(resource.kind)
        if check is None:
            raise Ec2Error("InvalidID", f"The ID '{resource.ec2_id}' is not valid")
        check(backends, request.context, resource.uuid)
    return list(named.values())


def create_tags(backends: Backends, request: Ec2Request) -> Response:
    tags = _read_tags(request.params.structs("Tag"), value_required=True)
    if not tags:
        raise Ec2Error("MissingParameter", "The request must contain the parameter Tag")
    resources = _owned_resources(backends, request)
    values = {key: value or "" for key, value in tags.items()}
    set_tags(backends, request.project_id, [resource.ec2_id for resource in resources], values)
    return {"return": True}


def delete_tags(backends: Backends, request: Ec2Request) -> Response:
    tags = _read_tags(request.params.structs("Tag"), value_required=False)
    resources = [r.ec2_id for r in _owned_resources(backends, request)]

    def write(session: Session) -> None:
        if not tags:
            session.execute(delete(Ec2Tag).where(Ec2Tag.resource_id.in_(resources)))
            return
        for key, value in tags.items():
            # A value given deletes the tag only if it holds that value; an empty one too.
            stmt = delete(Ec2Tag).where(Ec2Tag.resource_id.in_(resources), Ec2Tag.key == key)
            if value is not None:
                stmt = stmt.where(Ec2Tag.value == value)
            session.execute(stmt)

    backends.db.write(write)
    return {"return": True}


@dataclass(frozen=True)
class TagRow:
    resource_id: str
    resource_type: str
    key: str
    value: str


TAG_FILTERS: FilterTable[TagRow] = FilterTable({
    "key": lambda row: row.key,
    "value": lambda row: row.value,
    "resource-id": lambda row: row.resource_id,
    "resource-type": lambda row: row.resource_type,
})  # fmt: skip


def describe_tags(backends: Backends, request: Ec2Request) -> Response:
    filters = filters_of(request.params)
    TAG_FILTERS.check(filters)
    with backends.db.reader() as session:
        query = (
            select(Ec2Tag.resource_id, Ec2Tag.key, Ec2Tag.value)
            .where(Ec2Tag.project_id == request.project_id)
            .order_by(Ec2Tag.resource_id, Ec2Tag.key)
        )
        rows = [
            TagRow(resource_id, RESOURCE_TYPES.get(resource_id.partition("-")[0], ""), key, value)
            for resource_id, key, value in session.execute(query)
        ]
    selected = TAG_FILTERS.apply(rows, filters)
    shown, next_token = page(selected, request.params, key=backends.token_key,
                             scope=f"DescribeTags:{request.project_id}")  # fmt: skip
    return {
        "tagSet": [{"resourceId": row.resource_id, "resourceType": row.resource_type, "key": row.key,
                    "value": row.value} for row in shown],
        "nextToken": next_token,
    }  # fmt: skip


ACTIONS = (
    Action("CreateTags", create_tags, not_found="InvalidID"),
    Action("DeleteTags", delete_tags, not_found="InvalidID"),
    Action("DescribeTags", describe_tags),
)
