"""The image service's tasks and metadata definitions (Glance's `tasks` and `metadef_*` tables).

A task records an asynchronous image operation (an import) for its owner to follow. Metadata definitions
are a catalog of the properties one may set on images, flavors, volumes and the like: namespaces holding
objects, properties and tags, associated with resource types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin
from overcast.db.types import UTCDateTime

NAMESPACE_ID = "image_metadef_namespaces.id"
RESOURCE_TYPE_ID = "image_metadef_resource_types.id"


class ImageTask(Base, TimestampMixin):
    __tablename__ = "image_tasks"
    __table_args__ = (Index("ix_image_tasks_owner_deleted", "owner", "deleted"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(30), nullable=False)
    status: Mapped[str] = mapped_column(String(30), nullable=False)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    image_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    input: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    message: Mapped[str] = mapped_column(Text, nullable=False, default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class MetadefNamespace(Base, TimestampMixin):
    __tablename__ = "image_metadef_namespaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    display_name: Mapped[str | None] = mapped_column(String(80), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    visibility: Mapped[str] = mapped_column(String(32), nullable=False, default="private")
    protected: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    owner: Mapped[str] = mapped_column(String(64), nullable=False)


class MetadefObject(Base, TimestampMixin):
    __tablename__ = "image_metadef_objects"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(
        ForeignKey("image_metadef_namespaces.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    # description, required and properties, as the API shows them.
    body: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


class MetadefProperty(Base, TimestampMixin):
    __tablename__ = "image_metadef_properties"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Named here: the naming convention's name is longer than PostgreSQL's 63 characters.
    namespace_id: Mapped[int] = mapped_column(
        ForeignKey(NAMESPACE_ID, ondelete="CASCADE", name="fk_image_metadef_properties_namespace"),
        nullable=False,
    )
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    # The property's JSON schema (title, type, enum, default, ...), as the API shows it.
    body: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


class MetadefTag(Base, TimestampMixin):
    __tablename__ = "image_metadef_tags"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(
        ForeignKey("image_metadef_namespaces.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(255), nullable=False)


class MetadefResourceType(Base, TimestampMixin):
    __tablename__ = "image_metadef_resource_types"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    protected: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class MetadefNamespaceResourceType(Base, TimestampMixin):
    """A namespace's properties apply to a resource type (with a prefix, to a part of it)."""

    __tablename__ = "image_metadef_namespace_resource_types"
    __table_args__ = (Index("ix_image_metadef_nsrt_namespace_id", "namespace_id"),)

    resource_type_id: Mapped[int] = mapped_column(
        ForeignKey(RESOURCE_TYPE_ID, ondelete="CASCADE", name="fk_image_metadef_nsrt_resource_type"),
        primary_key=True,
    )
    namespace_id: Mapped[int] = mapped_column(
        ForeignKey(NAMESPACE_ID, ondelete="CASCADE", name="fk_image_metadef_nsrt_namespace"),
        primary_key=True,
    )
    prefix: Mapped[str | None] = mapped_column(String(80), nullable=True)
    properties_target: Mapped[str | None] = mapped_column(String(80), nullable=True)
