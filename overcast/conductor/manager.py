"""The conductor service: long-running workflows that span services (build, reschedule, resize, unshelve).

Build: ask the scheduler for a node and alternates → claim the node's resources in the database →
cast the build to that compute host. When the compute host's spawn fails it hands the instance back
(attempt + 1, the remaining alternates); the conductor claims the next alternate, up to
MAX_BUILD_ATTEMPTS. An instance that cannot be placed ends in ERROR with a fault, never stuck in BUILD;
nor does one that a dead compute host, a restart of this conductor or a lost message left behind
(stuck_builds.py). Resize and unshelve are moves.py's MoveTasks, an additional RPC endpoint.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, ClassVar

from overcast import errors
from overcast.cloud import Cloud
from overcast.compute import build_progress, instances, states
from overcast.compute.rpcapi import ComputeAPI
from overcast.conductor.moves import MoveTasks
from overcast.conductor.rpcapi import BINARY, TOPIC
from overcast.conductor.stuck_builds import STUCK_BUILD_CHECK_INTERVAL, StuckBuildSweeper
from overcast.context import RequestContext
from overcast.db.models.compute import Instance
from overcast.manager import Manager, periodic_task, rpc_method
from overcast.placement import claims
from overcast.scheduler.request_spec import wanted_of
from overcast.scheduler.rpcapi import SchedulerAPI

LOG = logging.getLogger(__name__)

# Nova's scheduler.max_attempts default: the first try plus two reschedules.
MAX_BUILD_ATTEMPTS = 3


class ConductorManager(Manager):
    RPC_API_VERSION: ClassVar[str] = "1.2"
    topic: ClassVar[str] = TOPIC
    binary: ClassVar[str] = BINARY

    def __init__(self, cloud: Cloud, host: str, *, max_build_attempts: int = MAX_BUILD_ATTEMPTS) -> None:
        super().__init__(cloud, host)
        self.max_build_attempts = max_build_attempts
        self.scheduler = SchedulerAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        self.compute = ComputeAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        self.stuck_builds = StuckBuildSweeper(cloud, host)
        self.move_tasks = MoveTasks(cloud, host, self.scheduler, self.compute, self.RPC_API_VERSION)
        self.additional_endpoints.append(self.move_tasks)

    def init_host(self) -> None:
        """Before taking new work: fail the builds a previous run of this conductor took and dropped."""
        self.stuck_builds.fail_builds_of_a_previous_run()

    @periodic_task(STUCK_BUILD_CHECK_INTERVAL)
    def fail_stalled_builds(self) -> list[str]:
        return self.stuck_builds.fail_stalled_builds()

    @periodic_task(STUCK_BUILD_CHECK_INTERVAL)
    def fail_builds_on_dead_hosts(self) -> list[str]:
        return self.stuck_builds.fail_builds_on_dead_hosts()

    @rpc_method
    def build_instances(
        self,
        ctxt: RequestContext,
        instance_uuids: list[str],
        admin_password: str | None = None,
        attempt: int = 1,
        alternates: list[dict[str, str]] | None = None,
        failed_hosts: list[str] | None = None,
        last_failure: dict[str, Any] | None = None,
    ) -> None:
        # Ours from now until a compute host starts them: if this process dies, its next start fails them.
        self.cloud.db.write(functools.partial(
            build_progress.take_ownership, uuids=list(instance_uuids), conductor=self.host,
            now=self.cloud.clock(),
        ))  # fmt: skip
        if attempt == 1:
            self._schedule_and_build(ctxt, instance_uuids, admin_password, failed_hosts or [])
            return
        for uuid in instance_uuids:
            try:
                self._build_one(
                    ctxt, uuid, admin_password, attempt, alternates, failed_hosts or [], last_failure
                )
            except Exception as exc:
                # Whatever went wrong, the instance must not stay in BUILD.
                LOG.exception("Build of instance %s failed in the conductor", uuid)
                self._fail(uuid, exc)

    def _build_one(
        self,
        ctxt: RequestContext,
        uuid: str,
        admin_password: str | None,
        attempt: int,
        alternates: list[dict[str, str]] | None,
        failed_hosts: list[str],
        last_failure: dict[str, Any] | None,
    ) -> None:
        instance = self._schedulable(uuid)
        if instance is None:
            return
        with self.cloud.db.reader() as session:
            wanted = wanted_of(session, uuid, self.cloud.settings.scheduler.pci_aliases)
        if attempt > self.max_build_attempts or not alternates:
            message = (
                f"Exceeded maximum number of retries. Exhausted all hosts available for retrying "
                f"build failures for instance {uuid}."
            )
            if last_failure:
                message = f"{message} Last failure: {last_failure.get('message', '')}"
            self._fail(uuid, errors.NoValidHost(message), details=(last_failure or {}).get("details"))
            return
        candidates = list(alternates or ())
        while candidates:
            target = candidates.pop(0)
            host, node = target["host"], target["nodename"]
            if self.cloud.db.write(functools.partial(
                claims.claim, instance_uuid=uuid, host=host, node=node, wanted=wanted,
            )) is claims.Outcome.CLAIMED:  # fmt: skip
                LOG.info("Instance %s claimed %s on %s (attempt %d)", uuid, node, host, attempt)
                self.compute.build_and_run_instance(
                    ctxt, host, uuid, admin_password,
                    attempt=attempt, alternates=candidates, failed_hosts=failed_hosts,
                )  # fmt: skip
                return
            if self._schedulable(uuid) is None:
                return  # deleted while we were placing it
            LOG.info("Claim for instance %s on %s failed; trying the next alternate", uuid, host)
        self._fail(
            uuid,
            errors.NoValidHost("No valid host was found. There are not enough hosts available."),
            details="",
        )

    def _schedule_and_build(
        self, ctxt: RequestContext, uuids: list[str], admin_password: str | None, failed_hosts: list[str]
    ) -> None:
        """The scheduler chooses and claims hosts for the whole request (all or none), then we build."""
        try:
            placements = self.scheduler.schedule_and_claim(
                ctxt, uuids, excluded_hosts=failed_hosts, num_alternates=self.max_build_attempts - 1
            )
        except Exception as exc:
            if not isinstance(exc, errors.NoValidHost):
                LOG.exception("Scheduling instances %s failed", uuids)
            for uuid in uuids:
                self._fail(uuid, exc, details=str(exc) if isinstance(exc, errors.NoValidHost) else None)
            return
        for placement in placements:
            LOG.info("Instance %s claimed %s on %s", placement["instance_uuid"], placement["nodename"],
                     placement["host"])  # fmt: skip
            self.compute.build_and_run_instance(
                ctxt, placement["host"], placement["instance_uuid"], admin_password,
                attempt=1, alternates=placement["alternates"], failed_hosts=failed_hosts,
            )  # fmt: skip

    def _schedulable(self, uuid: str) -> Instance | None:
        """The instance if it still waits for a host (not deleted, task_state SCHEDULING, not placed)."""
        with self.cloud.db.reader() as session:
            try:
                instance = instances.get_live(session, uuid)
            except errors.NotFound:
                return None
        if instance.task_state != states.SCHEDULING or instance.host is not None:
            LOG.info(
                "Instance %s is no longer waiting to be scheduled (%s/%s, host %s)",
                uuid,
                instance.vm_state,
                instance.task_state,
                instance.host,
            )
            return None
        return instance

    def _fail(self, uuid: str, error: BaseException, details: str | None = None) -> None:
        def write(session: Any) -> bool:
            return instances.set_error(
                session, uuid, error, expected_task_state=(states.SCHEDULING,), details=details
            )

        if not self.cloud.db.write(write):
            LOG.info("Instance %s was not set to ERROR: it left SCHEDULING (deleted?)", uuid)
