"""The service catalog: which Overcast services exist and at which URLs (stored, cached in memory)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db.models.identity import CatalogEndpoint, CatalogService, Region

INTERFACES = ("public", "internal")
PROJECT_ID_TEMPLATE = "$(project_id)s"


@dataclass(frozen=True)
class CatalogEntry:
    type: str
    name: str
    path: str  # appended to settings.base_url


# The APIs the assembled app serves: a service joins the catalog with its router.
DEFAULT_SERVICES: tuple[CatalogEntry, ...] = (
    CatalogEntry("identity", "keystone", "/identity"),
    CatalogEntry("compute", "nova", "/compute/v2.1"),
    CatalogEntry("image", "glance", "/image"),
    # Clients append /v2.0 themselves.
    CatalogEntry("network", "neutron", "/networking"),
    # Keystone's template: each token's catalog names its own project (Cinder's URL form).
    CatalogEntry("block-storage", "cinderv3", f"/volume/v3/{PROJECT_ID_TEMPLATE}"),
    CatalogEntry("volumev3", "cinderv3", f"/volume/v3/{PROJECT_ID_TEMPLATE}"),
    # The EC2 Query API (botocore's endpoint_url).
    CatalogEntry("ec2", "ec2", "/ec2"),
    # Overcast's own billing API (usage, prices, invoices, balances).
    CatalogEntry("billing", "billing", "/billing/v1"),
    # CloudKitty's v2 reports of the same rated usage (its client appends /v2 itself).
    CatalogEntry("rating", "cloudkitty", "/rating"),
    # Overcast's customer portal (sign-up, accounts, plans, support tickets).
    CatalogEntry("portal", "portal", "/portal/v1"),
)

_NAMESPACE = uuid.UUID("6f1d9a52-8c1e-4c1b-9f59-0c8e3a7d2b11")


def _stable_id(*parts: str) -> str:
    # The same service gets the same id on every start, so bootstrap stays idempotent.
    return uuid.uuid5(_NAMESPACE, "/".join(parts)).hex


def made_by_bootstrap(service_id: str) -> bool:
    """Bootstrap names its services by a name-based (version 5) UUID; the API gives random ones."""
    try:
        return uuid.UUID(hex=service_id).version == 5
    except ValueError:
        return False


def ensure_catalog(
    session: Session, base_url: str, region: str, services: tuple[CatalogEntry, ...] = DEFAULT_SERVICES
) -> bool:
    """Make the stored catalog list exactly `services` at `base_url`; True when something changed."""
    base = base_url.rstrip("/")
    changed = False
    # The region is not part of the catalog's output: creating its row is not a change to it.
    if session.get(Region, region) is None:
        session.add(Region(id=region, description=""))
    wanted_services = {_stable_id(entry.type, entry.name): entry for entry in services}
    for stale in session.scalars(select(CatalogService)):
        # Services an operator made through the API are theirs: only a service bootstrap made goes.
        if made_by_bootstrap(stale.id) and stale.id not in wanted_services:
            session.delete(stale)
            changed = True
    session.flush()
    for service_id, entry in wanted_services.items():
        if session.get(CatalogService, service_id) is None:
            session.add(CatalogService(id=service_id, type=entry.type, name=entry.name))
            changed = True
        for interface in INTERFACES:
            endpoint_id = _stable_id(entry.type, entry.name, interface)
            url = base + entry.path
            endpoint = session.get(CatalogEndpoint, endpoint_id)
            if endpoint is None:
                session.add(
                    CatalogEndpoint(
                        id=endpoint_id, service_id=service_id, interface=interface, region_id=region, url=url
                    )
                )
                changed = True
            elif endpoint.url != url or endpoint.region_id != region:
                endpoint.url = url
                endpoint.region_id = region
                changed = True
    session.flush()
    return changed


@dataclass(frozen=True)
class _Endpoint:
    id: str
    interface: str
    region_id: str | None
    url: str


@dataclass(frozen=True)
class _Service:
    id: str
    type: str
    name: str
    endpoints: tuple[_Endpoint, ...]


class CatalogCache:
    """The enabled services and endpoints tokens carry, read again at most `refresh_seconds` after a
    change in another API process, and at once after one in this process (`invalidate`)."""

    def __init__(self, refresh_seconds: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._services: tuple[_Service, ...] | None = None
        self._loaded_at = 0.0
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._services = None

    def _load(self, session: Session) -> tuple[_Service, ...]:
        with self._lock:
            if self._services is None or self._clock() - self._loaded_at >= self._refresh_seconds:
                self._loaded_at = self._clock()
                endpoints: dict[str, list[_Endpoint]] = {}
                for row in session.scalars(select(CatalogEndpoint).where(CatalogEndpoint.enabled.is_(True))):
                    endpoints.setdefault(row.service_id, []).append(
                        _Endpoint(row.id, row.interface, row.region_id, row.url)
                    )
                query = select(CatalogService).where(CatalogService.enabled.is_(True))
                self._services = tuple(
                    _Service(s.id, s.type, s.name, tuple(sorted(endpoints.get(s.id, []), key=lambda e: e.id)))
                    for s in session.scalars(query.order_by(CatalogService.type))
                )
            return self._services

    def for_token(self, session: Session, project_id: str | None = None) -> list[dict[str, Any]]:
        """The catalog in a token's body: URL templates name the token's project; without a project
        (unscoped, domain or system scope) endpoints that need one are left out, as Keystone does."""
        catalog = []
        for service in self._load(session):
            endpoints = [
                {
                    "id": endpoint.id,
                    "interface": endpoint.interface,
                    "region": endpoint.region_id,
                    "region_id": endpoint.region_id,
                    "url": endpoint.url.replace(PROJECT_ID_TEMPLATE, project_id or ""),
                }
                for endpoint in service.endpoints
                if project_id or PROJECT_ID_TEMPLATE not in endpoint.url
            ]
            if service.endpoints and not endpoints:
                continue  # every endpoint needs a project this token has not
            catalog.append(
                {"id": service.id, "type": service.type, "name": service.name, "endpoints": endpoints}
            )
        return catalog
