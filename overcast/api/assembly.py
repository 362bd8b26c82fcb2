"""Assembles the one ASGI app the API service serves from every service's router."""

from __future__ import annotations

from fastapi import FastAPI

from overcast import dashboard
from overcast.api import app as foundation
from overcast.api import billing, ec2, metadata, openapi, portal, rating
from overcast.api.app import create_app
from overcast.api.auth import PublicPaths
from overcast.api.openstack import compute, identity, image, network, volume
from overcast.billing.api import BillingAPI
from overcast.billing.cloudkitty import RatingReports
from overcast.billing.settings import BillingSettings
from overcast.cloud import Cloud
from overcast.compute.api import ComputeService
from overcast.compute.api.admin import AdminServices
from overcast.dashboard.sessions import SessionStore
from overcast.ec2.ids import IdTable
from overcast.ec2.service import Ec2API
from overcast.identity.bootstrap import BootstrapResult, bootstrap
from overcast.identity.service import IdentityService
from overcast.image.api import ImageAPI
from overcast.image.settings import ImageSettings
from overcast.mail import mailer_from
from overcast.metadata.api import MetadataAPI
from overcast.metering.usage import UsageReader
from overcast.network import defaults as network_defaults
from overcast.network.api.service import NetworkAPI
from overcast.network.rpcapi import NetworkAgentAPI
from overcast.portal.provisioning import CloudServices
from overcast.portal.service import PortalAPI
from overcast.portal.tickets import TicketsAPI
from overcast.volume.api.service import VolumeAPI
from overcast.volume.rpcapi import VolumeHostAPI


def build_api(cloud: Cloud, *, image_api: ImageAPI | None = None) -> FastAPI:
    """The API service's app, and the composition root of the services it serves: each is built once
    here from the Cloud, and the compute side snapshots through the same image service the image API
    serves. `image_api` lets tests give the image service their own settings."""
    images = image_api or ImageAPI(cloud, ImageSettings())
    app = create_app(cloud.settings, db=cloud.db, transport=cloud.transport)
    app.state.cloud = cloud
    app.state.clock = cloud.clock
    public = PublicPaths(
        (*foundation.PUBLIC_PATHS, *identity.PUBLIC_PATHS, *compute.PUBLIC_PATHS, *image.PUBLIC_PATHS,
         *billing.PUBLIC_PATHS, *rating.PUBLIC_PATHS, *portal.PUBLIC_PATHS,
         *network.PUBLIC_PATHS, *volume.PUBLIC_PATHS, *metadata.PUBLIC_PATHS, *openapi.PUBLIC_PATHS,
         *ec2.PUBLIC_PATHS, *dashboard.PUBLIC_PATHS)
    )  # fmt: skip
    # The OpenAPI documents leave these paths' operations without the token scheme.
    app.state.public_paths = public
    identity_service = IdentityService(cloud.settings, cloud.db)
    identity.install(app, identity_service, public=public)
    clock = lambda: cloud.clock()  # noqa: E731 - read at each call: tests set the cloud's clock
    billing_api = BillingAPI(cloud.db, UsageReader(cloud.db, clock), clock, BillingSettings())
    # Billing's credit limit may refuse a create; the services know it only as this callable.
    agents = NetworkAgentAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
    network_api = NetworkAPI(cloud, agents=agents, admission=billing_api.admission)
    volume_hosts = VolumeHostAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
    volume_api = VolumeAPI(cloud, volume_hosts, image_quotas=images.quotas, admission=billing_api.admission)
    compute_service = ComputeService(
        cloud, images, network=network_api, volumes=volume_api, admission=billing_api.admission
    )
    # A server's port deleted in the network service leaves its guest (Neutron's nova notifier).
    network_api.ports.compute.connect(compute_service.external_events.port_deleted)
    admin_services = AdminServices(cloud, compute_service.quotas)
    compute.install(app, compute_service, admin_services)
    image.install(app, images)
    network.install(app, network_api)
    volume.install(app, volume_api)
    billing.install(app, billing_api)
    rating.install(app, RatingReports(cloud.db, billing_api.usage, clock, billing_api.settings.period))
    # The portal acts on the cloud through the services built above, never through their tables.
    mailer = mailer_from(cloud.settings)
    portal_api = PortalAPI(
        cloud.db,
        CloudServices(
            identity_service, billing_api, network_api, volume_api, admin_services.quotas,
            compute_service.actions.stop,
        ),
        mailer, clock, cloud.settings.base_url,
    )  # fmt: skip
    tickets_api = TicketsAPI(
        cloud.db, portal_api.outbox, clock, portal_api.dashboard_url, notifier=cloud.notifier("portal-api")
    )
    portal.install(app, portal_api, tickets_api)
    # One id table: the metadata service's EC2 paths and the EC2 API name each object alike.
    ec2_ids = IdTable(cloud.db)
    metadata.install(app, MetadataAPI(cloud, ec2_ids))
    ec2.install(
        app, Ec2API(cloud, compute_service, admin_services, images, identity_service.credentials, ec2_ids)
    )
    dashboard.install(app, cloud.settings.base_url, SessionStore.over(cloud.db, clock))
    # Last: each API's document describes the routes mounted above.
    openapi.install(app)
    return app


def bootstrap_cloud(cloud: Cloud) -> BootstrapResult:
    """First start: identities, the catalog of what this app serves, and clouds.yaml."""
    # With the all-in-one's networks, openstacksdk gives floating IPs from `public` to ports on `private`.
    wired = network_defaults.wires_vms(cloud.settings)
    networks: tuple[dict[str, str | bool], ...] = (
        {"name": "public", "routes_externally": True, "nat_source": True},
        {"name": "private", "nat_destination": True},
    )
    return bootstrap(cloud.settings, cloud.db, networks=networks if wired else ())
