"""VolumeAPI: the logic behind /volume/v3, built once by the API's composition root and by compute's.

It bundles volumes, attachments, types, QoS specs, quotas and generic volume groups; compute calls the
methods below in-process (attach, detach, boot from volume), which is why the rules are enforced here
and not in the routers. The volume hosts are reached through VolumeHostAPI after each transaction commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from overcast.admission import Admission, admit_everything
from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.quota import QuotaEngine
from overcast.volume.api.attachments import Attachments
from overcast.volume.api.backups import Backups
from overcast.volume.api.catalog import VolumeCatalog
from overcast.volume.api.default_types import DefaultTypes
from overcast.volume.api.group_snapshots import GroupSnapshots
from overcast.volume.api.group_types import GroupTypes
from overcast.volume.api.groups import Groups
from overcast.volume.api.legacy_attach import LegacyAttach
from overcast.volume.api.qos import QosSpecsAPI
from overcast.volume.api.quota_sets import QuotaSets
from overcast.volume.api.records import Record
from overcast.volume.api.snapshots import Snapshots
from overcast.volume.api.transfers import Transfers
from overcast.volume.api.types import VolumeTypes
from overcast.volume.api.volumes import CreateRequest, Volumes, VolumeSettings
from overcast.volume.notifications import VolumeNotifier
from overcast.volume.quotas import VolumeQuotaEngine
from overcast.volume.rpcapi import VolumeHostAPI


class VolumeAPI:
    def __init__(
        self,
        cloud: Cloud,
        hosts: VolumeHostAPI | None = None,
        *,
        quota_engine: VolumeQuotaEngine | None = None,
        image_quotas: QuotaEngine | None = None,
        admission: Admission = admit_everything,
    ) -> None:
        """`hosts` is the volume hosts' RPC client; without one (a test of the API alone) volumes are
        written but no host is asked to make, export or delete them. `image_quotas` is the image service's
        quota engine: an upload to an image counts against the project's images. `admission` may refuse a
        create (billing's credit limit)."""
        self.cloud = cloud
        self.db = cloud.db
        self.hosts = hosts
        self.quota_engine = quota_engine or VolumeQuotaEngine()
        self.image_quotas = image_quotas
        self.settings = VolumeSettings(service_down_time=cloud.settings.service_down_time)
        self.volumes = Volumes(
            self.db,
            hosts,
            self.quota_engine,
            self.settings,
            cloud.clock,
            VolumeNotifier(cloud, "volume-api"),
            admission=admission,
        )
        self.attachments = Attachments(self.db, hosts, rpc_timeout=cloud.settings.rpc_timeout)
        self.legacy = LegacyAttach(self.db, hosts, self.attachments)
        self.types = VolumeTypes(self.db)
        self.default_types = DefaultTypes(self.db)
        self.qos_specs = QosSpecsAPI(self.db)
        self.quota_sets = QuotaSets(self.db, self.quota_engine)
        self.catalog = VolumeCatalog(
            self.db,
            cloud.clock,
            cloud.settings.service_down_time,
            hosts,
            rpc_timeout=cloud.settings.rpc_timeout,
        )
        self.snapshots = Snapshots(self.db, hosts, self.quota_engine, cloud.clock)
        self.backups = Backups(self.db, hosts, self.quota_engine, clock=cloud.clock)
        self.transfers = Transfers(self.db, self.quota_engine)
        self.group_types = GroupTypes(self.db)
        self.groups = Groups(self.db, hosts, self.quota_engine, self.settings, self.volumes)
        self.group_snapshots = GroupSnapshots(self.db, hosts, self.quota_engine)

    # --- what compute calls (names fixed by the #15 contract) -------------------------------------------
    def get(self, ctxt: RequestContext, volume_id: str) -> Record:
        return self.volumes.get(ctxt, volume_id)

    def create(
        self,
        ctxt: RequestContext,
        size: int | None,
        *,
        name: str | None = None,
        description: str | None = None,
        volume_type: str | None = None,
        availability_zone: str | None = None,
        metadata: Mapping[str, str] | None = None,
        image_id: str | None = None,
        snapshot_id: str | None = None,
        source_volid: str | None = None,
        backup_id: str | None = None,
        multiattach: bool = False,
    ) -> Record:
        request = CreateRequest(
            size=size, name=name, description=description, volume_type=volume_type,
            availability_zone=availability_zone, metadata=dict(metadata or {}), image_id=image_id,
            snapshot_id=snapshot_id, source_volid=source_volid, backup_id=backup_id, multiattach=multiattach,
        )  # fmt: skip
        return self.volumes.create(ctxt, request)

    def delete(self, ctxt: RequestContext, volume_id: str) -> None:
        self.volumes.delete(ctxt, volume_id)

    def create_snapshot(
        self,
        ctxt: RequestContext,
        volume_id: str,
        *,
        force: bool = True,
        name: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Record:
        return self.snapshots.create(
            ctxt, volume_id, force=force, name=name, description=description, metadata=dict(metadata or {})
        )

    def attachment_create(
        self,
        ctxt: RequestContext,
        volume_id: str,
        instance_uuid: str | None,
        *,
        mode: str = "rw",
        connector: Mapping[str, Any] | None = None,
    ) -> Record:
        return self.attachments.create(ctxt, volume_id, instance_uuid, mode=mode, connector=connector)

    def attachment_update(
        self, ctxt: RequestContext, attachment_id: str, connector: Mapping[str, Any]
    ) -> dict[str, Any]:
        return self.attachments.update(ctxt, attachment_id, connector)

    def attachment_complete(self, ctxt: RequestContext, attachment_id: str) -> None:
        self.attachments.complete(ctxt, attachment_id)

    def attachment_delete(self, ctxt: RequestContext, attachment_id: str) -> None:
        self.attachments.delete(ctxt, attachment_id)

    def attachment_get(self, ctxt: RequestContext, attachment_id: str) -> Record:
        return self.attachments.get(ctxt, attachment_id)

    def begin_detaching(self, ctxt: RequestContext, volume_id: str) -> None:
        self.attachments.begin_detaching(ctxt, volume_id)

    def roll_detaching(self, ctxt: RequestContext, volume_id: str) -> None:
        self.attachments.roll_detaching(ctxt, volume_id)
