"""disableApiTermination as AWS has it: it refuses TerminateInstances (`OperationNotPermitted`) and
nothing else. It is compute's termination protection (`instance_extra.DISABLE_TERMINATE`, Nova's
disable_terminate), which the OpenStack API's DELETE honours too (409), so both APIs tell the truth about
it; a member can still stop, reboot or resize a protected instance, as on AWS."""

from __future__ import annotations

from overcast.compute import instance_extra
from overcast.ec2.backends import Backends
from overcast.ec2.errors import Ec2Error


def is_protected(backends: Backends, uuid: str) -> bool:
    with backends.db.reader() as session:
        return bool(instance_extra.system_metadata(session, uuid).get(instance_extra.DISABLE_TERMINATE))


def protect(backends: Backends, uuid: str, protected: bool) -> None:
    """Turns the protection on or off (the caller has checked the policy and that `uuid` is visible)."""
    value = True if protected else None
    backends.db.write(lambda session: instance_extra.update_system_metadata(
        session, uuid, **{instance_extra.DISABLE_TERMINATE: value}
    ))  # fmt: skip


def refused(ec2_id: str) -> Ec2Error:
    return Ec2Error(
        "OperationNotPermitted",
        f"The instance '{ec2_id}' may not be terminated. Modify its 'disableApiTermination' instance "
        "attribute and try again.",
    )
