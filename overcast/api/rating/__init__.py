"""CloudKitty's v2 rating API under /rating (catalog type `rating`): the `summary` and `dataframes` reports
python-cloudkittyclient reads (`openstack rating summary get`, `openstack rating dataframes get`), served
from the usage billing rates (overcast.billing.cloudkitty). Errors are CloudKitty's (Flask-RESTful's)
{"message": "..."}."""

from __future__ import annotations

from fastapi import FastAPI

from overcast.api.auth import readable_without_token
from overcast.api.rating import routes
from overcast.billing.cloudkitty import RatingReports

PUBLIC_PATHS = readable_without_token(routes.ROOT)


def install(app: FastAPI, service: RatingReports) -> None:
    if app.middleware_stack is not None:
        raise RuntimeError("install() must run before the app serves its first request")
    app.state.rating = service
    app.include_router(routes.router)
