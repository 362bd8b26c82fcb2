"""The EC2 API's own records: the one id table, tags, RunInstances' client tokens, key fingerprints.

Every object the EC2 API names gets an id of a prefix and 17 hex digits (`i-…`, `ami-…`, `vol-…`), kept
beside the UUID the rest of the cloud knows it by, so the same object has the same id forever and in
both APIs (the metadata service's EC2 paths read the same table).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, utcnow
from overcast.db.types import UTCDateTime


class Ec2Id(Base):
    __tablename__ = "ec2_ids"
    __table_args__ = (UniqueConstraint("kind", "uuid"),)

    ec2_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The id's prefix (i, ami, aki, ari, vol, snap, sg, subnet, vpc, eni, eipalloc, key, r).
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    uuid: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class Ec2Tag(Base):
    __tablename__ = "ec2_tags"
    __table_args__ = (Index("ix_ec2_tags_project_key", "project_id", "key"),)

    resource_id: Mapped[str] = mapped_column(
        ForeignKey("ec2_ids.ec2_id", ondelete="CASCADE"), primary_key=True
    )
    # AWS: keys up to 128 characters, values up to 256.
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(256), nullable=False, default="")
    project_id: Mapped[str] = mapped_column(String(64), nullable=False)


class Ec2ClientToken(Base):
    """ClientToken idempotency (ec2/client_tokens.py): a project's token names what its request made,
    and what was asked."""

    __tablename__ = "ec2_client_tokens"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_token: Mapped[str] = mapped_column(String(64), primary_key=True)
    # A digest of the request's parameters: the same token with other parameters is refused.
    request_digest: Mapped[str] = mapped_column(String(64), nullable=False)
    # What the first request made (RunInstances: the reservation id; CreateVolume: the volume's UUID;
    # CopyImage: the new image's EC2 id),
    # empty while it is still making it. The column keeps the name it had when only RunInstances took one.
    made: Mapped[str] = mapped_column("reservation_id", String(255), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class Ec2KeyFingerprint(Base):
    """The fingerprint AWS shows for a key pair: for a generated key it hashes the private key, which
    only exists at creation, so it is kept."""

    __tablename__ = "ec2_key_fingerprints"

    key_pair_id: Mapped[int] = mapped_column(ForeignKey("key_pairs.id", ondelete="CASCADE"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(Text, nullable=False)


class Ec2VolumeModification(Base):
    """A ModifyVolume (ec2/volume_modifications.py): what it asked of the volume service and how far the
    volume service got, which DescribeVolumesModifications shows (the latest of each volume)."""

    __tablename__ = "ec2_volume_modifications"
    __table_args__ = (Index("ix_ec2_volume_modifications_project_volume", "project_id", "volume_uuid"),)

    # In the order the modifications began: a volume's latest is its highest, even within one clock tick.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False)
    volume_uuid: Mapped[str] = mapped_column(String(64), nullable=False)
    volume_ec2_id: Mapped[str] = mapped_column(String(32), nullable=False)
    # modifying, optimizing, completed or failed (AWS's words); every change is a compare-and-swap.
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    # Set once the volume service took the request: before that, a volume still at its old size is one
    # whose change has not begun, not one whose change failed.
    accepted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    original_size: Mapped[int] = mapped_column(Integer, nullable=False)
    target_size: Mapped[int] = mapped_column(Integer, nullable=False)
    original_volume_type: Mapped[str] = mapped_column(String(255), nullable=False)
    target_volume_type: Mapped[str] = mapped_column(String(255), nullable=False)
    original_multi_attach: Mapped[bool] = mapped_column(Boolean, nullable=False)
    target_multi_attach: Mapped[bool] = mapped_column(Boolean, nullable=False)
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
