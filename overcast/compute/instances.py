"""Instance rows as every compute-side service changes them: compare-and-swap state writes and faults.

Every state change is ``UPDATE instances SET ... WHERE uuid = :uuid AND task_state IN :expected``; a
writer that lost the race gets False back and must not act as if its change happened.
"""

from __future__ import annotations

import base64
import binascii
import logging
import traceback
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, update
from sqlalchemy.orm import Session

from overcast.compute import block_device_mappings, console_tokens, migrations, states
from overcast.db.base import utcnow
from overcast.db.models.block_device_mapping import BlockDeviceMapping
from overcast.db.models.compute import Flavor, Instance, InstanceFault
from overcast.errors import NotFound, OvercastError
from overcast.image.registry import boot_properties
from overcast.quota import QuotaEngine
from overcast.virt.driver import ImageRef, InstanceSpec, PowerState

LOG = logging.getLogger(__name__)

# Nova's instance_fault.message column is 255 characters; longer messages are cut, details keep the rest.
MAX_FAULT_MESSAGE = 255

ExpectedTaskState = Iterable[str | None] | states.Wildcard


def task_state_guard(expected: ExpectedTaskState) -> ColumnElement[bool] | None:
    """The WHERE clause for "task_state is one of `expected`" (None for the ANY wildcard)."""
    if isinstance(expected, states.Wildcard):
        return None
    wanted = list(expected)
    named = [value for value in wanted if value is not None]
    clauses: list[ColumnElement[bool]] = []
    if named:
        clauses.append(Instance.task_state.in_(named))
    if None in wanted:
        clauses.append(Instance.task_state.is_(None))
    return or_(*clauses) if clauses else false()


def compare_and_swap(
    session: Session,
    uuid: str,
    expected_task_state: ExpectedTaskState,
    *,
    expected_vm_state: Iterable[str] | None = None,
    expected_host: str | None = None,
    also: Iterable[ColumnElement[bool]] = (),
    **values: Any,
) -> bool:
    """Apply `values` to the live instance `uuid` only if its task_state (and vm_state, host, and the
    conditions `also`) still match."""
    stmt = update(Instance).where(Instance.uuid == uuid, Instance.deleted.is_(False), *also)
    guard = task_state_guard(expected_task_state)
    if guard is not None:
        stmt = stmt.where(guard)
    if expected_vm_state is not None:
        stmt = stmt.where(Instance.vm_state.in_(list(expected_vm_state)))
    if expected_host is not None:
        stmt = stmt.where(Instance.host == expected_host)
    values.setdefault("updated_at", utcnow())
    result = session.execute(stmt.values(**values).execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0) == 1)


def fault_summary(error: BaseException) -> dict[str, str]:
    """A failure as it travels over RPC (to be recorded as a fault by whoever gives up)."""
    message = error.message if isinstance(error, OvercastError) else f"{type(error).__name__}: {error}"
    return {"message": message, "details": "".join(traceback.format_exception(error)).strip()}


def record_fault(
    session: Session,
    uuid: str,
    error: BaseException | str,
    *,
    code: int = 500,
    host: str | None = None,
    details: str | None = None,
) -> InstanceFault:
    if isinstance(error, BaseException):
        summary = fault_summary(error)
        message = summary["message"]
        if details is None:
            details = summary["details"]
    else:
        message = error
    fault = InstanceFault(
        instance_uuid=uuid, code=code, message=message[:MAX_FAULT_MESSAGE], details=details or "", host=host
    )
    session.add(fault)
    return fault


def set_error(
    session: Session,
    uuid: str,
    error: BaseException | str,
    *,
    expected_task_state: ExpectedTaskState,
    host: str | None = None,
    details: str | None = None,
) -> bool:
    """Move the instance to ERROR (no task) with a fault, unless someone else (a delete) got there first."""
    changed = compare_and_swap(session, uuid, expected_task_state, vm_state=states.ERROR, task_state=None)
    if changed:
        record_fault(session, uuid, error, host=host, details=details)
    return changed


def latest_faults(session: Session, uuids: list[str]) -> dict[str, InstanceFault]:
    """The newest fault of each instance in `uuids` that has one."""
    found: dict[str, InstanceFault] = {}
    if not uuids:
        return found
    query = (
        select(InstanceFault)
        .where(InstanceFault.instance_uuid.in_(uuids))
        .order_by(InstanceFault.instance_uuid, InstanceFault.created_at.desc(), InstanceFault.id.desc())
    )
    for fault in session.scalars(query):
        found.setdefault(fault.instance_uuid, fault)
    return found


def get_live(session: Session, uuid: str, *, fresh: bool = False) -> Instance:
    """The live instance `uuid`; `fresh` re-reads a row this session loaded before (after an UPDATE)."""
    query = select(Instance).where(Instance.uuid == uuid, Instance.deleted.is_(False))
    if fresh:
        query = query.execution_options(populate_existing=True)
    instance = session.scalars(query).first()
    if instance is None:
        raise NotFound(f"Instance {uuid} could not be found.")
    return instance


def quota_deltas(instance: Instance) -> dict[str, int]:
    return {"instances": 1, "cores": instance.vcpus, "ram": instance.memory_mb}


def mark_deleted(session: Session, instance: Instance, quotas: QuotaEngine) -> bool:
    """The last write of a delete: the row disappears from the API and its quota is given back.

    Only an instance whose task_state is DELETING can be finished here, so a delete that raced another
    one (or a build that set it ERROR) releases quota exactly once.
    """
    now = utcnow()
    done = compare_and_swap(
        session, instance.uuid, (states.DELETING,),
        vm_state=states.DELETED, task_state=None, power_state=int(PowerState.NOSTATE),
        terminated_at=now, deleted_at=now, deleted=True, progress=0,
    )  # fmt: skip
    if done:
        quotas.release(session, instance.project_id, quota_deltas(instance))
        migrations.forget(session, instance.uuid)
        console_tokens.forget(session, instance.uuid)  # its console must not outlive it
    return done


def instance_spec(
    session: Session, instance: Instance, *, mappings: Iterable[BlockDeviceMapping] | None = None
) -> InstanceSpec:
    """What the virt driver needs to build `instance` (whose block device `mappings` the caller may have
    read already)."""
    if mappings is None:
        mappings = block_device_mappings.of_instance(session, instance.uuid)
    properties: dict[str, Any] = boot_properties(session, instance.image_ref)
    return InstanceSpec(
        uuid=instance.uuid,
        name=instance.instance_name,
        hostname=instance.hostname,
        vcpus=instance.vcpus,
        memory_mb=instance.memory_mb,
        root_gb=instance.root_gb,
        ephemeral_gb=instance.ephemeral_gb,
        image=ImageRef(id=instance.image_ref, properties=properties),
        user_data=_decoded_user_data(instance.user_data),
        metadata=dict(instance.metadata_items),
        key_data=instance.key_data,
        config_drive=bool(instance.config_drive),
        block_device_info=block_device_mappings.connected_volumes(mappings),
        # The flavor's extra specs the driver honours (quota:disk_* throttle the root disk).
        flavor_extra_specs=dict(
            session.scalar(select(Flavor.extra_specs).where(Flavor.flavorid == instance.flavor_id)) or {}
        ),
    )


def _decoded_user_data(user_data: str | None) -> bytes | None:
    # The API stores user_data as the base64 text the client sent; the driver wants the bytes.
    if not user_data:
        return None
    try:
        return base64.b64decode(user_data, validate=True)
    except (binascii.Error, ValueError):
        return user_data.encode()
