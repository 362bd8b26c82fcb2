"""What each `overcast` sub-command does."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from overcast.api.assembly import bootstrap_cloud
from overcast.cli import runner
from overcast.cloud import Cloud
from overcast.config import Settings
from overcast.log import setup_logging

LOG = logging.getLogger(__name__)


def all_in_one(settings: Settings, args: argparse.Namespace) -> int:
    setup_logging(settings.log_level)
    cloud = Cloud.from_settings(settings)
    clouds_yaml = bootstrap_cloud(cloud).clouds_yaml
    runner.run(
        cloud,
        list(runner.manager_factories()),
        settings.host,
        with_api=True,
        on_ready=lambda: print(_ready_banner(settings, clouds_yaml), flush=True),
    )
    return 0


def run_service(settings: Settings, args: argparse.Namespace) -> int:
    setup_logging(settings.log_level)
    cloud = Cloud.from_settings(settings)
    if args.name == "api":
        bootstrap_cloud(cloud)
        runner.run(
            cloud,
            [],
            settings.host,
            with_api=True,
            on_ready=lambda: print(f"overcast api listening on {settings.base_url}", flush=True),
        )
    else:
        runner.run(
            cloud,
            [args.name],
            settings.host,
            with_api=False,
            on_ready=lambda: print(f"overcast {args.name} running on host {settings.host}", flush=True),
        )
    return 0


def db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    from overcast.db.engine import Database

    db = Database(settings.sql_url)
    db.upgrade()
    db.dispose()
    print(f"database at {settings.sql_url} is up to date")
    return 0


def manage(settings: Settings, args: argparse.Namespace) -> int:
    if args.topic == "service" and args.action == "list":
        return _service_list(settings)
    if args.topic == "keys" and args.action == "rotate":
        from overcast.identity.tokens import rotate_keys

        print(f"new token signing key {rotate_keys(settings)} is now primary")
        return 0
    raise SystemExit(f"unknown command: manage {args.topic} {args.action}")


def _service_list(settings: Settings) -> int:
    from sqlalchemy import select

    from overcast.cloud import system_clock
    from overcast.db.engine import Database
    from overcast.db.models.service import ServiceRecord
    from overcast.servicegroup import service_is_up

    db = Database(settings.sql_url)
    now = system_clock()
    with db.reader() as session:
        rows = (
            session.execute(select(ServiceRecord).order_by(ServiceRecord.binary, ServiceRecord.host))
            .scalars()
            .all()
        )
        lines = [
            (
                r.binary,
                r.host,
                "disabled" if r.disabled else "enabled",
                "up" if service_is_up(r, now, settings.service_down_time) else "down",
                str(r.last_seen_up or ""),
            )
            for r in rows
        ]
    db.dispose()
    header = ("Binary", "Host", "Status", "State", "Updated At")
    widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(len(header))]
    for row in [header, *lines]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


def _ready_banner(settings: Settings, clouds_yaml: Path) -> str:
    return (
        f"Overcast is running: API at {settings.base_url} (data in {settings.data_dir}).\n"
        f"Log in with the openstack CLI:\n"
        f"  export OS_CLIENT_CONFIG_FILE={clouds_yaml} OS_CLOUD=overcast-admin\n"
        f"  openstack token issue      (or OS_CLOUD=overcast-demo for the demo project)\n"
        f"Health: curl {settings.base_url}/healthcheck   Metrics: curl {settings.base_url}/metrics"
    )
