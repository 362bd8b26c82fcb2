"""Rate limits on the public calls, counted in the database so every API process shares them: at most
`limit` attempts of an action per key (an address, a client IP) within a sliding window; and which
address is the client's behind reverse proxies the operator trusts."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.db.models.portal import PortalAttempt

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(setting: str) -> tuple[Network, ...]:
    """The comma-separated addresses or networks (CIDR) of the trusted proxies; ValueError names a bad one."""
    networks = []
    for item in (part.strip() for part in setting.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"Not an address or network (CIDR): {item!r}.") from None
    return tuple(networks)


def _trusted(host: str, trusted: tuple[Network, ...]) -> bool | None:
    """Whether `host` is a trusted proxy; None when it is not an address at all."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return any(address in network for network in trusted)


def client_address(peer: str, forwarded_for: Iterable[str], trusted: tuple[Network, ...]) -> str:
    """The client a request counts against. Only a connection from a trusted proxy may name another
    address: then, walking X-Forwarded-For from the right (each proxy appends the address it heard from),
    the first hop that is not a trusted proxy is the client; the hops left of it were written by the
    client itself and may be anything, so they are never read. A header from any other peer is ignored."""
    if not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        verdict = _trusted(hop, trusted)
        if verdict is None:
            return client  # garbage where a proxy's record should be: the last proxy's word stands
        client = hop
        if not verdict:
            return client
    return client  # every hop a trusted proxy: the left-most is the nearest to the client


class TooManyAttempts(errors.OvercastError):
    status = 429
    title = "overLimit"
    default_message = "Too many attempts; try again later."


class AttemptLimits:
    def __init__(self, clock: Callable[[], datetime], window_seconds: int) -> None:
        self.clock = clock
        self.window = timedelta(seconds=window_seconds)

    def take(self, session: Session, action: str, limits: dict[str, int]) -> None:
        """Count one attempt under each key, or raise TooManyAttempts (with retry_after) if any key is
        at its limit; a refused attempt is not counted, so waiting out the window always helps."""
        now = self.clock()
        since = now - self.window
        session.execute(delete(PortalAttempt).where(PortalAttempt.action == action, PortalAttempt.at < since))
        for key, limit in limits.items():
            count, oldest = session.execute(
                select(func.count(), func.min(PortalAttempt.at)).where(
                    PortalAttempt.action == action, PortalAttempt.key == key, PortalAttempt.at >= since
                )
            ).one()
            if count >= limit:
                wait = max(1, math.ceil((oldest + self.window - now).total_seconds()))
                raise TooManyAttempts(f"Too many attempts; try again in {_duration(wait)}.", retry_after=wait)
        for key in limits:
            session.add(PortalAttempt(action=action, key=key, at=now))
        session.flush()


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
