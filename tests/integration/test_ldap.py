"""The LDAP identity backend against a real, private slapd (Debian's), started by the fixture."""

from __future__ import annotations

import gc
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from overcast.config import Settings, load_settings
from overcast.db import Database
from overcast.errors import Forbidden, Unauthorized
from overcast.identity.bootstrap import bootstrap
from overcast.identity.grants import GrantTarget
from overcast.identity.passwords import PasswordHasher
from overcast.identity.service import IdentityService
from overcast.identity.settings import IdentitySettings
from tests.support.ports import free_port
from tests.support.waiting import WAIT_SECONDS

pytestmark = pytest.mark.slow

SUFFIX = "dc=overcast,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "ldap-root-secret"
PEOPLE = f"ou=people,{SUFFIX}"
USERS = {"alice": "alice-pass", "bob": "bob-pass", "carol": "carol-pass"}
HASHER = PasswordHasher(time_cost=1, memory_cost_kib=1024)


def ensure_slapd() -> None:
    if shutil.which("slapd", path="/usr/sbin:/usr/bin") and shutil.which(
        "slapadd", path="/usr/sbin:/usr/bin"
    ):
        return
    result = subprocess.run(
        ["apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=600", "slapd", "ldap-utils"],
        env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        pytest.skip(f"slapd could not be installed: {result.stderr[-500:]}")


def ldif() -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: overcast\no: Overcast test\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
    ]
    for name, password in USERS.items():
        entries.append(
            f"dn: uid={name},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {name}\ncn: {name.title()}\n"
            f"sn: {name.title()}\nmail: {name}@overcast.test\nuserPassword: {password}\n"
        )
    return "\n".join(entries)


@pytest.fixture(scope="module")
def ldap_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ensure_slapd()
    base = tmp_path_factory.mktemp("slapd")
    (base / "data").mkdir()
    config = base / "slapd.conf"
    config.write_text(
        "\n".join(
            [
                *(f"include /etc/ldap/schema/{s}.schema" for s in ("core", "cosine", "inetorgperson", "nis")),
                f"pidfile {base / 'slapd.pid'}",
                "modulepath /usr/lib/ldap",
                "moduleload back_mdb",
                "database mdb",
                f'suffix "{SUFFIX}"',
                f'rootdn "{ROOT_DN}"',
                f"rootpw {ROOT_PASSWORD}",
                f"directory {base / 'data'}",
                "access to attrs=userPassword by self read by anonymous auth by * none",
                "access to * by * read",
                "",
            ]
        )
    )
    (base / "data.ldif").write_text(ldif())
    subprocess.run(
        ["/usr/sbin/slapadd", "-f", str(config), "-l", str(base / "data.ldif")],
        check=True,
        capture_output=True,
    )
    port = free_port()
    url = f"ldap://127.0.0.1:{port}"
    process = subprocess.Popen(
        ["/usr/sbin/slapd", "-f", str(config), "-h", url + "/", "-d", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("slapd did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def identity(tmp_path: Path, db: Database, ldap_url: str) -> IdentityService:
    settings: Settings = load_settings(data_dir=tmp_path)
    bootstrap(settings, db, hasher=HASHER)
    config = IdentitySettings(
        ldap_url=ldap_url,
        ldap_domain="corp",
        ldap_bind_dn=ROOT_DN,
        ldap_bind_password=ROOT_PASSWORD,
        ldap_user_tree_dn=PEOPLE,
    )
    return IdentityService(settings, db, config, hasher=HASHER)


def corp_login(identity: IdentityService, name: str, password: str, project: str | None = None) -> str:
    auth: dict[str, object] = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": name, "domain": {"name": "corp"}, "password": password}},
        }
    }
    if project:
        auth["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
    return identity.tokens.issue(auth)[0]


def test_ldap_users_are_listed_in_their_domain(identity: IdentityService) -> None:
    corp = identity.api.list_domains(name="corp")[0]
    users = identity.api.list_users(domain_id=corp["id"])
    assert [(u["id"], u["name"], u["email"]) for u in users] == [
        (name, name, f"{name}@overcast.test") for name in sorted(USERS)
    ]
    assert identity.api.get_user("bob")["domain_id"] == corp["id"]
    names = {u["name"] for u in identity.api.list_users()}
    assert {"admin", "demo", "alice", "bob", "carol"} <= names


def test_ldap_user_logs_in_with_the_directory_password(identity: IdentityService) -> None:
    demo = identity.api.list_projects(name="demo")[0]
    member = identity.api.list_roles("member")[0]
    identity.api.grant(GrantTarget("project", demo["id"]), "alice", member["id"])
    token = corp_login(identity, "alice", "alice-pass", "demo")
    context = identity.tokens.context(token)
    assert (context.user_id, context.project_id, context.roles) == ("alice", demo["id"], ("member", "reader"))
    for password in ("wrong", ""):
        with pytest.raises(Unauthorized):
            corp_login(identity, "alice", password)
    with pytest.raises(Unauthorized):
        corp_login(identity, "mallory", "alice-pass")


def test_ldap_domain_is_read_only_and_sql_stays_the_default(identity: IdentityService) -> None:
    corp = identity.api.list_domains(name="corp")[0]
    with pytest.raises(Forbidden):
        identity.api.create_user({"name": "dave", "domain_id": corp["id"]}, "pw")
    with pytest.raises(Forbidden):
        identity.api.delete_user("carol")
    created = identity.api.create_user({"name": "dave", "domain_id": "default"}, "pw")
    assert identity.api.get_user(created["id"])["domain_id"] == "default"


def connections_to(port: int) -> int:
    """This process's established TCP connections to `port` on 127.0.0.1."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since the listing
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    established = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port, state, inode = int(fields[2].split(":")[1], 16), fields[3], fields[9]
        established += remote_port == port and state == "01" and inode in inodes
    return established


def test_searches_and_logins_leave_no_connection_open(identity: IdentityService, ldap_url: str) -> None:
    port = urlsplit(ldap_url).port
    assert port is not None
    # ldap3's connections hold reference cycles: with the collector off, a connection left open stays
    # open, as it would in a server between collections.
    gc.disable()
    try:
        identity.api.list_users()
        corp_login(identity, "bob", "bob-pass")
        with pytest.raises(Unauthorized):
            corp_login(identity, "bob", "wrong")
        assert connections_to(port) == 0
    finally:
        gc.enable()
