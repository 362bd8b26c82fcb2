"""The admission hook: what the composition root may hand a service's API to refuse a create before it
happens (billing's credit limit raises PaymentRequired). Services know it only as this callable, so
compute, volumes and networking import nothing of billing."""

from __future__ import annotations

from collections.abc import Callable

from overcast.context import RequestContext

# Called with the caller and what is created ("server", "volume", "floating IP"); raises to refuse it.
Admission = Callable[[RequestContext, str], None]


def admit_everything(ctxt: RequestContext, kind: str) -> None:
    return None
