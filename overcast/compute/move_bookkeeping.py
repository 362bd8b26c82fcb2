"""The database side of settling a cold move (resize or migration) once it is confirmed or reverted.

The compute host that confirms or reverts a move runs these in the transaction of its final
compare-and-swap; the API runs the confirm alone when a server awaiting confirmation is deleted while
its source host is down (nobody can drop the set-aside disks, but the claim and quota still go back).
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy.orm import Session

from overcast.compute import instance_extra, instances, migrations, states
from overcast.db.models.compute import Instance
from overcast.placement.claims import Resources, release
from overcast.quota import QuotaEngine

# What a move keeps in the instance's system metadata until it is settled.
RESIZE_KEYS: Final = (
    "old_flavor", "new_flavor", "vm_state_before", "resize_quota", "resize_source", "resize_dest",
    "resize_migration_data",
)  # fmt: skip


def held(flavor: dict[str, Any], side: dict[str, Any]) -> Resources:
    """What one side of a move holds: its flavor's sizes and the devices recorded for that side."""
    return Resources.of_flavor(flavor, side.get("devices"))


def confirmed(session: Session, quotas: QuotaEngine, instance: Instance, meta: dict[str, Any]) -> None:
    """The source's claim and the quota of the larger flavor go back; the move is over."""
    source = meta["resize_source"]
    release(session, source["host"], source["node"], held(meta["old_flavor"], source))
    old, new = meta["old_flavor"], meta["new_flavor"]
    shrink = {
        "cores": max(0, old["vcpus"] - new["vcpus"]),
        "ram": max(0, old["memory_mb"] - new["memory_mb"]),
    }
    quotas.release(session, instance.project_id, shrink)
    instance_extra.update_system_metadata(session, instance.uuid, **dict.fromkeys(RESIZE_KEYS))
    migrations.advance(session, instance.uuid, (migrations.CONFIRMING,), migrations.CONFIRMED)


def reverted(session: Session, quotas: QuotaEngine, instance: Instance, meta: dict[str, Any]) -> None:
    """The quota the move took goes back (the destination's claim was released when it dropped the VM)."""
    quotas.release(session, instance.project_id, meta.get("resize_quota") or {})
    instance_extra.update_system_metadata(session, instance.uuid, **dict.fromkeys(RESIZE_KEYS))
    migrations.advance(session, instance.uuid, (migrations.REVERTING,), migrations.REVERTED)


def confirm_without_source(session: Session, quotas: QuotaEngine, uuid: str, done_vm_state: str) -> bool:
    """Confirm in the database alone (the source host is down); False if the confirm already ended."""
    meta = instance_extra.system_metadata(session, uuid)
    if not meta.get("resize_source") or not instances.compare_and_swap(
        session, uuid, (states.RESIZE_CONFIRMING,), vm_state=done_vm_state, task_state=None
    ):
        return False
    confirmed(session, quotas, instances.get_live(session, uuid), meta)
    return True
