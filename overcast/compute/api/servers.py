"""Servers: the logic behind /compute/v2.1/servers (validate, write the instance, hand work to services).

`ComputeService` (api.py) bundles it with the flavors, key pairs, actions, metadata and tags the HTTP
router calls.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors, servicegroup
from overcast.admission import Admission, admit_everything
from overcast.cloud import Cloud
from overcast.compute import instance_actions, instance_extra, instances, states
from overcast.compute.api import server_groups, tags
from overcast.compute.api.block_devices import add_mappings, boot_plan, check_volumes, with_image_mappings
from overcast.compute.api.keypairs import KeyPairAPI
from overcast.compute.api.lookup import id_from_ref, visible_flavor, visible_image, visible_instance
from overcast.compute.api.requested_networks import (
    allocate_auto_network,
    resolve_networks,
    resolve_security_groups,
)
from overcast.compute.api.server_queries import (
    IMAGE_PROPERTIES_KEY,
    MAX_LIMIT,
    TRUSTED_CERTS_KEY,
    Server,
    ServerFilters,
    list_page,
    with_details,
)
from overcast.compute.api.user_quotas import user_usage
from overcast.compute.api.volume_attachments import VolumeAttachmentAPI
from overcast.compute.network_info import CREATED_PORT_IDS, REQUESTED_NETWORKS, SECURITY_GROUP_IDS
from overcast.compute.notifications import InstanceNotifier
from overcast.compute.rpcapi import BINARY as COMPUTE_BINARY
from overcast.compute.rpcapi import ComputeAPI
from overcast.conductor.rpcapi import ConductorAPI
from overcast.config import DEFAULT_AVAILABILITY_ZONE
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.models.compute import ComputeNode, Flavor, Instance
from overcast.db.models.instance_actions import InstanceExtra
from overcast.db.models.network import DefaultSecurityGroup, Port
from overcast.db.models.service import ServiceRecord
from overcast.network.api.errors import PortNotFound
from overcast.network.api.service import NetworkAPI
from overcast.placement.claims import Resources, release
from overcast.quota import QuotaEngine
from overcast.scheduler.request_spec import REQUESTED_DESTINATION_KEY
from overcast.virt.driver import PowerState
from overcast.zones import host_zones

__all__ = ["MAX_LIMIT", "Server", "ServerAPI", "ServerCreate", "ServerFilters", "ServerUpdate"]

LOG = logging.getLogger(__name__)

# Nova's password_length and its alphabet without look-alike characters.
ADMIN_PASSWORD_LENGTH = 12
_PASSWORD_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
MAX_USER_DATA_BYTES = 65535


@dataclass(frozen=True)
class ServerCreate:
    name: str
    image_ref: str
    flavor_ref: str
    metadata: dict[str, str] = field(default_factory=dict)
    key_name: str | None = None
    admin_password: str | None = None
    availability_zone: str | None = None
    security_groups: tuple[str, ...] = ("default",)
    user_data: str | None = None
    access_ip_v4: str | None = None
    access_ip_v6: str | None = None
    config_drive: bool = False
    disk_config: str = "MANUAL"
    min_count: int = 1
    max_count: int = 1
    scheduler_hints: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    tags: tuple[str, ...] = ()
    # block_device_mapping_v2 items; only a boot-from-image root disk can be built (compute.block_devices).
    block_device_mappings: tuple[dict[str, Any], ...] = ()
    # "auto", "none", the requested networks, or None when the request had no `networks` key.
    networks: str | tuple[dict[str, Any], ...] | None = None
    # 2.63's certificate ids (kept and shown; nothing here verifies image signatures) and 2.90's hostname.
    trusted_certs: tuple[str, ...] | None = None
    hostname: str | None = None
    # 2.74's requested destination (admins): the build stays on that host (and node).
    requested_host: str | None = None
    requested_node: str | None = None


@dataclass(frozen=True)
class ServerUpdate:
    name: str | None = None
    access_ip_v4: str | None = None
    access_ip_v6: str | None = None
    disk_config: str | None = None
    description: str | None = None
    hostname: str | None = None
    # Which of the nullable fields the request named (so null can clear them).
    provided: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CreatedServers:
    servers: list[Instance]
    admin_password: str
    reservation_id: str


def shown_image_properties(properties: dict[str, Any]) -> dict[str, str]:
    """2.98's image properties as Nova keeps them in system metadata at boot: every value a string."""
    return {
        str(key): value if isinstance(value, str) else json.dumps(value) for key, value in properties.items()
    }


