"""Metadata definitions (image/metadefs.py) and their body checks (image/metadef_schemas.py)."""

from __future__ import annotations

import pytest

from overcast import errors
from overcast.db import Database
from overcast.db.models.image_catalog import MetadefObject, MetadefProperty, MetadefTag
from overcast.image import metadef_schemas
from overcast.image.metadefs import MetadefAPI
from tests.unit.image.test_api import ADMIN, ALICE


@pytest.fixture
def metadefs(db: Database) -> MetadefAPI:
    return MetadefAPI(db)


def test_namespaces_are_seen_by_admins_their_owner_and_when_public_everyone(metadefs: MetadefAPI) -> None:
    metadefs.create_namespace(ADMIN, {"namespace": "secret"})
    metadefs.create_namespace(ADMIN, {"namespace": "alices", "owner": "p-alice"})
    metadefs.create_namespace(ADMIN, {"namespace": "open", "visibility": "public", "description": "d"})
    assert {ns["namespace"] for ns in metadefs.list_namespaces(ALICE)} == {"alices", "open"}
    assert [ns["namespace"] for ns in metadefs.list_namespaces(ALICE, visibility="public")] == ["open"]
    with pytest.raises(errors.NotFound):
        metadefs.get_namespace(ALICE, "secret")
    # Writes are admins' even on one's own namespace (Glance's defaults).
    with pytest.raises(errors.Forbidden):
        metadefs.update_namespace(ALICE, "alices", {"description": "mine"})
    with pytest.raises(errors.Forbidden):
        metadefs.create_namespace(ALICE, {"namespace": "new"})
    with pytest.raises(errors.Conflict):
        metadefs.create_namespace(ADMIN, {"namespace": "open"})


def test_a_namespace_is_made_with_what_it_nests_and_renamed(metadefs: MetadefAPI) -> None:
    metadefs.create_namespace(ADMIN, {
        "namespace": "OS::Compute::Watchdog", "display_name": "Watchdog", "visibility": "public",
        "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "hw_"}],
        "properties": {"watchdog_action": {"title": "Action", "type": "string", "enum": ["reset", "none"]}},
        "objects": [{"name": "timer", "properties": {"seconds": {"title": "Seconds", "type": "integer"}}}],
        "tags": [{"name": "watchdog"}],
    })  # fmt: skip
    shown = metadefs.get_namespace(ALICE, "OS::Compute::Watchdog")
    assert shown["properties"] == {
        "watchdog_action": {"title": "Action", "type": "string", "enum": ["reset", "none"]}
    }
    assert [(obj["name"], obj["required"]) for obj in shown["objects"]] == [("timer", [])]
    assert [tag["name"] for tag in shown["tags"]] == ["watchdog"]
    assert [(a["name"], a["prefix"]) for a in shown["resource_type_associations"]] == [
        ("OS::Glance::Image", "hw_")
    ]
    assert [rt["name"] for rt in metadefs.list_resource_types(ALICE)] == ["OS::Glance::Image"]
    as_image = metadefs.get_namespace(ALICE, "OS::Compute::Watchdog", resource_type="OS::Glance::Image")
    assert list(as_image["properties"]) == ["hw_watchdog_action"]
    assert [
        ns["namespace"] for ns in metadefs.list_namespaces(ALICE, resource_types=["OS::Nova::Flavor"])
    ] == []
    metadefs.update_namespace(ADMIN, "OS::Compute::Watchdog", {"namespace": "OS::Compute::Dog"})
    assert metadefs.get_namespace(ALICE, "OS::Compute::Dog")["display_name"] == "Watchdog"
    with pytest.raises(errors.Conflict):
        metadefs.associate(ADMIN, "OS::Compute::Dog", {"name": "OS::Glance::Image"})
    metadefs.delete_namespace(ADMIN, "OS::Compute::Dog")
    with pytest.raises(errors.NotFound):
        metadefs.list_in(ADMIN, MetadefObject, "OS::Compute::Dog")


