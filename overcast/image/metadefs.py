"""Metadata definitions (Glance's metadefs): namespaces of objects, properties and tags that describe the
properties one may set on images and other resources, associated with resource types.

Bodies are checked against Glance's schemas (`metadef_schemas.py`: unknown fields and wrong types are
400s). A namespace is seen by admins, its owner and, when public, everyone; one not seen is a 404, as in
Glance. Writes are admins' (Glance's defaults). A protected namespace cannot be deleted, nor anything in
it (403) until an update unprotects it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overcast import errors, policy
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.image_catalog import (
    MetadefNamespace,
    MetadefNamespaceResourceType,
    MetadefObject,
    MetadefProperty,
    MetadefResourceType,
    MetadefTag,
)
from overcast.image import metadef_schemas as schemas
from overcast.image import policies

T = TypeVar("T")
Row = MetadefObject | MetadefProperty | MetadefTag


def _timestamps(row: Any) -> dict[str, Any]:
    return {"created_at": row.created_at, "updated_at": row.updated_at}


class MetadefAPI:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _write(self, work: Callable[[Session], T], conflict: str) -> T:
        try:
            return self.db.write(work)
        except IntegrityError:
            # Two writers raced to one name: the unique key let one of them in.
            raise errors.Conflict(conflict) from None

    # --- namespaces -------------------------------------------------------------------------------
    @staticmethod
    def _visible(
        session: Session, ctxt: RequestContext, name: str, *, for_update: bool = False
    ) -> MetadefNamespace:
        stmt = select(MetadefNamespace).where(MetadefNamespace.namespace == name)
        if for_update:
            stmt = stmt.with_for_update()
        row = session.scalars(stmt).first()
        if row is None or not (ctxt.is_admin or row.visibility == "public" or row.owner == ctxt.project_id):
            raise errors.NotFound(f"Metadata definition namespace={name} was not found.")
        return row

    def _writable(self, session: Session, ctxt: RequestContext, name: str, rule: str) -> MetadefNamespace:
        row = self._visible(session, ctxt, name, for_update=True)
        policy.enforce(ctxt, rule, {"project_id": row.owner})
        return row

    def list_namespaces(
        self, ctxt: RequestContext, visibility: str | None = None, resource_types: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        policy.enforce(ctxt, policies.GET_METADEF_NAMESPACES)
        wanted = set(resource_types)
        with self.db.reader() as session:
            stmt = select(MetadefNamespace).order_by(MetadefNamespace.created_at, MetadefNamespace.id)
            if visibility is not None:
                stmt = stmt.where(MetadefNamespace.visibility == visibility)
            found = []
            for row in session.scalars(stmt):
                if not (ctxt.is_admin or row.visibility == "public" or row.owner == ctxt.project_id):
                    continue
                associations = self._associations(session, row)
                names = [association["name"] for association in associations]
                if wanted and not wanted.intersection(names):
                    continue
                found.append({**self._namespace(row), "resource_type_associations": names} if names
                             else self._namespace(row))  # fmt: skip
            return found

    def get_namespace(
        self, ctxt: RequestContext, name: str, resource_type: str | None = None
    ) -> dict[str, Any]:
        """The namespace with what it holds; with `resource_type`, its properties named with the prefix they
        take on that resource type (Glance's ?resource_type=)."""
        policy.enforce(ctxt, policies.GET_METADEF_NAMESPACE)
        with self.db.reader() as session:
            row = self._visible(session, ctxt, name)
            body = self._namespace(row)
            associations = self._associations(session, row)
            prefix = next((a.get("prefix") or "" for a in associations if a["name"] == resource_type), "")
            properties = {
                prefix + prop.name: dict(prop.body) for prop in self._rows(session, MetadefProperty, row)
            }
            objects = [self._object(obj) for obj in self._rows(session, MetadefObject, row)]
            tags = [{"name": tag.name} for tag in self._rows(session, MetadefTag, row)]
            for key, value in (("resource_type_associations", associations), ("properties", properties),
                               ("objects", objects), ("tags", tags)):  # fmt: skip
                if value:
                    body[key] = value
            return body

    def create_namespace(self, ctxt: RequestContext, body: Any) -> dict[str, Any]:
        fields = schemas.namespace(body, creating=True)
        owner = fields.pop("owner", None) or ctxt.project_id or ""
        policy.enforce(ctxt, policies.ADD_METADEF_NAMESPACE, {"project_id": owner})
        nested = {key: fields.pop(key) for key in schemas.NAMESPACE_CONTENTS if key in fields}
        name = fields["namespace"]

        def write(session: Session) -> None:
            if session.scalars(select(MetadefNamespace.id).where(MetadefNamespace.namespace == name)).first():
                raise errors.Conflict(f"Metadata definition namespace={name} already exists.")
            row = MetadefNamespace(owner=owner, **fields)
            session.add(row)
            session.flush()
            for prop_name, prop in (nested.get("properties") or {}).items():
                session.add(MetadefProperty(namespace_id=row.id, name=prop_name, body=prop))
            for obj in nested.get("objects") or ():
                session.add(MetadefObject(namespace_id=row.id, name=obj.pop("name"), body=obj))
            for tag in dict.fromkeys(nested.get("tags") or ()):
                session.add(MetadefTag(namespace_id=row.id, name=tag))
            for association in nested.get("resource_type_associations") or ():
                self._associate(session, row, association)

        self._write(write, f"Metadata definition namespace={name} already exists.")
        return self.get_namespace(ctxt, name)

    def update_namespace(self, ctxt: RequestContext, name: str, body: Any) -> dict[str, Any]:
        fields = schemas.namespace(body, creating=False)
        for key in schemas.NAMESPACE_CONTENTS:
            fields.pop(key, None)
        new_name = fields.get("namespace", name)

        def write(session: Session) -> None:
            row = self._writable(session, ctxt, name, policies.MODIFY_METADEF_NAMESPACE)
            if (
                new_name != name
                and session.scalars(
                    select(MetadefNamespace.id).where(MetadefNamespace.namespace == new_name)
                ).first()
            ):
                raise errors.Conflict(f"Metadata definition namespace={new_name} already exists.")
            for key, value in fields.items():
                setattr(row, key, value)
            row.updated_at = utcnow()

        self._write(write, f"Metadata definition namespace={new_name} already exists.")
        with self.db.reader() as session:
            return self._namespace(self._visible(session, ctxt, new_name))

    def delete_namespace(self, ctxt: RequestContext, name: str) -> None:
        def write(session: Session) -> None:
            row = self._writable(session, ctxt, name, policies.DELETE_METADEF_NAMESPACE)
            if row.protected:
                raise errors.Forbidden(
                    f"Metadata definition namespace {name} is protected and cannot be deleted."
                )
            for model in (MetadefObject, MetadefProperty, MetadefTag, MetadefNamespaceResourceType):
                session.execute(delete(model).where(model.namespace_id == row.id))
            session.delete(row)

        self.db.write(write)

    # --- objects, properties, tags: one row per name in a namespace -------------------------------
    @staticmethod
    def _rows(session: Session, model: type[Row], namespace: MetadefNamespace) -> list[Any]:
        stmt = select(model).where(model.namespace_id == namespace.id).order_by(model.created_at, model.id)
        return list(session.scalars(stmt))

    @staticmethod
    def _row(session: Session, model: type[Row], namespace: MetadefNamespace, name: str) -> Any:
        row = session.scalars(
            select(model).where(model.namespace_id == namespace.id, model.name == name)
        ).first()
        if row is None:
            kind = {MetadefObject: "object", MetadefProperty: "property", MetadefTag: "tag"}[model]
            raise errors.NotFound(
                f"Metadata definition {kind} not found for namespace={namespace.namespace} and {kind}={name}."
            )
        return row

    def list_in(self, ctxt: RequestContext, model: type[Row], name: str) -> list[dict[str, Any]]:
        policy.enforce(ctxt, policies.READ_RULES[model.__tablename__][0])
        with self.db.reader() as session:
            namespace = self._visible(session, ctxt, name)
            return [self._view(row) for row in self._rows(session, model, namespace)]

    def get_in(self, ctxt: RequestContext, model: type[Row], name: str, item: str) -> dict[str, Any]:
        policy.enforce(ctxt, policies.READ_RULES[model.__tablename__][1])
        with self.db.reader() as session:
            namespace = self._visible(session, ctxt, name)
            return self._view(self._row(session, model, namespace, item))

    def create_in(self, ctxt: RequestContext, model: type[Row], name: str, body: Any) -> dict[str, Any]:
        item, fields = self._checked(model, body)
        conflict = f"A metadata definition {item} already exists in namespace {name}."

        def write(session: Session) -> dict[str, Any]:
            namespace = self._writable(session, ctxt, name, policies.WRITE_RULES[model.__tablename__][0])
            if session.scalars(
                select(model.id).where(model.namespace_id == namespace.id, model.name == item)
            ).first():
                raise errors.Conflict(conflict)
            row: Any = model(namespace_id=namespace.id, name=item)
            if fields is not None:
                row.body = fields
            session.add(row)
            session.flush()
            return self._view(row)

        return self._write(write, conflict)

    def update_in(
        self, ctxt: RequestContext, model: type[Row], name: str, item: str, body: Any
    ) -> dict[str, Any]:
        new_name, fields = self._checked(model, body)
        conflict = f"A metadata definition {new_name} already exists in namespace {name}."

        def write(session: Session) -> dict[str, Any]:
            namespace = self._writable(session, ctxt, name, policies.WRITE_RULES[model.__tablename__][1])
            row = self._row(session, model, namespace, item)
            if (
                new_name != item
                and session.scalars(
                    select(model.id).where(model.namespace_id == namespace.id, model.name == new_name)
                ).first()
            ):
                raise errors.Conflict(conflict)
            row.name = new_name
            if fields is not None:
                row.body = fields
            row.updated_at = utcnow()
            session.flush()
            return self._view(row)

        return self._write(write, conflict)

    def delete_in(self, ctxt: RequestContext, model: type[Row], name: str, item: str | None = None) -> None:
        """Delete one object, property or tag of the namespace, or (item None) all of them."""

        def write(session: Session) -> None:
            namespace = self._writable(session, ctxt, name, policies.WRITE_RULES[model.__tablename__][2])
            if namespace.protected:
                raise errors.Forbidden(
                    f"Metadata definition namespace {name} is protected: what it holds cannot be deleted."
                )
            if item is None:
                session.execute(delete(model).where(model.namespace_id == namespace.id))
            else:
                session.delete(self._row(session, model, namespace, item))

        self.db.write(write)

    def replace_tags(self, ctxt: RequestContext, name: str, body: Any, append: bool) -> list[dict[str, Any]]:
        tags = schemas.tag_list(body)

        def write(session: Session) -> list[dict[str, Any]]:
            namespace = self._writable(session, ctxt, name, policies.ADD_METADEF_TAGS)
            existing = {row.name: row for row in self._rows(session, MetadefTag, namespace)}
            if not append:
                for row in existing.values():
                    session.delete(row)
                session.flush()
                existing = {}
            added = []
            for tag in tags:
                if tag in existing:
                    raise errors.Conflict(
                        f"A metadata tag with name={tag} already exists in namespace={name}."
                    )
                row = MetadefTag(namespace_id=namespace.id, name=tag)
                session.add(row)
                added.append(row)
            session.flush()
            return [self._view(row) for row in added]

        return self._write(write, f"A metadata tag already exists in namespace={name}.")

    @staticmethod
    def _checked(model: type[Row], body: Any) -> tuple[str, dict[str, Any] | None]:
        if model is MetadefObject:
            fields = schemas.metadef_object(body)
            return fields.pop("name"), fields
        if model is MetadefProperty:
            fields = schemas.metadef_property(body)
            return fields.pop("name"), fields
        return schemas.tag(body), None

    # --- resource types ---------------------------------------------------------------------------
    def list_resource_types(self, ctxt: RequestContext) -> list[dict[str, Any]]:
        policy.enforce(ctxt, policies.LIST_METADEF_RESOURCE_TYPES)
        with self.db.reader() as session:
            rows = session.scalars(select(MetadefResourceType).order_by(MetadefResourceType.name))
            return [{"name": row.name, **_timestamps(row)} for row in rows]

    def list_associations(self, ctxt: RequestContext, name: str) -> list[dict[str, Any]]:
        policy.enforce(ctxt, policies.GET_METADEF_RESOURCE_TYPE)
        with self.db.reader() as session:
            return self._associations(session, self._visible(session, ctxt, name))

    def associate(self, ctxt: RequestContext, name: str, body: Any) -> dict[str, Any]:
        association = schemas.resource_type_association(body)
        conflict = f"The resource type {association['name']} is already associated with namespace {name}."

        def write(session: Session) -> dict[str, Any]:
            namespace = self._writable(session, ctxt, name, policies.ADD_METADEF_RESOURCE_TYPE)
            return self._associate(session, namespace, association)

        return self._write(write, conflict)

    def dissociate(self, ctxt: RequestContext, name: str, resource_type: str) -> None:
        def write(session: Session) -> None:
            namespace = self._writable(session, ctxt, name, policies.REMOVE_METADEF_RESOURCE_TYPE)
            if namespace.protected:
                raise errors.Forbidden(
                    f"Metadata definition namespace {name} is protected: its associations cannot be deleted."
                )
            association = MetadefNamespaceResourceType
            row = session.scalars(
                select(association)
                .join(MetadefResourceType, MetadefResourceType.id == association.resource_type_id)
                .where(association.namespace_id == namespace.id, MetadefResourceType.name == resource_type)
            ).first()
            if row is None:
                raise errors.NotFound(
                    f"Metadata definition resource-type-association resource-type={resource_type} not found "
                    f"for namespace={name}."
                )
            session.delete(row)

        self.db.write(write)

    def _associate(
        self, session: Session, namespace: MetadefNamespace, association: dict[str, Any]
    ) -> dict[str, Any]:
        type_name = association["name"]
        resource_type = session.scalars(
            select(MetadefResourceType).where(MetadefResourceType.name == type_name)
        ).first()
        if resource_type is None:
            resource_type = MetadefResourceType(name=type_name)
            session.add(resource_type)
            session.flush()
        if session.get(MetadefNamespaceResourceType, (resource_type.id, namespace.id)) is not None:
            raise errors.Conflict(
                f"The resource type {type_name} is already associated with namespace {namespace.namespace}."
            )
        row = MetadefNamespaceResourceType(
            resource_type_id=resource_type.id, namespace_id=namespace.id,
            prefix=association.get("prefix"), properties_target=association.get("properties_target"),
        )  # fmt: skip
        session.add(row)
        session.flush()
        return self._association(type_name, row)

    def _associations(self, session: Session, namespace: MetadefNamespace) -> list[dict[str, Any]]:
        rows = session.execute(
            select(MetadefResourceType.name, MetadefNamespaceResourceType)
            .join(
                MetadefResourceType, MetadefResourceType.id == MetadefNamespaceResourceType.resource_type_id
            )
            .where(MetadefNamespaceResourceType.namespace_id == namespace.id)
            .order_by(MetadefResourceType.name)
        )
        return [self._association(type_name, row) for type_name, row in rows]

    # --- views ------------------------------------------------------------------------------------
    @staticmethod
    def _association(type_name: str, row: MetadefNamespaceResourceType) -> dict[str, Any]:
        body: dict[str, Any] = {"name": type_name}
        if row.prefix is not None:
            body["prefix"] = row.prefix
        if row.properties_target is not None:
            body["properties_target"] = row.properties_target
        return {**body, **_timestamps(row)}

    @staticmethod
    def _namespace(row: MetadefNamespace) -> dict[str, Any]:
        body: dict[str, Any] = {
            "namespace": row.namespace, "visibility": row.visibility, "protected": row.protected,
            "owner": row.owner, **_timestamps(row),
        }  # fmt: skip
        for key in ("display_name", "description"):
            if getattr(row, key) is not None:
                body[key] = getattr(row, key)
        return body

    @staticmethod
    def _object(row: MetadefObject) -> dict[str, Any]:
        return {"name": row.name, **row.body, **_timestamps(row)}

    @staticmethod
    def _property(row: MetadefProperty) -> dict[str, Any]:
        return {"name": row.name, **row.body}

    def _view(self, row: Row) -> dict[str, Any]:
        if isinstance(row, MetadefObject):
            return self._object(row)
        if isinstance(row, MetadefProperty):
            return self._property(row)
        return {"name": row.name, **_timestamps(row)}
