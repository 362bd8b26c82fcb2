"""The Overcast billing API under /billing/v1: usage, prices, balances, invoices and payments (issue #17).

Its own API (OpenStack has none in Nova's family; CloudKitty's is separate): bodies wrap one object by
its name as Nova's do ({"account": {...}}), errors are Nova-shaped, amounts are decimal strings.
"""

from __future__ import annotations

from fastapi import FastAPI

from overcast.api.auth import public_path, readable_without_token
from overcast.api.billing import routes
from overcast.billing.api import BillingAPI
from overcast.billing.revenue import RevenueCollector

PUBLIC_PATHS = (
    *readable_without_token(routes.ROOT, routes.V1),
    # A payment provider has no token: the webhook's HMAC signature is its credential.
    public_path(routes.V1 + routes.WEBHOOK, methods=("POST",)),
)


def install(app: FastAPI, service: BillingAPI) -> None:
    """Mount the billing API, served by `service`, and its revenue metric on the app's /metrics."""
    if app.middleware_stack is not None:
        raise RuntimeError("install() must run before the app serves its first request")
    app.state.billing = service
    app.include_router(routes.router)
    app.state.metrics_registry.register(RevenueCollector(service.db))
