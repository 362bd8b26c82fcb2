"""Builds nobody works on any more go to ERROR with a fault, so no server waits in BUILD forever.

Three ways a build is abandoned, three sweeps of the conductor, one way to fail a build:

- its compute host died mid-build (`fail_builds_on_dead_hosts`, after service_down_time; the host's own
  start-up reconcile does the same if it comes back);
- this conductor died holding it (`fail_builds_of_a_previous_run`, when the conductor starts: only the
  builds still waiting for a compute host to start them, which no message will now move);
- anything else that lost it: a lost build message, a killed all-in-one, a compute host that never got
  the cast (`fail_stalled_builds`, for every build without progress for `build_stall_timeout`, on any
  host or none; see compute/build_progress.py for what counts as progress).

Each failure is a compare-and-swap on what the sweep saw (vm_state BUILD, the same task_state and host,
and for the stall sweep, still no progress), so a build that moves at the same moment wins or loses
cleanly. As in every other failed build, the instance keeps its host and its claim and the project its
quota until the server is deleted, whose compute-side delete gives them back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from overcast.cloud import Cloud
from overcast.compute import build_progress, instances, states
from overcast.compute.rpcapi import BINARY as COMPUTE_BINARY
from overcast.db.models.compute import Instance
from overcast.db.models.service import ServiceRecord
from overcast.servicegroup import service_is_up

LOG = logging.getLogger(__name__)

# How often builds on hosts that stopped reporting, and builds that stopped progressing, are looked for.
STUCK_BUILD_CHECK_INTERVAL = 30.0


class StuckBuildSweeper:
    """The conductor's sweeps over abandoned builds; the conductor runs them at start-up and periodically."""

    def __init__(self, cloud: Cloud, host: str) -> None:
        self.cloud = cloud
        self.host = host

    def fail_builds_of_a_previous_run(self) -> list[str]:
        """At start-up: the builds this conductor took and had not handed to a compute host yet.

        The process that took them is gone with its scheduling call and its unsent build casts, so they
        cannot move; a build already started on its host (SPAWNING) is that host's to finish or fail.
        """
        with self.cloud.db.reader() as session:
            orphans = list(session.scalars(
                select(Instance).where(
                    Instance.deleted.is_(False), Instance.vm_state == states.BUILDING,
                    Instance.task_state == states.SCHEDULING, Instance.build_conductor == self.host,
                )
            ))  # fmt: skip
        message = f"Build was interrupted by a restart of the conductor on {self.host}."
        return self._fail_stuck(orphans, lambda instance: message)

    def fail_stalled_builds(self) -> list[str]:
        """Every build, wherever it is, that showed no progress for build_stall_timeout.

        Except a build placed on a host that is busy spawning others (with progress): its message may
        wait in the host's queue behind them, all of the host's workers taken by slow spawns.
        """
        timeout = self.cloud.settings.build_stall_timeout
        stalled = build_progress.stalled_since(self.cloud.clock() - timedelta(seconds=timeout))
        with self.cloud.db.reader() as session:
            busy_hosts = set(session.scalars(
                select(Instance.host).distinct().where(
                    Instance.deleted.is_(False), Instance.vm_state == states.BUILDING,
                    Instance.task_state == states.SPAWNING, ~stalled,
                )
            ))  # fmt: skip
            stuck = [
                instance for instance in session.scalars(
                    select(Instance).where(
                        Instance.deleted.is_(False), Instance.vm_state == states.BUILDING, stalled
                    )
                )
                if not (instance.task_state == states.SCHEDULING and instance.host in busy_hosts)
            ]  # fmt: skip

        def message(instance: Instance) -> str:
            where = f"on {instance.host}" if instance.host else "before it was placed"
            return (
                f"Build did not progress for {timeout:g} seconds ({where}, task state "
                f"{instance.task_state}): its request was lost or the service working on it stopped."
            )

        return self._fail_stuck(stuck, message, stalled)

    def fail_builds_on_dead_hosts(self) -> list[str]:
        """ERROR (with a fault) every build placed on a compute host that is down beyond service_down_time.

        The host's own start-up reconcile does the same when it comes back; this covers a host that does
        not come back, so no server waits in BUILD forever.
        """
        now = self.cloud.clock()
        with self.cloud.db.reader() as session:
            building = list(session.scalars(
                select(Instance).where(
                    Instance.deleted.is_(False), Instance.vm_state == states.BUILDING,
                    Instance.host.is_not(None),
                )
            ))  # fmt: skip
            hosts = {instance.host for instance in building}
            records = session.scalars(
                select(ServiceRecord).where(
                    ServiceRecord.binary == COMPUTE_BINARY, ServiceRecord.host.in_(hosts)
                )
            ).all()
        up = {r.host for r in records if service_is_up(r, now, self.cloud.settings.service_down_time)}
        return self._fail_stuck(
            [instance for instance in building if instance.host not in up],
            lambda instance: f"Build was interrupted: the compute service on {instance.host} is down.",
        )

    def _fail_stuck(
        self, seen: Iterable[Instance], message: Callable[[Instance], str], *still: ColumnElement[bool]
    ) -> list[str]:
        """ERROR with a fault for each build of `seen` that is still as it was seen (and `still` holds)."""
        failed = []
        for instance in seen:
            text = message(instance)

            def write(session: Session, instance: Instance = instance, text: str = text) -> bool:
                host_unchanged = Instance.host == instance.host if instance.host else Instance.host.is_(None)
                if not instances.compare_and_swap(
                    session, instance.uuid, (instance.task_state,), expected_vm_state=(states.BUILDING,),
                    also=(host_unchanged, *still), vm_state=states.ERROR, task_state=None,
                ):  # fmt: skip
                    return False
                instances.record_fault(session, instance.uuid, text, host=instance.host)
                return True

            if self.cloud.db.write(write):
                LOG.warning("Instance %s: %s", instance.uuid, text)
                failed.append(instance.uuid)
        return failed
