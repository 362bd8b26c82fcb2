"""The compute API's face: `ComputeService`, everything the compute HTTP router calls.

Each part lives in a module of its own: servers.py (create, read, update, delete), actions.py and
actions_lifecycle.py (server actions), server_metadata.py, flavors.py, keypairs.py and tags.py.
"""

from __future__ import annotations

from overcast.admission import Admission, admit_everything
from overcast.cloud import Cloud
from overcast.compute.api.actions_lifecycle import ServerActionAPI
from overcast.compute.api.backups import BackupAPI
from overcast.compute.api.external_events import ExternalEventAPI
from overcast.compute.api.flavors import FlavorAPI
from overcast.compute.api.interfaces import InterfaceAPI
from overcast.compute.api.keypairs import KeyPairAPI
from overcast.compute.api.security_group_proxy import SecurityGroupProxy
from overcast.compute.api.server_fixed_ips import ServerFixedIPAPI
from overcast.compute.api.server_floating_ips import ServerFloatingIPAPI
from overcast.compute.api.server_metadata import MetadataAPI
from overcast.compute.api.server_security_groups import ServerSecurityGroupAPI
from overcast.compute.api.servers import ServerAPI
from overcast.compute.api.tags import TagAPI
from overcast.compute.api.volume_attachments import VolumeAttachmentAPI
from overcast.compute.instance_actions import InstanceActionReader
from overcast.compute.migrations import MigrationReader
from overcast.compute.rpcapi import ComputeAPI
from overcast.compute.vif_settings import VifSettings
from overcast.image.api import ImageAPI
from overcast.network.api.service import NetworkAPI
from overcast.quota import QuotaEngine
from overcast.volume.api.service import VolumeAPI
from overcast.volume.rpcapi import VolumeHostAPI

__all__ = ["ComputeService"]


class ComputeService:
    """Everything the compute HTTP router calls."""

    def __init__(
        self,
        cloud: Cloud,
        images: ImageAPI,
        quotas: QuotaEngine | None = None,
        *,
        network: NetworkAPI | None = None,
        volumes: VolumeAPI | None = None,
        admission: Admission = admit_everything,
    ) -> None:
        """`images`, `network` and `volumes` are the process's image, network and volume services
        (api/assembly.py's in the API service); a caller without a network or volume service of its own
        gets one. `admission` may refuse a create (billing's credit limit)."""
        self.quotas = quotas or QuotaEngine()
        self.network = network or NetworkAPI(cloud)
        self.volumes = volumes or VolumeAPI(
            cloud, VolumeHostAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        )
        self.volume_attachments = VolumeAttachmentAPI(cloud, self.volumes)
        self.servers = ServerAPI(
            cloud, self.quotas, self.network, volume_attachments=self.volume_attachments, admission=admission
        )
        self.security_groups = ServerSecurityGroupAPI(cloud.db, self.network)
        self.floating_ips = ServerFloatingIPAPI(cloud.db, self.network)
        self.fixed_ips = ServerFixedIPAPI(cloud.db, self.network)
        self.security_group_proxy = SecurityGroupProxy(cloud.db, self.network)
        self.images = images
        self.interfaces = InterfaceAPI(cloud, VifSettings().plugging_timeout)
        self.actions = ServerActionAPI(cloud, self.quotas, self.servers, images)
        self.backups = BackupAPI(cloud.db, self.actions)
        self.external_events = ExternalEventAPI(
            cloud.db, ComputeAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        )
        self.metadata = MetadataAPI(cloud.db, self.quotas)
        self.flavors = FlavorAPI(cloud.db)
        self.keypairs = KeyPairAPI(cloud.db, self.quotas)
        self.tags = TagAPI(cloud.db)
        self.instance_actions = InstanceActionReader(cloud.db)
        self.migrations = MigrationReader(cloud.db)
