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
from overcast.network import defaults as network_defaults
from overcast.virt.driver import resolve_driver_name
from overcast.volume.drivers import choice as volume_driver_choice

LOG = logging.getLogger(__name__)


def all_in_one(settings: Settings, args: argparse.Namespace) -> int:
    setup_logging(settings.log_level)
    # Resolved once, so the guest image and the compute service agree on the driver.
    settings = settings.model_copy(update={"compute_driver": resolve_driver_name(settings.compute_driver)})
    print(f"Compute driver: {settings.compute_driver}", flush=True)
    print(network_defaults.startup_line(settings), flush=True)
    print(volume_driver_choice.startup_line(settings), flush=True)
    settings = network_defaults.all_in_one_settings(settings)
    cloud = Cloud.from_settings(settings)
    clouds_yaml = bootstrap_cloud(cloud).clouds_yaml
    network_defaults.bootstrap_networks(cloud)
    if settings.compute_driver == "qemu":
        _publish_guest_image(cloud)
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
    if args.name == "dashboard":
        # A client of the public APIs; of the database it uses only its sessions' table, and no bus.
        from overcast.dashboard.service import serve

        ready = lambda url: print(f"overcast dashboard serving {url}", flush=True)  # noqa: E731
        serve(settings.base_url, settings.sql_url, on_ready=ready)
        return 0
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


def _publish_guest_image(cloud: Cloud, *, force: bool = False) -> None:
    from overcast.guest.publish import publish_guest_image

    publish_guest_image(cloud, force=force, progress=lambda message: print(message, flush=True))


def image_build_guest(settings: Settings, args: argparse.Namespace) -> int:
    cloud = Cloud.from_settings(settings)
    try:
        _publish_guest_image(cloud, force=args.force)
    finally:
        cloud.close()
    return 0


def server_ssh_info(settings: Settings, args: argparse.Namespace) -> int:
    from overcast.cli.servers import ssh_command

    cloud = Cloud.from_settings(settings)
    try:
        print(ssh_command(cloud, args.server))
    finally:
        cloud.close()
    return 0


def server_ssh(settings: Settings, args: argparse.Namespace) -> int:
    from overcast.cli.server_ssh import login

    return login(settings, args)


def billing(settings: Settings, args: argparse.Namespace) -> int:
    from overcast.cli import billing as billing_commands

    return billing_commands.run(settings, args)


def mail(settings: Settings, args: argparse.Namespace) -> int:
    from overcast.cli import mail as mail_commands

    return mail_commands.run(settings, args)


def tickets(settings: Settings, args: argparse.Namespace) -> int:
    from overcast.cli import tickets as tickets_commands

    return tickets_commands.run(settings, args)


def portal(settings: Settings, args: argparse.Namespace) -> int:
    from overcast.cli import portal as portal_commands

    return portal_commands.run(settings, args)


def network_host(settings: Settings, args: argparse.Namespace) -> int:
    from overcast.cli import network

    return network.host(settings, args)


def network_port(settings: Settings, args: argparse.Namespace) -> int:
    from overcast.cli import network

    return network.port(settings, args)


def network_trace(settings: Settings, args: argparse.Namespace) -> int:
    from overcast.cli import network

    return network.trace(settings, args)


def db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    Cloud.from_settings(settings).close()
    print(f"database at {settings.sql_url} is up to date")
    return 0


def keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    from overcast.identity.tokens import rotate_keys

    print(f"new token signing key {rotate_keys(settings)} is now primary")
    return 0


def credential_keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    from overcast.identity.service import IdentityService

    cloud = Cloud.from_settings(settings)
    try:
        key_id = IdentityService(settings, cloud.db).credentials.rotate_credential_key()
    finally:
        cloud.close()
    print(f"new credential key {key_id} is now primary; every EC2 secret is re-encrypted with it")
    return 0


def scheduler_explain(settings: Settings, args: argparse.Namespace) -> int:
    from overcast.scheduler.explain import explain

    cloud = Cloud.from_settings(settings)
    try:
        print(
            explain(
                cloud,
                args.flavor,
                args.image,
                availability_zone=args.availability_zone,
                project_id=args.project,
            )
        )
    finally:
        cloud.close()
    return 0


def service_list(settings: Settings, args: argparse.Namespace) -> int:
    from overcast.servicegroup import list_services, service_is_up

    cloud = Cloud.from_settings(settings)
    try:
        now = cloud.clock()
        rows = [
            (
                r.binary,
                r.host,
                "disabled" if r.disabled else "enabled",
                "up" if service_is_up(r, now, settings.service_down_time) else "down",
                str(r.last_seen_up or ""),
            )
            for r in list_services(cloud.db)
        ]
    finally:
        cloud.close()
    header = ("Binary", "Host", "Status", "State", "Updated At")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


def _ready_banner(settings: Settings, clouds_yaml: Path) -> str:
    return (
        f"Overcast is running: API at {settings.base_url} (data in {settings.data_dir}).\n"
        f"Log in with the openstack CLI:\n"
        f"  export OS_CLIENT_CONFIG_FILE={clouds_yaml} OS_CLOUD=overcast-admin\n"
        f"  openstack token issue      (or OS_CLOUD=overcast-demo for the demo project)\n"
        f"Health: curl {settings.base_url}/healthcheck   Metrics: curl {settings.base_url}/metrics"
    )
