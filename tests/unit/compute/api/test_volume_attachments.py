"""Which servers may have volumes attached or detached, on a real (SQLite) database: from 2.20 shelved
and shelved-offloaded ones too, unless a task is under way."""

from __future__ import annotations

import pytest

from overcast import errors
from overcast.compute import states
from overcast.compute.api.volume_attachments import _actionable
from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.compute import Instance

ALICE = RequestContext(user_id="alice", project_id="p1", roles=("member",))


def add_instance(db: Database, vm_state: str, host: str | None, task_state: str | None = None) -> str:
    with db.writer() as session:
        instance = Instance(
            display_name="vm", project_id="p1", user_id="alice", flavor_id="1", vcpus=1, memory_mb=512,
            root_gb=1, vm_state=vm_state, task_state=task_state, host=host,
        )  # fmt: skip
        session.add(instance)
        session.flush()
        return str(instance.uuid)


@pytest.mark.parametrize("action", ["attach_volume", "detach_volume"])
@pytest.mark.parametrize(("vm_state", "host"), [(states.SHELVED, "c1"), (states.SHELVED_OFFLOADED, None)])
def test_a_shelved_server_takes_volume_changes_only_from_2_20(
    db: Database, action: str, vm_state: str, host: str | None
) -> None:
    uuid = add_instance(db, vm_state, host)
    with db.reader() as session:
        with pytest.raises(errors.Conflict, match=f"in vm_state {vm_state}"):
            _actionable(session, ALICE, uuid, action)
        assert _actionable(session, ALICE, uuid, action, shelved=True).host == host


def test_a_shelved_server_mid_task_refuses_them(db: Database) -> None:
    uuid = add_instance(db, states.SHELVED_OFFLOADED, None, task_state=states.UNSHELVING)
    with db.reader() as session, pytest.raises(errors.Conflict, match="task_state unshelving"):
        _actionable(session, ALICE, uuid, "attach_volume", shelved=True)


def test_other_states_keep_their_rules_at_2_20(db: Database) -> None:
    uuid = add_instance(db, states.ERROR, "c1")
    with db.reader() as session, pytest.raises(errors.Conflict):
        _actionable(session, ALICE, uuid, "attach_volume", shelved=True)
    running = add_instance(db, states.ACTIVE, "c1")
    with db.reader() as session:
        assert _actionable(session, ALICE, running, "detach_volume", shelved=True).uuid == running