def test_objects_properties_and_tags_by_name(metadefs: MetadefAPI) -> None:
    metadefs.create_namespace(ADMIN, {"namespace": "ns"})
    metadefs.create_in(ADMIN, MetadefProperty, "ns", {"name": "p", "title": "P", "type": "boolean"})
    with pytest.raises(errors.Conflict):
        metadefs.create_in(ADMIN, MetadefProperty, "ns", {"name": "p", "title": "P", "type": "boolean"})
    metadefs.create_in(ADMIN, MetadefProperty, "ns", {"name": "q", "title": "Q", "type": "string"})
    with pytest.raises(errors.Conflict):
        metadefs.update_in(ADMIN, MetadefProperty, "ns", "q", {"name": "p", "title": "Q", "type": "string"})
    metadefs.update_in(ADMIN, MetadefProperty, "ns", "q", {"name": "r", "title": "R", "type": "string"})
    assert [p["name"] for p in metadefs.list_in(ADMIN, MetadefProperty, "ns")] == ["p", "r"]
    with pytest.raises(errors.NotFound):
        metadefs.get_in(ADMIN, MetadefProperty, "ns", "q")
    metadefs.replace_tags(ADMIN, "ns", {"tags": [{"name": "a"}, {"name": "b"}]}, append=False)
    with pytest.raises(errors.Conflict):
        metadefs.replace_tags(ADMIN, "ns", {"tags": [{"name": "b"}]}, append=True)
    with pytest.raises(errors.Conflict):
        metadefs.replace_tags(ADMIN, "ns", {"tags": [{"name": "c"}, {"name": "c"}]}, append=False)
    metadefs.update_in(ADMIN, MetadefTag, "ns", "a", {"name": "z"})
    assert sorted(t["name"] for t in metadefs.list_in(ADMIN, MetadefTag, "ns")) == ["b", "z"]
    for empty in ({"namespace": ""}, {"display_name": 7}):
        with pytest.raises(errors.BadRequest):
            metadefs.update_namespace(ADMIN, "ns", empty)
    with pytest.raises(errors.BadRequest):
        metadefs.update_in(ADMIN, MetadefTag, "ns", "b", {"name": ""})
    metadefs.update_namespace(ADMIN, "ns", {"protected": True})
    for attempt in (lambda: metadefs.delete_in(ADMIN, MetadefTag, "ns"),
                    lambda: metadefs.delete_in(ADMIN, MetadefProperty, "ns", "p"),
                    lambda: metadefs.delete_namespace(ADMIN, "ns")):  # fmt: skip
        with pytest.raises(errors.Forbidden):
            attempt()
    metadefs.update_namespace(ADMIN, "ns", {"protected": False})
    metadefs.delete_in(ADMIN, MetadefTag, "ns")
    assert metadefs.list_in(ADMIN, MetadefTag, "ns") == []


@pytest.mark.parametrize(
    "body",
    [
        {"namespace": "x", "unknown": 1},
        {"namespace": "x" * 81},
        {"namespace": "x", "visibility": "shared"},
        {"namespace": "x", "protected": "yes"},
        {"display_name": "no namespace"},
        {"namespace": "x", "properties": {"p": {"title": "no type"}}},
        {"namespace": "x", "properties": {"p": "not a definition"}},
        {"namespace": "x", "objects": [{"description": "no name"}]},
        {"namespace": "x", "tags": [{"name": "t" * 256}]},
        ["not", "an", "object"],
    ],
)
def test_bodies_glances_schemas_refuse(metadefs: MetadefAPI, body: object) -> None:
    with pytest.raises(errors.BadRequest):
        metadefs.create_namespace(ADMIN, body)


def test_the_schema_documents_list_what_is_accepted() -> None:
    documents = metadef_schemas.documents()
    assert set(documents) == {"namespace", "namespaces", "object", "objects", "property", "properties", "tag",
                              "tags", "resource_type", "resource_types"}  # fmt: skip
    assert documents["property"]["required"] == ["name", "title", "type"]
    assert documents["namespace"]["properties"]["visibility"]["enum"] == ["public", "private"]