def generate_password(length: int = ADMIN_PASSWORD_LENGTH) -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


def hostname_for(name: str) -> str:
    """Nova's sanitize_hostname: lowercase, letters/digits/hyphens, at most 63 characters."""
    hostname = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-.")[:63]
    return hostname or "server"


def check_user_data(user_data: str) -> None:
    try:
        decoded = base64.b64decode(user_data, validate=True)
    except (binascii.Error, ValueError):
        raise errors.BadRequest("User data needs to be valid base 64.") from None
    if len(decoded) > MAX_USER_DATA_BYTES:
        raise errors.BadRequest("User data too large.")


class ServerAPI:
    def __init__(
        self,
        cloud: Cloud,
        quotas: QuotaEngine,
        network: NetworkAPI,
        *,
        volume_attachments: VolumeAttachmentAPI | None = None,
        admission: Admission = admit_everything,
    ) -> None:
        self.cloud = cloud
        self.admission = admission
        self.network = network
        self.volume_attachments = volume_attachments
        self.db = cloud.db
        self.quotas = quotas
        self.conductor = ConductorAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        self.compute_rpc = ComputeAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        self.notifier = InstanceNotifier(cloud, "compute-api")

    # --- create -----------------------------------------------------------------------------------
    def create(self, ctxt: RequestContext, request: ServerCreate) -> CreatedServers:
        if ctxt.project_id is None or ctxt.user_id is None:
            raise errors.Forbidden("Creating a server needs a project-scoped token.")
        self._check_request(request)
        self.admission(ctxt, "server")
        plan = boot_plan(request.image_ref, request.block_device_mappings)
        if plan.image_ref and not plan.volume_backed:
            plan = with_image_mappings(plan, self._image_properties(ctxt, plan.image_ref))
        image_ref = plan.image_ref
        if request.trusted_certs is not None and plan.volume_backed:
            # Nova's 2.63 rule: certificates validate an image the host downloads, which a volume is not.
            raise errors.BadRequest("Image certificate validation is not supported when booting from volume")
        count = request.max_count
        if plan.volumes:
            if self.volume_attachments is None:
                raise errors.BadRequest("This compute API has no volume service for block device mappings.")
            volumes = self.volume_attachments.volumes
            check_volumes(plan, count, lambda volume_id: volumes.get(ctxt, volume_id)["status"])
        admin_password = request.admin_password or generate_password()
        reservation_id = f"r-{secrets.token_hex(4)}"
        if request.networks != "none" and "default" in request.security_groups:
            self._ensure_default_group(ctxt.project_id)
        allocate_auto_network(self.network, ctxt, request.networks)

        def write(session: Session) -> list[Instance]:
            flavor = self._flavor_for_boot(session, ctxt, request.flavor_ref)
            # A volume-backed server boots from its volume: no image of its own (Nova's empty image_ref).
            image_id, image_properties = (
                self._image_for_boot(session, ctxt, image_ref, flavor) if image_ref else ("", {})
            )
            for volume in plan.volumes:
                if volume.source_type == "image":
                    visible_image(session, ctxt, str(volume.uuid))
            self.check_zone(session, request.availability_zone)
            destination = self._requested_destination(session, request)
            key_data = None
            if request.key_name is not None:
                try:
                    key_data = KeyPairAPI.find(session, ctxt.user_id or "", request.key_name).public_key
                except errors.NotFound:
                    raise errors.BadRequest("Invalid key_name provided.") from None
            limit = self.quotas.get_limits(session, ctxt.project_id or "")["metadata_items"]
            if 0 <= limit < len(request.metadata):
                raise errors.QuotaExceeded("Quota exceeded for metadata_items: too many metadata items.")
            requested_networks = resolve_networks(session, ctxt, request.networks, count)
            self._check_port_quota(session, ctxt.project_id or "", requested_networks, count)
            named = request.security_groups
            groups = resolve_security_groups(session, ctxt, named) if requested_networks else []
            # The view names the groups as Nova does, whichever way the request named them.
            group_names = [name for _, name in groups] or list(request.security_groups)
            project_id, user_id = ctxt.project_id or "", ctxt.user_id or ""
            deltas = {"instances": count, "cores": flavor.vcpus * count, "ram": flavor.memory_mb * count}
            self.quotas.consume(session, project_id, deltas)
            self.quotas.check_user(
                session, project_id, user_id, deltas, lambda: user_usage(session, project_id, user_id)
            )
            created = []
            for index in range(count):
                name = request.name if count == 1 else f"{request.name}-{index + 1}"
                instance = Instance(
                    display_name=name, hostname=request.hostname or hostname_for(name),
                    project_id=ctxt.project_id, user_id=ctxt.user_id, image_ref=image_id,
                    flavor_id=flavor.flavorid, vcpus=flavor.vcpus,
                    memory_mb=flavor.memory_mb, root_gb=flavor.root_gb, ephemeral_gb=flavor.ephemeral_gb,
                    vm_state=states.BUILDING, task_state=states.SCHEDULING,
                    power_state=int(PowerState.NOSTATE), availability_zone=request.availability_zone,
                    key_name=request.key_name, key_data=key_data, user_data=request.user_data,
                    metadata_items=dict(request.metadata), security_groups=group_names,
                    disk_config=request.disk_config, config_drive=request.config_drive,
                    access_ip_v4=request.access_ip_v4, access_ip_v6=request.access_ip_v6, progress=0,
                    reservation_id=reservation_id, launch_index=index, description=request.description,
                    kernel_id=str(image_properties.get("kernel_id") or ""),
                    ramdisk_id=str(image_properties.get("ramdisk_id") or ""),
                )  # fmt: skip
                session.add(instance)
                created.append(instance)
            session.flush()
            add_mappings(session, plan, [instance.uuid for instance in created])
            system_metadata = {
                REQUESTED_NETWORKS: requested_networks,
                SECURITY_GROUP_IDS: [group_id for group_id, _ in groups],
                IMAGE_PROPERTIES_KEY: shown_image_properties(image_properties),
                TRUSTED_CERTS_KEY: None if request.trusted_certs is None else list(request.trusted_certs),
                REQUESTED_DESTINATION_KEY: destination,
            }
            stored = {key: value for key, value in system_metadata.items() if value is not None}
            for instance in created:
                tags.add_all(session, instance.uuid, request.tags)
                # A new server's extra row is made whole here: no read of a row that cannot exist yet.
                extra = InstanceExtra(instance_uuid=instance.uuid, locked=False, system_metadata=dict(stored))
                session.add(extra)
            server_groups.record_scheduler_hints(
                session, ctxt, [i.uuid for i in created], request.scheduler_hints, self.quotas
            )
            for instance in created:
                instance_actions.record_action(session, ctxt, instance.uuid, instance_actions.CREATE)
            return created

        created = self.db.write(write)
        uuids = [instance.uuid for instance in created]
        try:
            self.conductor.build_instances(ctxt, uuids, admin_password)
        except Exception as exc:
            LOG.exception("Could not hand instances %s to the conductor", uuids)
            for uuid in uuids:
                self.db.write(
                    functools.partial(
                        instances.set_error, uuid=uuid, error=exc, expected_task_state=(states.SCHEDULING,)
                    )
                )
        return CreatedServers(created, admin_password, reservation_id)

    def _check_port_quota(
        self, session: Session, project_id: str, requested: list[dict[str, str]], count: int
    ) -> None:
        """Nova's check before the hosts make the ports: room for every port of every server (the hosts
        consume it, so two creates at once may still find the quota full at build time)."""
        needed = count * sum(1 for item in requested if "port_id" not in item)
        if not needed:
            return
        engine = self.network.quotas.engine
        limit = engine.get_limits(session, project_id).get("port", -1)
        used = engine.get_usage(session, project_id).get("port", 0)
        if 0 <= limit < used + needed:
            raise errors.Forbidden("Maximum number of ports exceeded")

    def _ensure_default_group(self, project_id: str) -> None:
        """Made in its own transaction before the create's, so two first servers of a project race on
        nothing (the network service's own rule); one read when it exists, as it mostly does."""
        with self.db.reader() as session:
            if session.get(DefaultSecurityGroup, project_id) is not None:
                return
        self.network.security_groups.ensure_default(project_id)

    @staticmethod
    def _check_request(request: ServerCreate) -> None:
        if request.min_count < 1 or request.max_count < request.min_count:
            raise errors.BadRequest("min_count must be at least 1 and not more than max_count.")
        if request.hostname is not None and request.max_count > 1:
            # Nova's rule: several servers cannot share one requested hostname.
            raise errors.BadRequest("Cannot specify a hostname when creating multiple servers.")
        if request.tags:
            tags.check_tags(request.tags)
        for key, value in request.metadata.items():
            if not 1 <= len(key) <= 255 or len(value) > 255:
                raise errors.BadRequest("Metadata keys must be 1-255 characters and values at most 255.")
        if request.user_data is not None:
            check_user_data(request.user_data)

    @staticmethod
    def _requested_destination(session: Session, request: ServerCreate) -> dict[str, str | None] | None:
        """2.74's host and hypervisor_hostname, checked against the compute nodes (Nova's 400s)."""
        host, node = request.requested_host, request.requested_node
        if host is None and node is None:
            return None
        nodes = select(ComputeNode.id)
        if host is not None:
            nodes = nodes.where(ComputeNode.host == host)
        if node is not None:
            nodes = nodes.where(ComputeNode.hypervisor_hostname == node)
        if session.scalars(nodes).first() is None:
            if node is None:
                raise errors.BadRequest(f"Compute host {host} could not be found.")
            named = f"Compute host {host} with node {node}" if host else f"Compute node {node}"
            raise errors.BadRequest(f"{named} could not be found.")
        return {"host": host, "node": node}

    @staticmethod
    def _flavor_for_boot(session: Session, ctxt: RequestContext, flavor_ref: str) -> Flavor:
        try:
            flavor = visible_flavor(session, ctxt, id_from_ref(flavor_ref))
        except errors.NotFound:
            raise errors.BadRequest("Invalid flavorRef provided.") from None
        if flavor.disabled:
            raise errors.BadRequest("Flavor is disabled.")
        return flavor

    @staticmethod
    def check_zone(session: Session, zone: str | None) -> None:
        """Nova's check: the zone must hold an enabled compute service (no "zone:host" forcing here)."""
        if zone is None:
            return
        if ":" in zone:
            raise errors.BadRequest(f"Forcing a host through availability_zone '{zone}' is not supported.")
        zones = host_zones(session)
        hosts = session.scalars(
            select(ServiceRecord.host).where(
                ServiceRecord.binary == COMPUTE_BINARY, ServiceRecord.disabled.is_(False)
            )
        )
        if zone not in {zones.get(host, DEFAULT_AVAILABILITY_ZONE) for host in hosts}:
            raise errors.BadRequest("The requested availability zone is not available")

    def _image_properties(self, ctxt: RequestContext, image_ref: str) -> dict[str, Any]:
        """The image's properties; {} if it cannot be seen (the create transaction says why, as Nova)."""
        try:
            with self.db.reader() as session:
                return dict(visible_image(session, ctxt, image_ref).properties or {})
        except errors.OvercastError:
            return {}

    @staticmethod
    def _image_for_boot(
        session: Session, ctxt: RequestContext, image_ref: str, flavor: Flavor
    ) -> tuple[str, dict[str, Any]]:
        image = visible_image(session, ctxt, image_ref)
        if flavor.memory_mb < image.min_ram:
            raise errors.BadRequest("Flavor's memory is too small for requested image.")
        if flavor.root_gb and flavor.root_gb < image.min_disk:
            raise errors.BadRequest("Flavor's disk is too small for requested image.")
        return image.id, dict(image.properties or {})

    # --- read -------------------------------------------------------------------------------------
    def get(self, ctxt: RequestContext, uuid: str) -> Server:
        with self.db.reader() as session:
            instance = visible_instance(session, ctxt, uuid)
            return self._details(session, [instance])[0]

    def _details(self, session: Session, rows: list[Instance], *, with_faults: bool = True) -> list[Server]:
        return with_details(
            session, rows, clock=self.cloud.clock, down_time=self.cloud.settings.service_down_time,
            with_faults=with_faults,
        )  # fmt: skip

    def find(self, ctxt: RequestContext, uuid: str, *, include_deleted: bool = False) -> Instance:
        """The instance row if the caller may see it (deleted ones too when asked: 2.21's actions)."""
        with self.db.reader() as session:
            return visible_instance(session, ctxt, uuid, include_deleted=include_deleted)

    def list(self, ctxt: RequestContext, filters: ServerFilters, *, with_faults: bool = True) -> list[Server]:
        """One page of the servers `filters` selects (project-scoped unless an admin asked for all)."""
        if filters.all_tenants and not ctxt.is_admin:
            filters = ServerFilters(**{**filters.__dict__, "all_tenants": False})
        with self.db.reader() as session:
            rows = list_page(session, ctxt, filters)
            return self._details(session, rows, with_faults=with_faults)

    # --- update -----------------------------------------------------------------------------------
    def update(self, ctxt: RequestContext, uuid: str, changes: ServerUpdate) -> Server:
        def write(session: Session) -> Instance:
            instance = visible_instance(session, ctxt, uuid)
            if changes.name is not None:
                instance.display_name = changes.name
            if "access_ip_v4" in changes.provided:
                instance.access_ip_v4 = changes.access_ip_v4
            if "access_ip_v6" in changes.provided:
                instance.access_ip_v6 = changes.access_ip_v6
            if changes.disk_config is not None:
                instance.disk_config = changes.disk_config
            if "description" in changes.provided:
                instance.description = changes.description
            if changes.hostname is not None:
                instance.hostname = changes.hostname
            instance.updated_at = utcnow()
            session.flush()
            return instance

        instance = self.db.write(write)
        return self.get(ctxt, instance.uuid)

    # --- delete -----------------------------------------------------------------------------------
    def delete(self, ctxt: RequestContext, uuid: str, *, record_as: str = instance_actions.DELETE) -> None:
        """Start the delete (task_state DELETING); the compute host finishes it, or we do if it cannot."""

        def start(session: Session) -> tuple[Instance, bool]:
            instance = visible_instance(session, ctxt, uuid)
            instance_extra.ensure_unlocked(session, ctxt, instance)
            instance_extra.ensure_terminable(session, instance)
            transition = states.check_action("delete", instance.vm_state, instance.task_state, uuid)
            # Guarded by the task_state we read, so a concurrent action or delete cannot be overwritten.
            if not instances.compare_and_swap(
                session, uuid, (instance.task_state,), task_state=transition.new_task_state
            ):
                raise errors.Conflict(f"Instance {uuid} changed state while being deleted; try again.")
            instance_actions.record_action(session, ctxt, uuid, record_as)
            if instance.host is not None and self._compute_is_up(session, instance.host):
                return instance, False
            # Nobody runs it (never placed, or its host is down): delete it here and now.
            if instances.mark_deleted(session, instance, self.quotas) and instance.host is not None:
                release(session, instance.host, instance.node, Resources.of(instance))
            return instance, True

        instance, deleted_here = self.db.write(start)
        if not deleted_here and instance.host is not None:
            self.compute_rpc.terminate_instance(ctxt, instance.host, uuid)
        elif deleted_here:
            self._release_ports(uuid)
            if self.volume_attachments is not None:
                self.volume_attachments.release_all(uuid)
            self.notifier.notify(ctxt, uuid, "delete.end")

    def _release_ports(self, uuid: str) -> None:
        """The ports of a server deleted here because its host is down, as Nova's local delete: those its
        host made are deleted, the user's unbound; the host's agent removes their taps at its next sync."""
        admin = RequestContext.admin()
        with self.db.reader() as session:
            port_ids = list(session.scalars(select(Port.id).where(Port.device_id == uuid)))
            if not port_ids:
                return
            created = set(instance_extra.system_metadata(session, uuid).get(CREATED_PORT_IDS) or [])
        for port_id in port_ids:
            try:
                if port_id in created:
                    self.network.ports.delete(admin, port_id, tell_compute=False)
                else:
                    unbound = {"device_id": "", "device_owner": "", "binding:host_id": ""}
                    self.network.ports.update(admin, port_id, unbound)
            except PortNotFound:
                pass  # deleted by its owner meanwhile

    def _compute_is_up(self, session: Session, host: str) -> bool:
        record = session.scalars(
            select(ServiceRecord).where(ServiceRecord.host == host, ServiceRecord.binary == COMPUTE_BINARY)
        ).first()
        return record is not None and servicegroup.service_is_up(
            record, self.cloud.clock(), self.cloud.settings.service_down_time
        )
