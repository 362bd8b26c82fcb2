"""The all-in-one's default networks: made once on a bootstrapped cloud, found again on every start."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from overcast.config import load_settings
from overcast.db import Database
from overcast.db.models.network import Network, Port, Router, SecurityGroupRule, Subnet
from overcast.identity.bootstrap import bootstrap
from overcast.identity.passwords import PasswordHasher
from overcast.network.defaults import (
    OUTSIDE_HOST_SIDE,
    DefaultNetworks,
    all_in_one_settings,
    startup_line,
    wires_vms,
)
from tests.unit.network.agent_setup import ADMIN, agent_cloud, network_api


def count(db: Database, model: type) -> int:
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_default_networks_are_made_once_and_found_again(db: Database, tmp_path: Path) -> None:
    cloud = agent_cloud(db, tmp_path)
    bootstrap(cloud.settings, db, hasher=PasswordHasher(time_cost=1, memory_cost_kib=1024))
    api = network_api(cloud)

    DefaultNetworks(cloud, api).ensure()
    made = {model: count(db, model) for model in (Network, Subnet, Router, Port, SecurityGroupRule)}
    DefaultNetworks(cloud, api).ensure()

    assert {model: count(db, model) for model in made} == made
    assert made[Network] == 2 and made[Subnet] == 2 and made[Router] == 1
    with db.reader() as session:
        public = session.scalars(select(Network).where(Network.name == "public")).one()
        private = session.scalars(select(Network).where(Network.name == "private")).one()
        router = session.scalars(select(Router)).one()
        rules = list(
            session.scalars(select(SecurityGroupRule).where(SecurityGroupRule.direction == "ingress"))
        )
    # Not shared, as DevStack's: "auto" then finds one network, private, for a demo server.
    assert public.external and not public.shared and public.network_type == "flat"
    assert private.project_id == router.project_id != public.project_id  # the demo project's, not admin's
    shown = api.routers.get(ADMIN, router.id)
    assert shown["external_gateway_info"]["network_id"] == public.id
    assert (
        api.subnets.get(ADMIN, api.networks.get(ADMIN, public.id)["subnets"][0])["gateway_ip"] == "172.24.4.1"
    )
    opened = {(rule.protocol, rule.port_range_min, rule.remote_ip_prefix) for rule in rules}
    assert {("tcp", 22, "0.0.0.0/0"), ("icmp", None, "0.0.0.0/0")} <= opened


def test_the_public_network_is_the_outside_veth_when_asked_unless_mapped_elsewhere(tmp_path: Path) -> None:
    wired = load_settings(data_dir=tmp_path, network_driver="linuxbridge", all_in_one_networks=True)
    assert all_in_one_settings(wired).network_physical_interfaces == {"public": OUTSIDE_HOST_SIDE}
    not_asked = wired.model_copy(update={"all_in_one_networks": False})
    assert all_in_one_settings(not_asked).network_physical_interfaces == {}
    mapped = wired.model_copy(update={"network_physical_interfaces": {"public": "eth1"}})
    assert all_in_one_settings(mapped).network_physical_interfaces == {"public": "eth1"}
    noop = load_settings(data_dir=tmp_path, network_driver="noop", all_in_one_networks=True)
    assert all_in_one_settings(noop).network_physical_interfaces == {}


def test_the_all_in_one_says_at_start_up_whether_its_vms_get_networks_and_why_not(tmp_path: Path) -> None:
    wired = load_settings(data_dir=tmp_path, network_driver="linuxbridge", compute_driver="qemu")
    assert wired.all_in_one_networks  # on by default
    assert startup_line(wired).startswith("Networks: public")
    assert startup_line(wired.model_copy(update={"all_in_one_networks": False})) == (
        "Networks: QEMU user-mode NAT for each VM (all_in_one_networks is off)"
    )
    noop = load_settings(data_dir=tmp_path, network_driver="noop", compute_driver="qemu")
    assert startup_line(noop) == "Networks: QEMU user-mode NAT for each VM (the network driver is noop)"
    fake = load_settings(data_dir=tmp_path, network_driver="auto", compute_driver="fake")
    assert startup_line(fake) == "Networks: not wired (the fake virt driver's VMs are not real)"
    assert not wires_vms(fake) and not wires_vms(noop)
