"""The compute service's manager: builds, acts on and deletes instances on this host via the virt driver.

The parts, each its own class: host.py's ComputeHost (the driver, caches, clients and the shared
helpers such as `run_action`), which the others take; the additional RPC endpoints power.py's
PowerActions (power, pause, suspend, rescue, password, console, soft delete), moves.py's MoveActions
(resize, migrate, confirm, revert) and images.py's ImageActions (rebuild, snapshot, shelve, unshelve).
This module keeps build, delete, start-up reconciliation, lifecycle events and the periodic tasks (all
the service's periodic tasks stay on the manager).
"""

from __future__ import annotations

import functools
import logging
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.cloud import Cloud
from overcast.compute import (
    block_device_mappings,
    build_progress,
    instance_actions,
    instance_extra,
    instances,
    states,
)
from overcast.compute.manager.external_events import ExternalEventActions
from overcast.compute.manager.host import ComputeHost, load_configured_driver
from overcast.compute.manager.images import ImageActions
from overcast.compute.manager.interfaces import InterfaceActions
from overcast.compute.manager.moves import MoveActions
from overcast.compute.manager.power import PowerActions
from overcast.compute.manager.server_ports import ServerPorts
from overcast.compute.manager.uptime import uptime_line
from overcast.compute.manager.volumes import BootVolumeFailed, VolumeActions
from overcast.compute.notifications import instance_payload
from overcast.compute.rpcapi import BINARY, TOPIC
from overcast.compute.vif_settings import VifSettings
from overcast.config import DEFAULT_AVAILABILITY_ZONE
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.models.block_device_mapping import BlockDeviceMapping
from overcast.db.models.compute import Instance
from overcast.errors import NotFound
from overcast.image.api import ImageAPI
from overcast.image.settings import ImageSettings
from overcast.manager import Manager, periodic_task, rpc_method
from overcast.network.api.service import NetworkAPI
from overcast.network.rpcapi import NetworkAgentAPI
from overcast.placement.claims import Resources, release
from overcast.scheduler.group_policy import group_policy_violation
from overcast.scheduler.rpcapi import notify_host_states_changed
from overcast.virt.driver import ComputeDriver, InstanceSpec, LifecycleEvent, PowerState
from overcast.volume.api.service import VolumeAPI
from overcast.volume.rpcapi import VolumeHostAPI

LOG = logging.getLogger(__name__)

__all__ = ["ComputeManager"]

# Nova: update_resources_interval (60 s) and sync_power_state_interval (600 s); ours are cheaper.
RESOURCE_REPORT_INTERVAL = 60.0
POWER_SYNC_INTERVAL = 60.0
# How often soft-deleted instances past reclaim_instance_interval (and shelved ones past
# shelved_offload_time) are looked for.
RECLAIM_POLL_INTERVAL = 60.0
_POWERED_OFF = (PowerState.SHUTDOWN, PowerState.CRASHED)
# Nova's instance-action event name for a build on its host.
BUILD_EVENT = "compute_build_and_run_instance"
_EVENT_POWER = {
    "started": PowerState.RUNNING, "resumed": PowerState.RUNNING, "stopped": PowerState.SHUTDOWN,
    "crashed": PowerState.CRASHED, "paused": PowerState.PAUSED, "suspended": PowerState.SUSPENDED,
}  # fmt: skip


@dataclass(frozen=True)
class _BuildStart:
    """What the transaction that takes a build read: the driver's spec, the claim, the row, its block
    device mappings and system metadata, the action event it opened (None outside an API request), the
    create.start payload."""

    spec: InstanceSpec
    claimed: Resources
    instance: Instance
    mappings: list[BlockDeviceMapping]
    sysmeta: dict[str, Any]
    event_id: int | None
    payload: dict[str, Any] | None


