"""The `overcast` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from overcast import __version__
from overcast.config import Settings, load_settings

SERVICES = ("api", "conductor", "scheduler", "compute")
ALL_IN_ONE = ("conductor", "scheduler", "compute")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="state directory (env OVERCAST_DATA_DIR)")
    parser.add_argument("--listen", help="API address HOST:PORT (env OVERCAST_LISTEN)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (env OVERCAST_DATABASE_URL)")
    parser.add_argument("--transport-url", help="inproc:// or rabbit://… (env OVERCAST_TRANSPORT_URL)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING… (env OVERCAST_LOG_LEVEL)")


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        data_dir=args.data_dir,
        listen=args.listen,
        database_url=args.database_url,
        transport_url=args.transport_url,
        log_level=args.log_level,
        host=getattr(args, "host", None),
        compute_driver=getattr(args, "compute_driver", None),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="overcast", description="Overcast compute cloud")
    parser.add_argument("--version", action="version", version=f"overcast {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    aio = commands.add_parser("all-in-one", help="run every service in this process")
    _add_common(aio)
    aio.add_argument("--host", help="this host's name (env OVERCAST_HOST)")
    aio.add_argument("--compute-driver", choices=("fake", "qemu"), help="virt driver")

    service = commands.add_parser("service", help="run one service as its own process")
    service.add_argument("name", choices=SERVICES)
    _add_common(service)
    service.add_argument("--host", help="this host's name (env OVERCAST_HOST)")
    service.add_argument("--compute-driver", choices=("fake", "qemu"), help="virt driver")

    db = commands.add_parser("db", help="database maintenance")
    _add_common(db)
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply all migrations")

    manage = commands.add_parser("manage", help="operator commands")
    _add_common(manage)
    topics = manage.add_subparsers(dest="topic", required=True)
    service_cmd = topics.add_parser("service", help="services and their liveness")
    service_cmd.add_subparsers(dest="action", required=True).add_parser("list")
    keys_cmd = topics.add_parser("keys", help="token signing keys")
    keys_cmd.add_subparsers(dest="action", required=True).add_parser(
        "rotate", help="make a new primary signing key; tokens signed by the last keys stay valid"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = _settings(args)
    from overcast.cli import commands

    handler = {
        "all-in-one": commands.all_in_one,
        "service": commands.run_service,
        "db": commands.db_upgrade,
        "manage": commands.manage,
    }[args.command]
    return handler(settings, args)


if __name__ == "__main__":
    sys.exit(main())
