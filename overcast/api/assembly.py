"""Assembles the one ASGI app the API service serves from every service's router."""

from __future__ import annotations

from fastapi import FastAPI

from overcast.api.app import create_app
from overcast.cloud import Cloud


def build_api(cloud: Cloud) -> FastAPI:
    app = create_app(cloud.settings, db=cloud.db, transport=cloud.transport)
    app.state.cloud = cloud
    app.state.clock = cloud.clock
    return app