class ComputeManager(Manager):
    RPC_API_VERSION: ClassVar[str] = "1.9"
    topic: ClassVar[str] = TOPIC
    binary: ClassVar[str] = BINARY

    def __init__(
        self,
        cloud: Cloud,
        host: str,
        *,
        driver: ComputeDriver | None = None,
        vif_settings: VifSettings | None = None,
    ) -> None:
        super().__init__(cloud, host)
        # The compute host's composition root: its image cache, snapshots and transfer images all go
        # through this one image service, and a server's ports through this one network service.
        images = ImageAPI(cloud, ImageSettings())
        agents = NetworkAgentAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        self.ports = ServerPorts(cloud, host, NetworkAPI(cloud, agents=agents), vif_settings)
        driver = driver or load_configured_driver(cloud)
        self.compute_host = ComputeHost(cloud, host, driver, images, self.ports)
        # What the manager itself drives at start-up and in its periodic tasks.
        self.driver = self.compute_host.driver
        self.resource_tracker = self.compute_host.resource_tracker
        self.power_actions = PowerActions(self.compute_host, self.RPC_API_VERSION)
        self.move_actions = MoveActions(self.compute_host, self.RPC_API_VERSION)
        self.image_actions = ImageActions(self.compute_host, self.RPC_API_VERSION)
        self.interface_actions = InterfaceActions(self.compute_host, self.RPC_API_VERSION, self.ports)
        # A server's volumes go through this one volume service (attachments, boot volumes).
        volume_hosts = VolumeHostAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        self.volume_actions = VolumeActions(
            self.compute_host, self.RPC_API_VERSION, VolumeAPI(cloud, volume_hosts)
        )
        self.move_actions.volumes = self.volume_actions
        self.image_actions.volumes = self.volume_actions
        self.external_events = ExternalEventActions(
            self.compute_host, self.RPC_API_VERSION, self.volume_actions, self.ports
        )
        self.additional_endpoints.extend(
            [
                self.power_actions,
                self.move_actions,
                self.image_actions,
                self.interface_actions,
                self.volume_actions,
                self.external_events,
            ]
        )
        # The hypervisor tells us at once when a VM changes on its own (crash, guest shutdown).
        self.driver.register_event_listener(self._on_lifecycle_event)
        # Builds start one at a time on this host, so the late group check of each sees the ones before.
        self._build_start_lock = threading.Lock()
        # The instances whose VM the driver is spawning now: their SPAWNING build sets the state when it
        # finishes, so the lifecycle events the spawn itself raises need no read of the row.
        self._spawning: set[str] = set()

    @rpc_method
    def cache_images(self, ctxt: RequestContext, image_ids: list[str]) -> None:
        """Fetch each image into this host's cache (2.81's pre-caching, 1.9); one that fails is logged and
        the others still come, as Nova's manager does."""
        for image_id in image_ids:
            try:
                self.compute_host.image_cache.fetch(ctxt, image_id)
            except Exception:
                LOG.exception("[%s] Caching image %s on %s failed", ctxt.request_id, image_id, self.host)

    @rpc_method
    def get_host_uptime(self, ctxt: RequestContext) -> str:
        """This host's `uptime` line (os-hypervisors/{id}/uptime, and show from 2.88) (1.6)."""
        return uptime_line()

    # --- lifecycle --------------------------------------------------------------------------------
    def init_host(self) -> None:
        """Prepare the driver, reconcile what a previous run left behind, then report resources."""
        self.driver.init_host(self.host)
        self._reconcile()
        self.resource_tracker.update_available_resource()
        # A new host (or one back with other capacity) is a choice for the very next build.
        notify_host_states_changed(self.cloud.transport)

    def cleanup_host(self) -> None:
        """Let go of the driver; its VMs keep running and the next start re-attaches to them."""
        self.driver.shutdown()

    def _reconcile(self) -> None:
        ctxt = RequestContext.admin()
        with self.cloud.db.reader() as session:
            mine = list(
                session.scalars(
                    select(Instance).where(Instance.host == self.host, Instance.deleted.is_(False))
                )
            )
        live = {instance.uuid for instance in mine}
        for uuid in self.driver.list_instance_uuids():
            if uuid not in live:
                LOG.warning("Destroying VM %s: no live instance on this host owns it", uuid)
                self.driver.destroy(ctxt, uuid)
        for instance in mine:
            if instance.task_state == states.DELETING:
                self._terminate(ctxt, instance.uuid)
            elif instance.vm_state == states.BUILDING:
                # The service stopped mid-build; the build cannot resume, so do not leave it in BUILD.
                self.driver.destroy(ctxt, instance.uuid)
                self.cloud.db.write(functools.partial(self._interrupted_build, instance=instance))

    def _interrupted_build(self, session: Session, instance: Instance) -> bool:
        message = f"Build was interrupted by a restart of the compute service on {self.host}."
        return instances.set_error(
            session, instance.uuid, message, expected_task_state=(instance.task_state,), host=self.host
        )

    # --- build ------------------------------------------------------------------------------------
    @rpc_method
    def build_and_run_instance(
        self,
        ctxt: RequestContext,
        instance_uuid: str,
        admin_password: str | None = None,
        attempt: int = 1,
        alternates: list[dict[str, str]] | None = None,
        failed_hosts: list[str] | None = None,
    ) -> None:
        def start(session: Session) -> Any:
            violation = group_policy_violation(session, instance_uuid, self.host)
            if violation is not None:
                instance = instances.get_live(session, instance_uuid)
                given_back = self._give_back(
                    session, instance_uuid, states.SCHEDULING, Resources.of(instance), instance.node
                )
                return violation if given_back else None
            if not instances.compare_and_swap(
                session,
                instance_uuid,
                (states.SCHEDULING,),
                expected_host=self.host,
                task_state=states.SPAWNING,
            ):
                return None
            # One transaction takes the build, opens its action event and reads what create.start
            # reports: a boot is a few transactions, not one per step.
            instance = instances.get_live(session, instance_uuid, fresh=True)
            payload = instance_payload(session, instance)
            event_id = instance_actions.start_event(session, ctxt, instance_uuid, BUILD_EVENT, self.host)
            mappings = block_device_mappings.of_instance(session, instance_uuid)
            spec = instances.instance_spec(session, instance, mappings=mappings)
            sysmeta = instance_extra.system_metadata(session, instance_uuid)
            return _BuildStart(spec, Resources.of(instance), instance, mappings, sysmeta, event_id, payload)

        with self._build_start_lock:
            started = self.cloud.db.write(start)
        if started is None:
            LOG.info("Not building instance %s: it is no longer scheduled to %s", instance_uuid, self.host)
            return
        if isinstance(started, str):  # the late group check refused this host: on to the next alternate
            LOG.info("Not building instance %s on %s: %s", instance_uuid, self.host, started)
            failure = {"message": started, "details": ""}
            self._reschedule(ctxt, instance_uuid, admin_password, attempt, alternates, failed_hosts, failure)
            return
        self.compute_host.send_notice(ctxt, instance_uuid, "create.start", started.payload)
        spec, instance = started.spec, started.instance
        try:
            with self._spawn_heartbeat(instance_uuid):
                zone = instance.availability_zone or DEFAULT_AVAILABILITY_ZONE
                vifs = self.ports.allocate(ctxt, instance, zone, started.sysmeta)
                spec = replace(spec, network_info=vifs)
                volumes = self.volume_actions.connect_boot_volumes(ctxt, instance_uuid, started.mappings)
                spec = replace(spec, block_device_info=volumes)
                prepared = self.compute_host.prepared(ctxt, spec)
                self._spawning.add(instance_uuid)
                try:
                    self.driver.spawn(ctxt, prepared, admin_password)
                finally:
                    self._spawning.discard(instance_uuid)
        except BaseException as exc:
            if started.event_id is not None:
                self._finish_build_event(started.event_id, exc)
            if not isinstance(exc, Exception):
                raise
            LOG.warning("Spawning instance %s on %s failed: %s", instance_uuid, self.host, exc)
            self.compute_host.notify(ctxt, instance_uuid, "create.error", exception=str(exc))
            self._build_failed(
                ctxt, instance_uuid, exc, started.claimed, instance.node, admin_password, attempt,
                alternates or [], failed_hosts or [],
            )  # fmt: skip
            return

        network = self.compute_host.guest_network(instance_uuid)

        def finish(session: Session) -> dict[str, Any] | None:
            if started.event_id is not None:
                instance_actions.finish_event(session, started.event_id, None)
            done = instances.compare_and_swap(
                session, instance_uuid, (states.SPAWNING,), expected_host=self.host,
                vm_state=states.ACTIVE, task_state=None, power_state=int(PowerState.RUNNING),
                launched_at=utcnow(),
            )  # fmt: skip
            if not done:
                return None
            self.compute_host.record_network(session, instance_uuid, network)
            return self.compute_host.notifier.payload(session, instance_uuid)

        ended = self.cloud.db.write(finish)
        if ended is None:
            # Deleted (or declared lost) while spawning: the row is someone else's; the VM is ours to remove.
            LOG.info("Instance %s left SPAWNING while it was spawning; destroying the VM", instance_uuid)
            self._destroy_quietly(ctxt, instance_uuid)
            self._deallocate_ports(ctxt, instance_uuid)
            return
        if volumes:  # only a connected volume has an attachment to complete
            self.volume_actions.complete_boot_volumes(ctxt, instance_uuid)
        self.compute_host.send_notice(ctxt, instance_uuid, "create.end", ended)

    def _finish_build_event(self, event_id: int, error: BaseException) -> None:
        try:
            self.cloud.db.write(
                functools.partial(instance_actions.finish_event, event_id=event_id, error=error)
            )
        except Exception:
            LOG.exception("Could not record the end of build event %s", event_id)

    def _deallocate_ports(self, ctxt: RequestContext, uuid: str) -> None:
        try:
            self.ports.deallocate(ctxt, uuid)
        except Exception:
            LOG.exception("Releasing the ports of instance %s on %s failed", uuid, self.host)

    def _spawn_heartbeat(self, uuid: str) -> AbstractContextManager[None]:
        """While the image is fetched and the VM spawns, the conductor's stall sweep sees a live build."""
        interval = build_progress.heartbeat_interval(self.cloud.settings.build_stall_timeout)
        return build_progress.spawn_heartbeat(self.cloud.db, self.cloud.clock, uuid, self.host, interval)

    def _build_failed(
        self,
        ctxt: RequestContext,
        uuid: str,
        exc: Exception,
        claimed: Resources,
        node: str | None,
        admin_password: str | None,
        attempt: int,
        alternates: list[dict[str, str]],
        failed_hosts: list[str],
    ) -> None:
        self._destroy_quietly(ctxt, uuid)
        # The next host makes its own ports; the user's go back to being free for it.
        self._deallocate_ports(ctxt, uuid)
        self.volume_actions.disconnect_boot_volumes(ctxt, uuid)
        if isinstance(exc, BootVolumeFailed):
            # Another host would wait for the same volume: the build ends here (Nova's build abort).
            self.cloud.db.write(functools.partial(
                instances.set_error, uuid=uuid, error=exc, expected_task_state=(states.SPAWNING,),
                host=self.host,
            ))  # fmt: skip
            return

        given_back = self.cloud.db.write(
            lambda session: self._give_back(session, uuid, states.SPAWNING, claimed, node)
        )
        if not given_back:
            return  # deleted meanwhile: nothing left to reschedule
        failure = instances.fault_summary(exc)
        self._reschedule(ctxt, uuid, admin_password, attempt, alternates, failed_hosts, failure)

    def _give_back(
        self, session: Session, uuid: str, expected: str, claimed: Resources, node: str | None
    ) -> bool:
        """Back to SCHEDULING and off this node in one compare-and-swap, so the claim is released
        exactly once; False when the instance is no longer `expected` here (deleted meanwhile)."""
        moved = instances.compare_and_swap(
            session, uuid, (expected,), expected_host=self.host,
            task_state=states.SCHEDULING, host=None, node=None, devices=[],
        )  # fmt: skip
        if moved:
            release(session, self.host, node, claimed)
        return moved

    def _reschedule(
        self,
        ctxt: RequestContext,
        uuid: str,
        admin_password: str | None,
        attempt: int,
        alternates: list[dict[str, str]] | None,
        failed_hosts: list[str] | None,
        failure: dict[str, Any],
    ) -> None:
        """Hand the build back to the conductor, for its next alternate host (never this one again)."""
        self.compute_host.conductor.build_instances(
            ctxt, [uuid], admin_password, attempt=attempt + 1, alternates=alternates or [],
            failed_hosts=[*(failed_hosts or ()), self.host], last_failure=failure,
        )  # fmt: skip

    def _destroy_quietly(self, ctxt: RequestContext, uuid: str) -> None:
        try:
            self.driver.destroy(ctxt, uuid)
        except Exception:
            LOG.exception("Cleaning up VM %s on %s failed", uuid, self.host)

    # --- delete -----------------------------------------------------------------------------------
    @rpc_method
    def terminate_instance(self, ctxt: RequestContext, instance_uuid: str) -> None:
        self._terminate(ctxt, instance_uuid)

    def _terminate(self, ctxt: RequestContext, uuid: str) -> None:
        self.compute_host.notify(ctxt, uuid, "delete.start")
        try:
            with self.compute_host.event(ctxt, uuid, "compute_terminate_instance"):
                self.driver.destroy(ctxt, uuid)
        except Exception as exc:
            LOG.exception("Destroying instance %s on %s failed", uuid, self.host)
            failure = exc

            def give_up(session: Session) -> bool:
                return instances.set_error(
                    session, uuid, failure, expected_task_state=(states.DELETING,), host=self.host
                )

            self.cloud.db.write(give_up)
            self.compute_host.notify(ctxt, uuid, "delete.error", exception=str(exc))
            return
        self._deallocate_ports(ctxt, uuid)
        self.volume_actions.release_all(ctxt, uuid)

        def finish(session: Session) -> bool:
            try:
                instance = instances.get_live(session, uuid)
            except NotFound:
                return False
            quotas = self.compute_host.quotas
            if instance.host == self.host and instances.mark_deleted(session, instance, quotas):
                release(session, self.host, instance.node, Resources.of(instance))
                return True
            return False

        if self.cloud.db.write(finish):
            self.compute_host.notify(ctxt, uuid, "delete.end")
        self.compute_host.prune_image_cache()

    # --- power truth ------------------------------------------------------------------------------
    def _on_lifecycle_event(self, event: LifecycleEvent) -> None:
        power = _EVENT_POWER.get(event.transition)
        if power is None or event.uuid in self._spawning:
            return  # no power change, or our build is spawning it: the build sets the state when it ends
        instance = self.compute_host.load(event.uuid)
        if instance is None or instance.task_state is not None:
            return  # an action of ours is running: it sets the state when it finishes
        self._sync_power_state(instance, power)

    def _sync_power_state(self, instance: Instance, power: PowerState) -> None:
        if power == instance.power_state:
            return
        values: dict[str, Any] = {"power_state": int(power)}
        if instance.vm_state == states.ACTIVE and power in _POWERED_OFF:
            # Nova stops such an instance so the API tells the truth: the guest is not running.
            values["vm_state"] = states.STOPPED
        LOG.info("Instance %s power state %s -> %s", instance.uuid, instance.power_state, power.name)
        swapped = self.cloud.db.write(functools.partial(
            instances.compare_and_swap, uuid=instance.uuid, expected_task_state=(None,),
            expected_vm_state=(instance.vm_state,), expected_host=self.host, **values,
        ))  # fmt: skip
        if swapped and values.get("vm_state") == states.STOPPED:
            # As a user's stop does, so metering bills the server as stopped from now on.
            self.compute_host.notify(RequestContext.admin(), instance.uuid, "power_off.end")

    # --- periodic tasks ---------------------------------------------------------------------------
    @periodic_task(RESOURCE_REPORT_INTERVAL)
    def update_available_resource(self) -> None:
        self.resource_tracker.update_available_resource()

    @periodic_task(POWER_SYNC_INTERVAL)
    def sync_power_states(self) -> None:
        """Make the database agree with the hypervisor for instances that have no task running."""
        for instance in self._idle_instances():
            self._sync_power_state(instance, PowerState(self.compute_host.power_state(instance.uuid)))

    def _idle_instances(self, *vm_states: str) -> list[Instance]:
        query = select(Instance).where(
            Instance.host == self.host, Instance.deleted.is_(False), Instance.task_state.is_(None)
        )
        if vm_states:
            query = query.where(Instance.vm_state.in_(vm_states))
        with self.cloud.db.reader() as session:
            return list(session.scalars(query))

    @periodic_task(RECLAIM_POLL_INTERVAL)
    def reclaim_queued_deletes(self) -> None:
        """Delete for good the soft-deleted instances older than reclaim_instance_interval."""
        interval = self.cloud.settings.reclaim_instance_interval
        if interval <= 0:
            return
        cutoff = self.cloud.clock() - timedelta(seconds=interval)
        ctxt = RequestContext.admin()
        for instance in self._idle_instances(states.SOFT_DELETED):
            if instance.deleted_at is None or instance.deleted_at > cutoff:
                continue
            if self.compute_host.swap(instance.uuid, (None,), expected_vm_state=(states.SOFT_DELETED,),
                          task_state=states.DELETING):  # fmt: skip
                LOG.info("Reclaiming soft-deleted instance %s", instance.uuid)
                self._terminate(ctxt, instance.uuid)

    @periodic_task(RECLAIM_POLL_INTERVAL)
    def offload_shelved_instances(self) -> None:
        """Free the host of instances shelved longer than shelved_offload_time (Nova's same task)."""
        keep_for = self.cloud.settings.shelved_offload_time
        if keep_for <= 0:
            return
        cutoff = self.cloud.clock() - timedelta(seconds=keep_for)
        ctxt = RequestContext.admin()
        for instance in self._idle_instances(states.SHELVED):
            with self.cloud.db.reader() as session:
                shelved_at = instance_extra.system_metadata(session, instance.uuid).get("shelved_at")
            if shelved_at is None or datetime.fromisoformat(shelved_at) > cutoff:
                continue
            if self.compute_host.swap(instance.uuid, (None,), expected_vm_state=(states.SHELVED,),
                          task_state=states.SHELVING_OFFLOADING):  # fmt: skip
                self.image_actions.shelve_offload_instance(ctxt, instance.uuid)
