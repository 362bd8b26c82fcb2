"""The compute service's manager: builds and deletes instances on this host through the virt driver."""

from __future__ import annotations

import functools
import logging
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.cloud import Cloud
from overcast.compute import instances, states
from overcast.compute.resource_tracker import Resources, ResourceTracker, release
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.models.compute import Instance
from overcast.errors import NotFound
from overcast.manager import Manager, periodic_task, rpc_method
from overcast.quota import QuotaEngine
from overcast.virt.driver import ComputeDriver, InstanceNotFound, PowerState, load_driver

LOG = logging.getLogger(__name__)

TOPIC = "compute"
# Nova: update_resources_interval (60 s) and sync_power_state_interval (600 s); ours are cheaper.
RESOURCE_REPORT_INTERVAL = 60.0
POWER_SYNC_INTERVAL = 60.0
_POWERED_OFF = (PowerState.SHUTDOWN, PowerState.CRASHED)


class ComputeManager(Manager):
    RPC_API_VERSION: ClassVar[str] = "1.1"
    topic: ClassVar[str] = TOPIC
    binary: ClassVar[str] = "overcast-compute"

    def __init__(self, cloud: Cloud, host: str, *, driver: ComputeDriver | None = None) -> None:
        super().__init__(cloud, host)
        from overcast.conductor.rpcapi import ConductorAPI

        self.driver = driver or load_driver(cloud.settings.compute_driver)
        self.resource_tracker = ResourceTracker(cloud.db, host, self.driver)
        self.conductor = ConductorAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        self.quotas = QuotaEngine()

    # --- lifecycle --------------------------------------------------------------------------------
    def init_host(self) -> None:
        """Prepare the driver, reconcile what a previous run left behind, then report resources."""
        self.driver.init_host(self.host)
        self._reconcile()
        self.resource_tracker.update_available_resource()

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
            if not instances.compare_and_swap(
                session,
                instance_uuid,
                (states.SCHEDULING,),
                expected_host=self.host,
                task_state=states.SPAWNING,
            ):
                return None
            instance = instances.get_live(session, instance_uuid)
            return instances.instance_spec(session, instance), Resources.of(instance), instance.node

        started = self.cloud.db.write(start)
        if started is None:
            LOG.info("Not building instance %s: it is no longer scheduled to %s", instance_uuid, self.host)
            return
        spec, claimed, node = started
        try:
            self.driver.spawn(ctxt, spec, admin_password)
        except Exception as exc:
            LOG.warning("Spawning instance %s on %s failed: %s", instance_uuid, self.host, exc)
            self._build_failed(
                ctxt,
                instance_uuid,
                exc,
                claimed,
                node,
                admin_password,
                attempt,
                alternates or [],
                failed_hosts or [],
            )
            return

        def finish(session: Session) -> bool:
            return instances.compare_and_swap(
                session, instance_uuid, (states.SPAWNING,), expected_host=self.host,
                vm_state=states.ACTIVE, task_state=None, power_state=int(PowerState.RUNNING),
                launched_at=utcnow(),
            )  # fmt: skip

        if not self.cloud.db.write(finish):
            # Deleted while spawning: the delete owns the row; only the VM it could not see is ours.
            LOG.info("Instance %s was deleted while it was spawning; destroying the VM", instance_uuid)
            self._destroy_quietly(ctxt, instance_uuid)

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

        def hand_back(session: Session) -> bool:
            # Back to SCHEDULING and off this node in one step, so the claim is released exactly once.
            moved = instances.compare_and_swap(
                session, uuid, (states.SPAWNING,), expected_host=self.host,
                task_state=states.SCHEDULING, host=None, node=None,
            )  # fmt: skip
            if moved:
                release(session, self.host, node, claimed)
            return moved

        if not self.cloud.db.write(hand_back):
            return  # deleted meanwhile: nothing left to reschedule
        failure = instances.fault_summary(exc)
        self.conductor.build_instances(
            ctxt, [uuid], admin_password, attempt=attempt + 1, alternates=alternates,
            failed_hosts=[*failed_hosts, self.host], last_failure=failure,
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
        try:
            self.driver.destroy(ctxt, uuid)
        except Exception as exc:
            LOG.exception("Destroying instance %s on %s failed", uuid, self.host)
            failure = exc

            def give_up(session: Session) -> bool:
                return instances.set_error(
                    session, uuid, failure, expected_task_state=(states.DELETING,), host=self.host
                )

            self.cloud.db.write(give_up)
            return

        def finish(session: Session) -> None:
            try:
                instance = instances.get_live(session, uuid)
            except NotFound:
                return
            if instance.host == self.host and instances.mark_deleted(session, instance, self.quotas):
                release(session, self.host, instance.node, Resources.of(instance))

        self.cloud.db.write(finish)

    # --- periodic tasks ---------------------------------------------------------------------------
    @periodic_task(RESOURCE_REPORT_INTERVAL)
    def update_available_resource(self) -> None:
        self.resource_tracker.update_available_resource()

    @periodic_task(POWER_SYNC_INTERVAL)
    def sync_power_states(self) -> None:
        """Make the database agree with the hypervisor for instances that have no task running."""
        with self.cloud.db.reader() as session:
            idle = list(
                session.scalars(
                    select(Instance).where(
                        Instance.host == self.host, Instance.deleted.is_(False), Instance.task_state.is_(None)
                    )
                )
            )
        for instance in idle:
            try:
                power = self.driver.get_info(instance.uuid).state
            except InstanceNotFound:
                power = PowerState.NOSTATE
            if power == instance.power_state:
                continue
            values: dict[str, Any] = {"power_state": int(power)}
            if instance.vm_state == states.ACTIVE and power in _POWERED_OFF:
                # Nova stops such an instance so the API tells the truth: the guest is not running.
                values["vm_state"] = states.STOPPED
            LOG.info("Instance %s power state %s -> %s", instance.uuid, instance.power_state, power.name)
            self.cloud.db.write(functools.partial(
                instances.compare_and_swap, uuid=instance.uuid, expected_task_state=(None,),
                expected_vm_state=(instance.vm_state,), expected_host=self.host, **values,
            ))  # fmt: skip
