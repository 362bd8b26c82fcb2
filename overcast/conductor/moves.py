"""Conductor workflows that move an existing instance: cold resize and unshelving an offloaded instance.

Resize: pick a destination for the new flavor, reserve the new flavor's resources on it (the instance
stays placed on its source until the destination finishes), then hand the work to the source host.
Unshelve of an offloaded instance is a build again: SCHEDULING, a claim that places it, then the
chosen host spawns it from its shelved image. Neither leaves the instance stuck in a task: when no
host fits, the task is cleared and the reason recorded as a fault.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.cloud import Cloud
from overcast.compute import instance_actions, instance_extra, instances, migrations, states
from overcast.compute.rpcapi import ComputeAPI
from overcast.context import RequestContext
from overcast.db.models.compute import ComputeNode, Flavor
from overcast.manager import rpc_method
from overcast.placement import claims
from overcast.placement.devices import held_json, requested
from overcast.placement.resources import Resources, Wanted
from overcast.quota import QuotaEngine
from overcast.scheduler.request_spec import REQUESTED_DESTINATION_KEY, hosts_outside, wanted_of
from overcast.scheduler.rpcapi import SchedulerAPI

LOG = logging.getLogger(__name__)


def resize_wanted(
    session: Session, flavor: dict[str, Any], pci_aliases: Mapping[str, Mapping[str, str]]
) -> Wanted:
    """What the new flavor claims on a resize's destination, its devices included."""
    extra_specs = session.scalars(
        select(Flavor.extra_specs).where(Flavor.flavorid == flavor.get("flavorid"))
    ).first()
    sizes = Resources.of_flavor(flavor)
    return Wanted(sizes.vcpus, sizes.memory_mb, sizes.disk_gb, requested(extra_specs or {}, pci_aliases))


