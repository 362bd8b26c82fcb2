"""The server logic behind the HTTP router: validation, quota, project isolation, filters, delete."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from overcast import errors
from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.compute import instances, states
from overcast.compute.api import ComputeService
from overcast.compute.api.server_queries import sort_order
from overcast.compute.api.servers import ServerCreate, ServerFilters, ServerUpdate
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.compute import Instance
from tests.support.compute_service import compute_service

IMAGE_ID = "a5e1f3c2-8d4b-4c6e-9f70-3b2d1e0c9a81"
ALICE = RequestContext(user_id="alice", project_id="p1", roles=("member", "reader"))
BOB = RequestContext(user_id="bob", project_id="p2", roles=("member", "reader"))
ADMIN = RequestContext(user_id="root", project_id="p0", roles=("admin",), is_admin=True)


@pytest.fixture
def service(db: Database, tmp_path: Path) -> Iterator[ComputeService]:
    # No conductor listens on this bus: builds stay in SCHEDULING, which is what these tests look at.
    settings = load_settings(data_dir=tmp_path)
    transport = get_transport(f"inproc://compute-api-{uuid.uuid4().hex}")
    yield compute_service(Cloud(settings=settings, db=db, transport=transport))
    transport.close()


def request(name: str = "vm", **overrides: object) -> ServerCreate:
    values: dict[str, object] = {"name": name, "image_ref": IMAGE_ID, "flavor_ref": "1"}
    values.update(overrides)
    return ServerCreate(**values)  # type: ignore[arg-type]


def test_create_writes_a_scheduling_instance_and_consumes_quota(
    service: ComputeService, db: Database
) -> None:
    created = service.servers.create(ALICE, request(metadata={"a": "b"}))
    instance = created.servers[0]
    assert (instance.vm_state, instance.task_state) == (states.BUILDING, states.SCHEDULING)
    assert (instance.vcpus, instance.memory_mb, instance.root_gb) == (1, 512, 1)
    assert len(created.admin_password) == 12
    with db.reader() as session:
        usage = service.quotas.get_usage(session, "p1")
    assert (usage["instances"], usage["cores"], usage["ram"]) == (1, 1, 512)


def test_create_many_names_them_and_counts_them_all(service: ComputeService) -> None:
    created = service.servers.create(ALICE, request("web", min_count=2, max_count=3))
    assert [s.display_name for s in created.servers] == ["web-1", "web-2", "web-3"]
    assert {s.reservation_id for s in created.servers} == {created.reservation_id}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"flavor_ref": "404"}, "Invalid flavorRef provided."),
        ({"image_ref": str(uuid.uuid4())}, "Can not find requested image"),
        ({"key_name": "missing"}, "Invalid key_name provided."),
        ({"availability_zone": "elsewhere"}, "availability zone is not available"),
        ({"availability_zone": "nova:compute-1"}, "Forcing a host"),
        ({"tags": ("a/b",)}, "tags"),
        ({"networks": ({"uuid": str(uuid.uuid4())},)}, "Network .* could not be found"),
        ({"block_device_mappings": ({"source_type": "volume", "uuid": "v1", "boot_index": 0},)}, "volume"),
        (
            {
                "block_device_mappings": (
                    {"source_type": "image", "destination_type": "volume", "uuid": IMAGE_ID, "boot_index": 0},
                )
            },
            "destination_type 'volume'",
        ),
        (
            {
                "block_device_mappings": (
                    {"source_type": "image", "uuid": str(uuid.uuid4()), "boot_index": 0},
                )
            },
            "is not imageRef",
        ),
        (
            {
                "block_device_mappings": (
                    {"source_type": "blank", "destination_type": "local", "boot_index": -1, "volume_size": 1},
                )
            },
            "blank local disks",
        ),
        ({"user_data": "not base64!"}, "base 64"),
        ({"min_count": 3, "max_count": 2}, "min_count"),
    ],
)
def test_invalid_requests_are_bad_requests_and_write_nothing(
    service: ComputeService, db: Database, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(errors.BadRequest, match=message):
        service.servers.create(ALICE, request(**overrides))
    with db.reader() as session:
        assert session.scalars(select(Instance)).all() == []


def test_an_image_mapping_is_the_same_as_image_ref(service: ComputeService) -> None:
    root = {"source_type": "image", "destination_type": "local", "boot_index": "0", "uuid": IMAGE_ID,
            "delete_on_termination": True}  # fmt: skip
    only_mapping = service.servers.create(ALICE, request(image_ref="", block_device_mappings=(root,)))
    both = service.servers.create(ALICE, request(block_device_mappings=(root,)))
    assert only_mapping.servers[0].image_ref == both.servers[0].image_ref == IMAGE_ID


def test_zones_are_those_of_enabled_compute_services(service: ComputeService, db: Database) -> None:
    from overcast.compute.api.aggregates import AggregateAPI
    from overcast.db.models.service import ServiceRecord

    with db.writer() as session:
        for host in ("h1", "h2"):
            session.add(ServiceRecord(host=host, binary="overcast-compute", topic="compute"))
    aggregates = AggregateAPI(db)
    rack = aggregates.create("rack", "az1")
    aggregates.add_host(str(rack.id), "h1")
    assert (
        service.servers.create(ALICE, request(availability_zone="az1")).servers[0].availability_zone == "az1"
    )
    assert service.servers.create(ALICE, request(availability_zone="nova")).servers
    with pytest.raises(errors.BadRequest, match="not available"):
        service.servers.create(ALICE, request(availability_zone="az2"))


def test_image_ref_may_be_a_url(service: ComputeService) -> None:
    created = service.servers.create(ALICE, request(image_ref=f"http://cloud/compute/images/{IMAGE_ID}"))
    assert created.servers[0].image_ref == IMAGE_ID


def test_quota_exceeded_is_refused_before_anything_is_written(service: ComputeService, db: Database) -> None:
    with db.writer() as session:
        service.quotas.set_limits(session, "p1", {"instances": 2})
    service.servers.create(ALICE, request())
    with pytest.raises(errors.QuotaExceeded, match="instances"):
        service.servers.create(ALICE, request(max_count=2))
    assert len(service.servers.list(ALICE, ServerFilters())) == 1


def test_another_projects_server_is_not_found(service: ComputeService) -> None:
    uuid_ = service.servers.create(ALICE, request()).servers[0].uuid
    with pytest.raises(errors.NotFound):
        service.servers.get(BOB, uuid_)
    with pytest.raises(errors.NotFound):
        service.servers.delete(BOB, uuid_)
    with pytest.raises(errors.NotFound):
        service.servers.update(BOB, uuid_, ServerUpdate(name="mine now"))
    assert service.servers.list(BOB, ServerFilters()) == []
    assert service.servers.get(ADMIN, uuid_).instance.uuid == uuid_


def test_admin_lists_every_project_only_when_asking(service: ComputeService) -> None:
    service.servers.create(ALICE, request("a"))
    service.servers.create(BOB, request("b"))
    assert service.servers.list(ADMIN, ServerFilters()) == []
    everyone = service.servers.list(ADMIN, ServerFilters(all_tenants=True))
    assert sorted(s.instance.display_name for s in everyone) == ["a", "b"]
    only_bob = service.servers.list(ADMIN, ServerFilters(all_tenants=True, project_id="p2"))
    assert [s.instance.display_name for s in only_bob] == ["b"]


def test_status_and_name_filters(service: ComputeService, db: Database) -> None:
    first = service.servers.create(ALICE, request("alpha")).servers[0]
    service.servers.create(ALICE, request("beta"))
    db.write(lambda s: instances.compare_and_swap(s, first.uuid, (states.SCHEDULING,), vm_state=states.ACTIVE,
                                                  task_state=None))  # fmt: skip

    def names(**filters: object) -> list[str]:
        found = service.servers.list(ALICE, ServerFilters(**filters))  # type: ignore[arg-type]
        return sorted(s.instance.display_name for s in found)

    assert names(statuses=("active",)) == ["alpha"]
    assert names(statuses=("BUILD",)) == ["beta"]
    assert names(statuses=("BUILD", "ACTIVE")) == ["alpha", "beta"]
    assert names(statuses=("NO_SUCH_STATUS",)) == []
    with pytest.raises(errors.BadRequest, match="Invalid status value"):
        names(statuses=("NO_SUCH_STATUS",), strict_status=True)
    # name is a regular expression searched in the name, as Nova's REGEXP filter.
    assert names(regex={"name": "bet"}) == ["beta"]
    assert names(regex={"name": "^(al|be)"}) == ["alpha", "beta"]
    assert names(regex={"name": "a$"}) == ["alpha", "beta"]
    assert names(regex={"name": "^a.*a$"}) == ["alpha"]
    with pytest.raises(errors.BadRequest, match="regular expression"):
        names(regex={"name": "(unclosed"})


def test_sort_order_follows_novas_rules() -> None:
    assert sort_order([], [], is_admin=False) == (("created_at", "desc"),)
    assert sort_order(["display_name", "vm_state"], ["asc"], is_admin=False) == (
        ("display_name", "asc"), ("vm_state", "asc"), ("created_at", "asc"),
    )  # fmt: skip
    # Ignored keys are dropped; host is an admin's sort key only.
    assert sort_order(["vcpus", "host"], [], is_admin=False) == (("created_at", "desc"),)
    assert sort_order(["host"], ["asc"], is_admin=True) == (("host", "asc"), ("created_at", "asc"))
    with pytest.raises(errors.BadRequest, match="sort_key"):
        sort_order(["bogus"], [], is_admin=True)
    with pytest.raises(errors.BadRequest, match="sort_dir"):
        sort_order(["uuid"], ["up"], is_admin=True)
    with pytest.raises(errors.BadRequest, match="exceeds"):
        sort_order(["uuid"], ["asc", "desc"], is_admin=True)


def test_pagination_walks_every_server_once(service: ComputeService) -> None:
    made = {service.servers.create(ALICE, request(f"s{i}")).servers[0].uuid for i in range(5)}
    seen: list[str] = []
    marker = None
    while True:
        page = service.servers.list(ALICE, ServerFilters(limit=2, marker=marker))
        if not page:
            break
        seen.extend(s.instance.uuid for s in page)
        marker = page[-1].instance.uuid
    assert sorted(seen) == sorted(made)


def test_deleting_an_unplaced_server_finishes_here_and_gives_quota_back(
    service: ComputeService, db: Database
) -> None:
    uuid_ = service.servers.create(ALICE, request()).servers[0].uuid
    service.servers.delete(ALICE, uuid_)
    with pytest.raises(errors.NotFound):
        service.servers.get(ALICE, uuid_)
    with db.reader() as session:
        row = session.scalars(select(Instance).where(Instance.uuid == uuid_)).one()
        usage = service.quotas.get_usage(session, "p1")
    assert (row.deleted, row.vm_state, row.task_state) == (True, states.DELETED, None)
    assert row.terminated_at is not None
    assert (usage["instances"], usage["cores"], usage["ram"]) == (0, 0, 0)


def test_update_renames_and_clears_access_ips(service: ComputeService) -> None:
    uuid_ = service.servers.create(ALICE, request(access_ip_v4="10.0.0.1")).servers[0].uuid
    renamed = service.servers.update(
        ALICE,
        uuid_,
        ServerUpdate(name="new", access_ip_v4=None, provided=frozenset({"name", "access_ip_v4"})),
    )
    assert (renamed.instance.display_name, renamed.instance.access_ip_v4) == ("new", None)


def test_compare_and_swap_refuses_a_stale_expectation(service: ComputeService, db: Database) -> None:
    uuid_ = service.servers.create(ALICE, request()).servers[0].uuid
    assert not db.write(lambda s: instances.compare_and_swap(s, uuid_, (states.SPAWNING,), task_state=None))
    assert db.write(lambda s: instances.compare_and_swap(s, uuid_, (states.SCHEDULING,),
                                                         task_state=states.SPAWNING))  # fmt: skip
    assert not db.write(lambda s: instances.compare_and_swap(s, uuid_, (states.SCHEDULING,),
                                                             task_state=states.SPAWNING))  # fmt: skip


def test_ip_filters_match_the_addresses_the_host_reported(service: ComputeService, db: Database) -> None:
    from overcast.compute import instance_extra, network_info

    reached = service.servers.create(ALICE, request("reached")).servers[0]
    service.servers.create(ALICE, request("unreached"))
    info = {"guest_ip": "10.0.2.15", "mode": "user", "mac_address": "fa:16:3e:00:00:01"}
    stored = {network_info.SYSTEM_METADATA_KEY: info}
    db.write(lambda s: instance_extra.update_system_metadata(s, reached.uuid, **stored))

    def names(**filters: object) -> list[str]:
        found = service.servers.list(ALICE, ServerFilters(**filters))  # type: ignore[arg-type]
        return [s.instance.display_name for s in found]

    assert names(ip="10.0.2") == ["reached"]
    assert names(ip="0.2.15") == []  # matched from the start, as Nova's re.match
    assert names(ip6="10.0.2") == []  # an IPv4 address is no match for ip6
    assert service.servers.get(ALICE, reached.uuid).network_info == info
