"""Per-project default volume types (3.62) through VolumeAPI on a real database: who may set, show, list
and unset them, Cinder's answers for unknown projects and types, and a create without a type getting the
project's default before the cloud's."""

from __future__ import annotations

from pathlib import Path

import pytest

from overcast.db import Database
from overcast.db.models.identity import Domain, Project
from overcast.errors import BadRequest, Forbidden, NotFound
from overcast.volume.api.service import VolumeAPI
from tests.unit.volume.volume_api_support import (
    ADMIN,
    ALICE,
    BOB,
    RecordingHosts,
    register_volume_host,
    volume_api,
)


@pytest.fixture
def api(db: Database, tmp_path: Path) -> VolumeAPI:
    register_volume_host(db)
    with db.writer() as session:
        session.add(Domain(id="default", name="Default"))
        session.flush()
        for project in ("project-a", "project-b"):
            session.add(Project(id=project, name=project, domain_id="default"))
    return volume_api(db, tmp_path, RecordingHosts())


def test_a_create_without_a_type_gets_the_projects_default_before_the_clouds(api: VolumeAPI) -> None:
    gold = api.types.create(ADMIN, {"name": "gold"})
    cloud_default = api.types.get(ALICE, "default")["name"]

    assert api.default_types.set(ADMIN, "project-a", {"volume_type": "gold"}) == {
        "project_id": "project-a",
        "volume_type_id": gold["id"],
    }

    assert api.create(ALICE, 1)["volume_type"] == "gold"
    assert api.types.get(ALICE, "default")["id"] == gold["id"]
    # Another project keeps the cloud's default.
    assert api.create(BOB, 1)["volume_type"] == cloud_default
    assert api.types.get(BOB, "default")["name"] == cloud_default
    # Naming a type still wins.
    assert api.create(ALICE, 1, volume_type=cloud_default)["volume_type"] == cloud_default

    api.default_types.unset(ADMIN, "project-a")
    assert api.create(ALICE, 1)["volume_type"] == cloud_default


def test_set_replaces_and_takes_a_name_or_an_id(api: VolumeAPI) -> None:
    gold = api.types.create(ADMIN, {"name": "gold"})
    silver = api.types.create(ADMIN, {"name": "silver", "os-volume-type-access:is_public": False})
    api.default_types.set(ADMIN, "project-a", {"volume_type": gold["id"]})
    api.default_types.set(ADMIN, "project-a", {"volume_type": "silver"})
    api.default_types.set(ADMIN, "project-b", {"volume_type": "gold"})

    assert api.default_types.get(ADMIN, "project-a")["volume_type_id"] == silver["id"]
    assert api.default_types.list_all(ADMIN) == [
        {"project_id": "project-a", "volume_type_id": silver["id"]},
        {"project_id": "project-b", "volume_type_id": gold["id"]},
    ]


def test_unknown_projects_types_and_bodies(api: VolumeAPI) -> None:
    with pytest.raises(NotFound, match="Project with id nowhere not found"):
        api.default_types.set(ADMIN, "nowhere", {"volume_type": "__DEFAULT__"})
    with pytest.raises(NotFound, match="Project with id nowhere not found"):
        api.default_types.get(ADMIN, "nowhere")
    with pytest.raises(BadRequest, match="could not be found"):
        api.default_types.set(ADMIN, "project-a", {"volume_type": "no-such-type"})
    for body in ({}, {"volume_type": ""}, {"volume_type": 7}, {"volume_type": "gold", "extra": 1}):
        with pytest.raises(BadRequest):
            api.default_types.set(ADMIN, "project-a", body)
    with pytest.raises(NotFound, match="Default type for project project-a not found"):
        api.default_types.get(ADMIN, "project-a")
    # Unsetting what is not set is no error, as in Cinder.
    api.default_types.unset(ADMIN, "project-a")


def test_admins_manage_and_a_project_shows_only_its_own(api: VolumeAPI) -> None:
    api.default_types.set(ADMIN, "project-a", {"volume_type": "__DEFAULT__"})
    api.default_types.set(ADMIN, "project-b", {"volume_type": "__DEFAULT__"})

    assert api.default_types.get(ALICE, "project-a")["project_id"] == "project-a"
    with pytest.raises(Forbidden):
        api.default_types.get(ALICE, "project-b")
    with pytest.raises(Forbidden):
        api.default_types.list_all(ALICE)
    with pytest.raises(Forbidden):
        api.default_types.set(ALICE, "project-a", {"volume_type": "__DEFAULT__"})
    with pytest.raises(Forbidden):
        api.default_types.unset(ALICE, "project-a")


def test_a_projects_default_type_cannot_be_deleted(api: VolumeAPI) -> None:
    gold = api.types.create(ADMIN, {"name": "gold"})
    api.default_types.set(ADMIN, "project-a", {"volume_type": "gold"})
    with pytest.raises(BadRequest, match="is a default volume type"):
        api.types.delete(ADMIN, gold["id"])
    api.default_types.unset(ADMIN, "project-a")
    api.types.delete(ADMIN, gold["id"])
