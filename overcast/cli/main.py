"""The `overcast` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from overcast import __version__
from overcast.cli import billing as billing_commands
from overcast.cli import mail as mail_commands
from overcast.cli import portal as portal_commands
from overcast.cli import tickets as tickets_commands
from overcast.config import Settings, load_settings

SERVICES = (
    "api", "dashboard", "conductor", "scheduler", "compute", "network", "volume", "metering", "billing",
    "portal",
)  # fmt: skip


def _common_options() -> argparse.ArgumentParser:
    """Options every sub-command takes, before or after its own words (absent ones stay unset)."""
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--data-dir", help="state directory (env OVERCAST_DATA_DIR)")
    common.add_argument("--listen", help="API address HOST:PORT (env OVERCAST_LISTEN)")
    common.add_argument("--database-url", help="SQLAlchemy URL (env OVERCAST_DATABASE_URL)")
    common.add_argument("--transport-url", help="inproc:// or rabbit://… (env OVERCAST_TRANSPORT_URL)")
    common.add_argument("--log-level", help="DEBUG, INFO, WARNING… (env OVERCAST_LOG_LEVEL)")
    return common


def _settings(args: argparse.Namespace) -> Settings:
    names = ("data_dir", "listen", "database_url", "transport_url", "log_level", "host", "compute_driver")
    return load_settings(**{name: getattr(args, name, None) for name in names})


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(prog="overcast", description="Overcast compute cloud")
    parser.add_argument("--version", action="version", version=f"overcast {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def leaf(
        group: argparse._SubParsersAction, name: str, handler: str, help: str
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name, help=help, parents=[common])
        sub.set_defaults(handler=handler)
        return sub

    def branch(group: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:
        sub = group.add_parser(name, help=help, parents=[common])
        return sub.add_subparsers(dest=f"{name}_action", required=True)

    all_in_one = leaf(commands, "all-in-one", "all_in_one", "run every service in this process")
    service = leaf(commands, "service", "run_service", "run one service as its own process")
    service.add_argument("name", choices=SERVICES)
    for runner in (all_in_one, service):
        runner.add_argument("--host", help="this host's name (env OVERCAST_HOST)")
        runner.add_argument(
            "--compute-driver", choices=("auto", "fake", "qemu"),
            help="virt driver (env OVERCAST_COMPUTE_DRIVER; auto: qemu if qemu-system-x86_64 is installed)",
        )  # fmt: skip

    leaf(branch(commands, "db", "database maintenance"), "upgrade", "db_upgrade", "apply all migrations")

    build_guest = leaf(
        branch(commands, "image", "images"),
        "build-guest",
        "image_build_guest",
        "build the tiny guest image and upload it as the public image overcast-tiny (if it has no data)",
    )
    build_guest.add_argument("--force", action="store_true", help="rebuild the image file")
    servers = branch(commands, "server", "servers")
    ssh_info = leaf(
        servers,
        "ssh-info",
        "server_ssh_info",
        "print the ssh command that reaches a server's guest (QEMU driver)",
    )
    ssh_info.add_argument("server", help="server name or id")
    ssh = leaf(
        servers,
        "ssh",
        "server_ssh",
        "log into a server (floating IP, router or DHCP namespace, forwarded port); options go before NAME",
    )
    ssh.add_argument("server", help="server name or id")
    ssh.add_argument(
        "-i", dest="identity", help="private key (default: <data dir>/ssh/id_ed25519 if it exists)"
    )
    ssh.add_argument("--user", default="root", help="guest user (default root)")
    ssh.add_argument("--namespace", help="the namespace standing for the outside (default overcast-public)")
    ssh.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    # Everything after the name is ssh's (as with ssh's own command), so options come before it.
    ssh.add_argument("ssh_args", nargs=argparse.REMAINDER, help="[--] arguments for ssh")

    billing_commands.add_commands(commands, common)
    manage = branch(commands, "manage", "operator commands")
    leaf(branch(manage, "service", "services and their liveness"), "list", "service_list", "list services")
    mail_commands.add_commands(manage, common)
    portal_commands.add_commands(manage, common)
    tickets_commands.add_commands(manage, common)
    explain = leaf(
        branch(manage, "scheduler", "scheduler operations"),
        "explain",
        "scheduler_explain",
        "dry run: what every filter removes for a flavor and image, and who would win",
    )
    explain.add_argument("--flavor", required=True, help="flavor id or name")
    explain.add_argument("--image", help="image id")
    explain.add_argument("--availability-zone")
    explain.add_argument("--project", default="", help="project id the request would come from")
    network = branch(manage, "network", "the network data plane: what the kernel holds, why a packet drops")
    host_command = leaf(
        network, "host", "network_host", "this host's data plane beside the database, drift marked"
    )
    port_command = leaf(network, "port", "network_port", "a port's path checked against the kernel")
    port_command.add_argument("port", help="port id, or a server's name or id (all its ports)")
    trace_command = leaf(network, "trace", "network_trace", "which rule accepts or drops a packet at a port")
    trace_command.add_argument("--port", required=True, help="the port id")
    trace_command.add_argument("--src", required=True, help="source IPv4 address")
    trace_command.add_argument("--dst", required=True, help="destination IPv4 address")
    trace_command.add_argument("--proto", required=True, choices=("tcp", "udp", "icmp"))
    trace_command.add_argument("--dport", type=int, help="destination port (tcp, udp)")
    trace_command.add_argument("--sport", type=int, help="source port (tcp, udp)")
    trace_command.add_argument("--icmp-type", type=int, default=8, help="ICMP type (default 8, echo request)")
    trace_command.add_argument("--icmp-code", type=int, default=0)
    trace_command.add_argument(
        "--established", action="store_true", help="the packet belongs to a connection conntrack knows"
    )
    for command in (host_command, port_command):
        command.add_argument("--host", help="the host whose data plane to read (default: this one)")
        command.add_argument("--host-namespace", help="the namespace standing for a simulated host")
    for command in (host_command, port_command, trace_command):
        command.add_argument("--format", choices=("text", "json"), default="text")
    leaf(
        branch(manage, "keys", "token signing keys"),
        "rotate",
        "keys_rotate",
        "make a new primary signing key; tokens signed by the last keys stay valid",
    )
    leaf(
        branch(manage, "credential-keys", "keys that encrypt EC2 secrets at rest"),
        "rotate",
        "credential_keys_rotate",
        "make a new primary credential key and re-encrypt every stored EC2 secret with it",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from overcast.cloud import restrict_new_files

    restrict_new_files()
    settings = _settings(args)
    from overcast.cli import commands
    from overcast.errors import OvercastError

    try:
        result: int = getattr(commands, args.handler)(settings, args)
    except OvercastError as exc:
        print(f"overcast: error: {exc.message}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