class MoveTasks:
    """The conductor's move workflows: an additional RPC endpoint of the conductor service."""

    def __init__(
        self, cloud: Cloud, host: str, scheduler: SchedulerAPI, compute: ComputeAPI, rpc_api_version: str
    ) -> None:
        self.cloud = cloud
        self.host = host
        self.scheduler = scheduler
        self.compute = compute
        # The conductor's client sends one version for every method, so this serves the manager's.
        self.RPC_API_VERSION = rpc_api_version

    def _candidates(
        self, ctxt: RequestContext, flavor: dict[str, Any], excluded_hosts: list[str] | None = None,
        zone: str | None = None,
    ) -> list[dict[str, str]]:  # fmt: skip
        with self.cloud.db.reader() as session:
            extra_specs = session.scalars(
                select(Flavor.extra_specs).where(Flavor.flavorid == flavor.get("flavorid"))
            ).first()
        sizes = Resources.of_flavor(flavor)
        spec = {"vcpus": sizes.vcpus, "memory_mb": sizes.memory_mb, "disk_gb": sizes.disk_gb,
                "flavor_extra_specs": dict(extra_specs or {}), "availability_zone": zone}  # fmt: skip
        return self.scheduler.select_destinations(ctxt, spec, excluded_hosts, num_alternates=2)

    def _give_up(
        self,
        uuid: str,
        expected: str,
        error: BaseException,
        undo: Callable[[Session, str], None] | None = None,
        **values: Any,
    ) -> None:
        """Clear the task with a fault; `undo` runs in the same transaction, so nobody sees half of it."""

        def write(session: Session) -> None:
            if instances.compare_and_swap(session, uuid, (expected,), task_state=None, **values):
                instances.record_fault(session, uuid, error)
                if undo is not None:
                    undo(session, uuid)

        self.cloud.db.write(write)

    # --- resize -----------------------------------------------------------------------------------
    @rpc_method
    def migrate_server(self, ctxt: RequestContext, instance_uuid: str, flavor: dict[str, Any]) -> None:
        try:
            with instance_actions.action_event(
                self.cloud.db, ctxt, instance_uuid, "conductor_migrate_server", self.host
            ):
                self._migrate(ctxt, instance_uuid, flavor)
        except Exception as exc:
            LOG.warning(
                "[%s] Resize of instance %s failed in the conductor: %s", ctxt.request_id, instance_uuid, exc
            )
            self._give_up(instance_uuid, states.RESIZE_PREP, exc, undo=self._undo_move)

    def _migrate(self, ctxt: RequestContext, uuid: str, flavor: dict[str, Any]) -> None:
        with self.cloud.db.reader() as session:
            wanted = resize_wanted(session, flavor, self.cloud.settings.scheduler.pci_aliases)
            excluded = _excluded_hosts(session, uuid)
        for target in self._candidates(ctxt, flavor, excluded):
            host, node = target["host"], target["nodename"]

            def start(session: Session, host: str = host, node: str = node) -> bool | None:
                held = claims.reserve(session, host, node, wanted)
                if held is None:
                    return False
                if not instances.compare_and_swap(
                    session, uuid, (states.RESIZE_PREP,), task_state=states.RESIZE_MIGRATING
                ):
                    raise _Gone()
                # Each side's devices, so confirm and revert give back exactly what each side holds.
                source = instance_extra.system_metadata(session, uuid).get("resize_source") or {}
                dest = {"host": host, "node": node, "devices": held_json(held.devices)}
                source_devices = instances.get_live(session, uuid).devices
                instance_extra.update_system_metadata(
                    session, uuid, resize_dest=dest, resize_source={**source, "devices": source_devices}
                )
                migrations.advance(
                    session, uuid, (migrations.PRE_MIGRATING,), migrations.PRE_MIGRATING,
                    dest_compute=host, dest_node=node,
                )  # fmt: skip
                return True

            try:
                reserved = self.cloud.db.write(start)
            except _Gone:
                return  # deleted (or reset) while we looked for a host
            if reserved:
                source = self._source_host(uuid)
                LOG.info("[%s] Resizing instance %s from %s to %s", ctxt.request_id, uuid, source, host)
                self.compute.resize_instance(ctxt, source, uuid, host, node)
                return
        raise errors.NoValidHost("No valid host was found. There are not enough hosts available.")

    def _source_host(self, uuid: str) -> str:
        with self.cloud.db.reader() as session:
            host = instances.get_live(session, uuid).host
        if host is None:
            raise errors.Conflict(f"Instance {uuid} has no host to resize from.")
        return host

    @classmethod
    def _undo_move(cls, session: Session, uuid: str) -> None:
        cls._undo_resize_quota(session, uuid)
        migrations.failed(session, uuid)

    @staticmethod
    def _undo_resize_quota(session: Session, uuid: str) -> None:
        meta = instance_extra.system_metadata(session, uuid)
        instance = instances.get_live(session, uuid)
        QuotaEngine().release(session, instance.project_id, meta.get("resize_quota") or {})
        instance_extra.update_system_metadata(
            session, uuid, old_flavor=None, new_flavor=None, vm_state_before=None, resize_quota=None,
            resize_source=None, resize_dest=None,
        )  # fmt: skip

    # --- unshelve ---------------------------------------------------------------------------------
    @rpc_method
    def unshelve_instance(self, ctxt: RequestContext, instance_uuid: str) -> None:
        with self.cloud.db.reader() as session:
            instance = instances.get_live(session, instance_uuid)
        if instance.vm_state == states.SHELVED and instance.host is not None:
            self.compute.unshelve_instance(ctxt, instance.host, instance_uuid)
            return
        try:
            with instance_actions.action_event(
                self.cloud.db, ctxt, instance_uuid, "conductor_unshelve_instance", self.host
            ):
                self._place_offloaded(ctxt, instance_uuid)
        except Exception as exc:
            LOG.warning("[%s] Unshelve of instance %s failed: %s", ctxt.request_id, instance_uuid, exc)
            self._give_up(instance_uuid, states.SCHEDULING, exc)
            self._give_up(instance_uuid, states.UNSHELVING, exc)

    def _place_offloaded(self, ctxt: RequestContext, uuid: str) -> None:
        moved = self.cloud.db.write(functools.partial(
            instances.compare_and_swap, uuid=uuid, expected_task_state=(states.UNSHELVING,),
            expected_vm_state=(states.SHELVED_OFFLOADED,), task_state=states.SCHEDULING,
        ))  # fmt: skip
        if not moved:
            return
        with self.cloud.db.reader() as session:
            instance = instances.get_live(session, uuid)
            wanted = wanted_of(session, uuid, self.cloud.settings.scheduler.pci_aliases)
            # The zone it is pinned to (2.77) and the host an admin named (2.91) bound where it lands.
            destination = instance_extra.system_metadata(session, uuid).get(REQUESTED_DESTINATION_KEY)
            outside = sorted(hosts_outside(session, destination))
        flavor = {"flavorid": instance.flavor_id, "vcpus": instance.vcpus, "memory_mb": instance.memory_mb,
                  "root_gb": instance.root_gb, "ephemeral_gb": instance.ephemeral_gb}  # fmt: skip
        for target in self._candidates(ctxt, flavor, outside, instance.availability_zone):
            host, node = target["host"], target["nodename"]
            if (
                self.cloud.db.write(
                    functools.partial(claims.claim, instance_uuid=uuid, host=host, node=node, wanted=wanted)
                )
                is claims.Outcome.CLAIMED
            ):
                self.compute.unshelve_instance(ctxt, host, uuid)
                return
        raise errors.NoValidHost("No valid host was found. There are not enough hosts available.")


def _excluded_hosts(session: Session, uuid: str) -> list[str]:
    """Hosts a move may not land on: a cold migration leaves its host; a named host excludes all others."""
    move = migrations.in_progress(session, uuid)
    if move is None or move.migration_type != migrations.COLD_MIGRATION:
        return []  # a resize may stay on its host (Nova's allow_resize_to_same_host)
    if move.dest_compute is not None:
        hosts = session.scalars(select(ComputeNode.host).distinct()).all()
        return sorted(host for host in hosts if host != move.dest_compute)
    return [move.source_compute] if move.source_compute else []


class _Gone(Exception):
    """The instance left the state the workflow expected; the transaction is rolled back."""
