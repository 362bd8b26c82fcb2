"""The dashboard over real HTTP, as a browser without JavaScript meets it: log-in, sessions, CSRF, the
project overview and the instance pages, against the whole in-process cloud."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from openstack.connection import Connection

from overcast.dashboard.pages import images as image_pages
from overcast.dashboard.pages import instances as instance_pages
from overcast.service import Service
from overcast.volume.drivers.fake import FakeVolumeDriver
from overcast.volume.manager import VolumeManager
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud, project_token
from tests.support.dashboard import FormClient
from tests.support.ports import free_port
from tests.support.waiting import WAIT_SECONDS, wait_until

SMALL = "2"
OVERCAST = Path(sys.executable).with_name("overcast")
FAILED_LOGINS_TO_LOCK = 2


def dashboard_sessions(cloud: InProcessCloud) -> object:
    for route in cloud.server.config.app.routes:  # type: ignore[attr-defined]
        if getattr(route, "path", "") == "/dashboard":
            return route.app.state.dashboard.sessions
    raise AssertionError("the API app mounts no dashboard")


@pytest.fixture(scope="module")
def cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessCloud]:
    """The shared cloud with a volume host beside it; a user is locked after two failed log-ins (each
    costs a real password hash)."""
    data_dir = tmp_path_factory.mktemp("dashboard")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OVERCAST_IDENTITY_MAX_FAILED_LOGINS", str(FAILED_LOGINS_TO_LOCK))
        running = InProcessCloud(data_dir, volume_driver="fake")
    volume_host = VolumeManager(
        running.cloud, "volume-1", driver=FakeVolumeDriver(data_dir / "volume-pool"), images=running.image_api
    )
    volume_service = Service(running.cloud, volume_host)
    volume_service.start()
    yield running
    volume_service.stop()
    running.stop()


@pytest.fixture(scope="module")
def other_user(cloud: InProcessCloud, admin: Connection) -> tuple[str, str]:
    """A member of two projects of their own (other-a, other-b), none shared with demo."""
    password = "other-secret-password"
    user = admin.identity.create_user(name="other", password=password, domain_id="default")
    member = admin.identity.find_role("member")
    for name in ("other-a", "other-b"):
        project = admin.identity.create_project(name=name, domain_id="default")
        admin.identity.assign_project_role_to_user(project, user, member)
    return "other", password


@pytest.fixture(scope="module")
def demo_browser(cloud: InProcessCloud) -> Iterator[FormClient]:
    browser = FormClient(cloud)
    response = browser.log_in("demo", cloud.password("demo"))
    assert response.status_code == 303, response.text
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def launched(cloud: InProcessCloud, demo_browser: FormClient, demo: Connection) -> str:
    """A server launched with the wizard, ACTIVE."""
    demo_browser.get("/project/instances/launch")
    response = demo_browser.post(
        "/project/instances/launch",
        {
            "name": "from-the-wizard",
            "count": "1",
            "image": IMAGE_ID,
            "flavor": TINY,
            "security_group": "default",
            "user_data": "#!/bin/sh\necho hello\n",
        },
    )
    assert response.status_code == 303, response.text
    server = demo.compute.find_server("from-the-wizard")
    assert server is not None
    wait_until(lambda: demo.compute.get_server(server.id).status == "ACTIVE", timeout=30)
    return str(server.id)


def test_pages_send_a_browser_without_a_session_to_the_log_in(cloud: InProcessCloud) -> None:
    with httpx.Client(base_url=cloud.base_url, timeout=WAIT_SECONDS) as http:
        response = http.get("/dashboard/project/instances/")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login?next=/dashboard/project/instances/"


def test_log_in_sets_a_private_session_cookie_and_lands_on_the_overview(cloud: InProcessCloud) -> None:
    browser = FormClient(cloud)
    try:
        response = browser.log_in("demo", cloud.password("demo"))
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/"
        cookie = next(
            value
            for value in response.headers.get_list("set-cookie")
            if value.startswith("overcast_dashboard=")
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/dashboard" in cookie
        assert "Secure" not in cookie  # plain HTTP here; HTTPS adds it
        overview = browser.get("/project/")
        assert overview.status_code == 200
        for label in (
            "Instances",
            "vCPUs",
            "RAM",
            "Volumes",
            "Volume storage",
            "Floating IPs",
            "Security groups",
        ):
            assert f">{label}</span>" in overview.text
        # The token never reaches the browser.
        token = dashboard_sessions(cloud).get(browser.http.cookies["overcast_dashboard"]).login.token  # type: ignore[attr-defined]
        assert token not in overview.text and token not in str(response.headers)
    finally:
        browser.close()


def test_a_wrong_password_is_a_clear_page(cloud: InProcessCloud) -> None:
    browser = FormClient(cloud)
    try:
        response = browser.log_in("demo", "not-the-password")
        assert response.status_code == 401
        assert "The domain, user name or password is not correct." in response.text
        assert "overcast_dashboard=" not in str(response.headers.get_list("set-cookie"))
    finally:
        browser.close()


def test_a_log_in_without_its_csrf_token_is_refused(cloud: InProcessCloud) -> None:
    browser = FormClient(cloud)
    try:
        browser.get("/login")
        response = browser.post(
            "/login", {"username": "demo", "password": cloud.password("demo")}, csrf=False
        )
        assert response.status_code == 403
        assert "security token" in response.text
    finally:
        browser.close()


def test_a_locked_account_is_told_so(cloud: InProcessCloud, admin: Connection) -> None:
    user = admin.identity.create_user(name="lockable", password="right-password-1", domain_id="default")
    browser = FormClient(cloud)
    try:
        for _ in range(FAILED_LOGINS_TO_LOCK):
            assert browser.log_in("lockable", "wrong-password").status_code == 401
        response = browser.log_in("lockable", "right-password-1")
    finally:
        browser.close()
        admin.identity.delete_user(user)
    assert response.status_code == 429
    assert re.search(
        r"The account is locked after too many failed log-ins .*Try again in \d+ seconds", response.text
    )


def test_the_wizard_launches_a_server_that_the_list_shows(
    cloud: InProcessCloud, demo_browser: FormClient, launched: str
) -> None:
    listing = demo_browser.get("/project/instances/")
    assert listing.status_code == 200
    row = re.search(rf'<tr id="server-{launched}" data-status="(\w+)">', listing.text)
    assert row and row.group(1) == "ACTIVE"
    assert "from-the-wizard" in listing.text and "m1.tiny" in listing.text
    # Nothing is changing: the rows do not poll.
    assert 'hx-trigger="every' not in listing.text


def walk(browser: FormClient, path: str, rel: str, start: str = "") -> list[list[str]]:
    """The row ids of each page from `start` on, following the `rel` (next or prev) links to the end."""
    pages: list[list[str]] = []
    url = start or path
    while url:
        assert len(pages) < 50, f"{path} pages on by {rel} without end: {pages[-3:]}"
        target = urlsplit(url.removeprefix("/dashboard"))
        page = browser.get(target.path, **dict(parse_qsl(target.query)))
        assert page.status_code == 200, page.text
        pages.append(re.findall(r'<tr id="(?:server|image)-([^"]+)"', page.text))
        found = re.search(rf'<a rel="{rel}" href="([^"]+)"', page.text)
        url = found.group(1).replace("&amp;", "&") if found else ""
    return pages


def test_paged_lists_go_back_as_they_went_forward(
    demo_browser: FormClient, demo: Connection, launched: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers = [
        demo.compute.create_server(name=f"paged-{index}", image_id=IMAGE_ID, flavor_id=TINY, networks="none")
        for index in range(2)
    ]
    images = [
        demo.image.post("/images", json={"name": f"paged-{index}", "disk_format": "raw"}).json()["id"]
        for index in range(2)
    ]
    try:
        monkeypatch.setattr(instance_pages, "PAGE_SIZE", 1)
        monkeypatch.setattr(image_pages, "PAGE_SIZE", 1)
        for path in ("/project/instances/", "/project/images/"):
            forward = walk(demo_browser, path, "next")
            assert len(forward) >= 3 and all(len(rows) == 1 for rows in forward), forward
            assert 'rel="prev"' not in demo_browser.get(path).text  # the first page has none
            # From the last page back to the first, by the Previous links.
            backward = walk(demo_browser, path, "prev", start=f"{path}?marker={forward[-2][0]}")
            assert backward == list(reversed(forward)), (path, forward, backward)
        expected = [server.id for server in demo.compute.servers()]
        assert [rows[0] for rows in walk(demo_browser, "/project/instances/", "next")] == expected
    finally:
        for image_id in images:
            demo.image.delete(f"/images/{image_id}")
        for server in servers:
            demo.compute.delete_server(server)
        for server in servers:
            demo.compute.wait_for_delete(server, interval=0.1, wait=30)


def test_the_list_polls_while_a_server_changes_and_stops_when_it_settles(
    cloud: InProcessCloud, demo_browser: FormClient, launched: str, demo: Connection
) -> None:
    demo_browser.get(f"/project/instances/{launched}")
    response = demo_browser.post(
        f"/project/instances/{launched}/action/stop", {"back": f"/project/instances/{launched}"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/dashboard/project/instances/{launched}"
    wait_until(lambda: demo.compute.get_server(launched).status == "SHUTOFF", timeout=30)
    rows = demo_browser.get("/project/instances/", rows="1")
    assert rows.text.lstrip().startswith('<tbody id="instance-rows"')
    assert f'<tr id="server-{launched}" data-status="SHUTOFF">' in rows.text
    assert "Start" in rows.text and "Shut off" not in rows.text
    # The row menu's one form: the button pressed names the action.
    assert f'<form method="post" action="/dashboard/project/instances/{launched}/act">' in rows.text
    assert '<button type="submit" name="action" value="start">Start</button>' in rows.text
    demo_browser.get("/project/instances/")
    started = demo_browser.post(f"/project/instances/{launched}/act", {"action": "start", "back": ""})
    assert started.status_code == 303 and started.headers["location"] == "/dashboard/project/instances/"
    wait_until(lambda: demo.compute.get_server(launched).status == "ACTIVE", timeout=30)
    demo_browser.get("/project/instances/")
    assert demo_browser.post(f"/project/instances/{launched}/act", {"action": "explode"}).status_code == 404


def test_an_action_without_the_csrf_token_is_refused_and_not_done(
    cloud: InProcessCloud, demo_browser: FormClient, launched: str, demo: Connection
) -> None:
    response = demo_browser.post(f"/project/instances/{launched}/action/stop", csrf=False)
    assert response.status_code == 403
    assert demo.compute.get_server(launched).status == "ACTIVE"
    # Another session's token is no better.
    response = demo_browser.post(
        f"/project/instances/{launched}/action/stop", {"csrf_token": "forged"}, csrf=False
    )
    assert response.status_code == 403


def test_the_detail_page_shows_the_action_log_and_console_log(
    demo_browser: FormClient, launched: str
) -> None:
    page = demo_browser.get(f"/project/instances/{launched}")
    assert page.status_code == 200
    assert '<h2 id="actions-heading">Action log</h2>' in page.text
    assert "<td>create</td>" in page.text
    assert 'class="console-log"' in page.text


def test_an_api_refusal_is_shown_with_the_apis_own_message(demo_browser: FormClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    page = demo_browser.get(f"/project/instances/{missing}")
    assert page.status_code == 404
    assert f"Instance {missing} could not be found." in page.text
    demo_browser.get("/project/instances/launch")
    refused = demo_browser.post(
        "/project/instances/launch",
        {"name": "x", "count": "1", "image": IMAGE_ID, "flavor": "no-such-flavor"},
    )
    assert refused.status_code == 400
    assert "Flavor no-such-flavor could not be found." in refused.text or "flavor" in refused.text.lower()


def test_another_projects_user_sees_nothing_and_gets_404(
    cloud: InProcessCloud, launched: str, other_user: tuple[str, str]
) -> None:
    browser = FormClient(cloud)
    try:
        assert browser.log_in(*other_user).status_code == 303
        listing = browser.get("/project/instances/")
        assert "from-the-wizard" not in listing.text and launched not in listing.text
        assert browser.get(f"/project/instances/{launched}").status_code == 404
        assert browser.get(f"/project/instances/{launched}/action/resize").status_code == 404
        browser.get("/project/instances/")
        assert browser.post(f"/project/instances/{launched}/action/stop").status_code == 404
    finally:
        browser.close()


def test_the_project_switcher_moves_the_session_to_another_project(
    cloud: InProcessCloud, other_user: tuple[str, str]
) -> None:
    browser = FormClient(cloud)
    try:
        browser.log_in(*other_user)
        overview = browser.get("/project/")
        assert "Overview of other-a" in overview.text
        projects = dict(re.findall(r'<option value="(\w+)"[^>]*>(other-\w)</option>', overview.text))
        assert set(projects.values()) == {"other-a", "other-b"}
        target = next(project for project, name in projects.items() if name == "other-b")
        response = browser.post("/switch", {"project_id": target})
        assert response.status_code == 303
        assert "Overview of other-b" in browser.get("/project/").text
        # Not a project of theirs: refused.
        browser.get("/project/")
        assert browser.post("/switch", {"project_id": "0" * 32}).status_code == 404
    finally:
        browser.close()


def test_log_out_revokes_the_token_and_ends_the_session(cloud: InProcessCloud) -> None:
    browser = FormClient(cloud)
    try:
        browser.log_in("demo", cloud.password("demo"))
        session_id = browser.http.cookies["overcast_dashboard"]
        token = dashboard_sessions(cloud).get(session_id).login.token  # type: ignore[attr-defined]
        browser.get("/project/")
        response = browser.post("/logout")
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/login?reason=logged_out"
        admin_token = project_token(cloud, "admin")
        check = httpx.get(
            f"{cloud.base_url}/identity/v3/auth/tokens",
            headers={"X-Auth-Token": admin_token, "X-Subject-Token": token}, timeout=WAIT_SECONDS,
        )
        assert check.status_code == 404
        # The old cookie, replayed, finds no session.
        cookies = {"overcast_dashboard": session_id}
        with httpx.Client(base_url=cloud.base_url, cookies=cookies, timeout=WAIT_SECONDS) as replay:
            assert replay.get("/dashboard/project/").status_code == 303
    finally:
        browser.close()


def log_out(http: httpx.Client) -> httpx.Response:
    """Posts the log-out form of the key pairs page (any signed-in page carries it)."""
    page = http.get("/dashboard/project/key_pairs/")
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    return http.post("/dashboard/logout", data={"csrf_token": csrf.group(1)})


def test_overcast_service_dashboard_shares_log_ins_and_log_outs_with_the_api_processes_dashboard(
    cloud: InProcessCloud,
) -> None:
    """The scaled-out shape: a dashboard process of its own reaches the APIs over HTTP and keeps sessions in
    the cloud's database, so a log-in made at one dashboard is good at the other and a log-out at either
    ends it at both."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("OVERCAST_")}
    env.update(
        OVERCAST_DASHBOARD_LISTEN=f"127.0.0.1:{port}",
        OVERCAST_PUBLIC_URL=cloud.base_url,
        OVERCAST_DATA_DIR=str(cloud.data_dir / "dashboard-service"),
        OVERCAST_DATABASE_URL=cloud.settings.sql_url,
    )
    process = subprocess.Popen(
        [str(OVERCAST), "service", "dashboard"], env=env, stdout=subprocess.PIPE, text=True
    )
    browser = FormClient(cloud)
    try:
        assert process.stdout is not None
        assert (
            process.stdout.readline().strip()
            == f"overcast dashboard serving http://127.0.0.1:{port}/dashboard/"
        )
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            assert http.get("/").headers["location"] == "/dashboard/"
            page = http.get("/dashboard/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf
            form = {
                "csrf_token": csrf.group(1),
                "domain": "Default",
                "username": "demo",
                "password": cloud.password("demo"),
                "next": "",
            }
            assert http.post("/dashboard/login", data=form).status_code == 303
            overview = http.get("/dashboard/project/")
            assert overview.status_code == 200 and "Overview of demo" in overview.text
            # The API process's dashboard knows the session the other one made, and ends it at log-out.
            made_there = {"overcast_dashboard": http.cookies["overcast_dashboard"]}
            with httpx.Client(base_url=cloud.base_url, cookies=made_there, timeout=30) as at_api:
                assert "Overview of demo" in at_api.get("/dashboard/project/").text
                assert log_out(at_api).status_code == 303
            assert http.get("/dashboard/project/").headers["location"].startswith("/dashboard/login")
            # And the other way round: a log-in at the API process's dashboard, a log-out at the other.
            browser.log_in("demo", cloud.password("demo"))
            made_here = {"overcast_dashboard": browser.http.cookies["overcast_dashboard"]}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", cookies=made_here, timeout=30) as other:
                assert log_out(other).status_code == 303
            assert browser.get("/project/").headers["location"].startswith("/dashboard/login")
        assert not (cloud.data_dir / "dashboard-service").exists()  # nothing kept on its own disk
    finally:
        browser.close()
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_flavors_of_the_launch_wizard_show_their_size(demo_browser: FormClient) -> None:
    page = demo_browser.get("/project/instances/launch")
    assert re.search(r"m1\.small: 1 vCPU, 2048 MiB RAM, 20 GiB disk", page.text)
    assert f'value="{SMALL}"' in page.text


def test_a_key_pair_made_by_the_cloud_is_downloaded_once(demo_browser: FormClient, demo: Connection) -> None:
    demo_browser.get("/project/key_pairs/create")
    response = demo_browser.post(
        "/project/key_pairs/create", {"name": "made-here", "type": "ssh", "public_key": ""}
    )
    assert response.status_code == 303
    listing = demo_browser.get("/project/key_pairs/")
    assert "made-here" in listing.text and "download made-here's private key" in listing.text
    download = demo_browser.get("/project/key_pairs/made-here/private-key")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="made-here.pem"'
    assert download.headers["cache-control"] == "no-store"
    assert "PRIVATE KEY-----" in download.text
    # The key pair the cloud keeps is the public half of the downloaded key.
    assert demo.compute.get_keypair("made-here").public_key.startswith("ssh-")
    again = demo_browser.get("/project/key_pairs/made-here/private-key")
    assert again.status_code == 404
    assert "downloaded already" in again.text
    assert "download made-here" not in demo_browser.get("/project/key_pairs/").text


def test_a_key_pair_is_imported_and_deleted(demo_browser: FormClient, demo: Connection) -> None:
    public_key = demo.compute.create_keypair(name="throwaway").public_key
    demo.compute.delete_keypair("throwaway")
    demo_browser.get("/project/key_pairs/create")
    imported = demo_browser.post("/project/key_pairs/create", {"name": "imported", "public_key": public_key})
    assert imported.status_code == 303
    assert demo.compute.get_keypair("imported").public_key == public_key
    assert demo_browser.get("/project/key_pairs/imported/private-key").status_code == 404
    refused = demo_browser.post("/project/key_pairs/create", {"name": "imported", "public_key": public_key})
    assert refused.status_code == 409
    assert "already exists" in refused.text
    demo_browser.get("/project/key_pairs/")
    assert demo_browser.post("/project/key_pairs/imported/delete").status_code == 303
    assert demo.compute.find_keypair("imported") is None


def upload_image(browser: FormClient, name: str, data: bytes, visibility: str = "private") -> httpx.Response:
    """What the upload page's script does: make the record (JSON answer), then PUT the file."""
    browser.get("/project/images/create")
    form = {
        "csrf_token": browser.csrf(),
        "name": name,
        "disk_format": "raw",
        "container_format": "bare",
        "visibility": visibility,
        "min_disk": "0",
        "min_ram": "0",
    }
    made = browser.http.post("/project/images/create", data=form, headers={"Accept": "application/json"})
    assert made.status_code == 201, made.text
    return browser.http.put(
        made.json()["data_url"].removeprefix("/dashboard"),
        content=data,
        headers={"X-CSRF-Token": form["csrf_token"], "Accept": "application/json"},
    )


def test_an_image_is_uploaded_through_the_dashboard(demo_browser: FormClient, demo: Connection) -> None:
    data = bytes(range(256)) * 4096 * 3  # 3 MiB
    response = upload_image(demo_browser, "uploaded-here", data)
    assert response.status_code == 200, response.text
    image = demo.image.find_image("uploaded-here")
    assert image is not None and image.status == "active" and image.size == len(data)
    assert response.json()["detail_url"] == f"/dashboard/project/images/{image.id}"
    assert f'<tr id="image-{image.id}" data-status="active">' in demo_browser.get("/project/images/").text
    assert hashlib.sha512(data).hexdigest() in demo_browser.get(f"/project/images/{image.id}").text


def test_an_upload_without_the_csrf_header_is_refused(demo_browser: FormClient, demo: Connection) -> None:
    demo_browser.get("/project/images/create")
    form = {
        "csrf_token": demo_browser.csrf(),
        "name": "no-token",
        "disk_format": "raw",
        "container_format": "bare",
    }
    made = demo_browser.http.post("/project/images/create", data=form, headers={"Accept": "application/json"})
    refused = demo_browser.http.put(
        made.json()["data_url"].removeprefix("/dashboard"),
        content=b"x" * 1024,
        headers={"Accept": "application/json"},
    )
    assert refused.status_code == 403 and "security token" in refused.json()["message"]
    assert demo.image.get_image(made.json()["id"]).status == "queued"


def test_image_properties_visibility_members_and_delete(
    demo_browser: FormClient, demo: Connection, admin: Connection, other_user: tuple[str, str]
) -> None:
    upload_image(demo_browser, "to-edit", b"\0" * 4096)
    image = demo.image.find_image("to-edit")
    assert image is not None
    other_project = admin.identity.find_project("other-a")
    demo_browser.get(f"/project/images/{image.id}")
    saved = demo_browser.post(
        f"/project/images/{image.id}/edit",
        {
            "name": "edited",
            "visibility": "shared",
            "min_disk": "1",
            "min_ram": "64",
            "properties": "os_distro=cirros\nhw_disk_bus = virtio\n",
        },
    )
    assert saved.status_code == 303
    edited = demo.image.get_image(image.id)
    assert (edited.name, edited.visibility, edited.min_disk, edited.min_ram) == ("edited", "shared", 1, 64)
    assert edited.os_distro == "cirros" and edited.hw_disk_bus == "virtio"
    page = demo_browser.get(f"/project/images/{image.id}")
    assert "os_distro=cirros" in page.text and "Members" in page.text
    added = demo_browser.post(f"/project/images/{image.id}/members", {"member": other_project.id})
    assert added.status_code == 303
    assert f"{other_project.id} (pending)" in demo_browser.get(f"/project/images/{image.id}").text
    # A property line gone removes the property; a bad line is the form's own 400.
    demo_browser.post(
        f"/project/images/{image.id}/edit",
        {
            "name": "edited",
            "visibility": "shared",
            "min_disk": "1",
            "min_ram": "64",
            "properties": "os_distro=cirros",
        },
    )
    assert demo.image.get_image(image.id).hw_disk_bus is None
    demo_browser.get(f"/project/images/{image.id}")
    bad = demo_browser.post(
        f"/project/images/{image.id}/edit", {"name": "edited", "properties": "no equals sign"}
    )
    assert bad.status_code == 400 and "is not key=value" in bad.text
    demo_browser.get(f"/project/images/{image.id}")
    assert demo_browser.post(f"/project/images/{image.id}/delete").status_code == 303
    assert demo.image.find_image(image.id) is None


def test_another_projects_private_image_is_a_404(
    cloud: InProcessCloud, demo_browser: FormClient, other_user: tuple[str, str]
) -> None:
    upload_image(demo_browser, "demo-private", b"\1" * 512)
    browser = FormClient(cloud)
    try:
        browser.log_in(*other_user)
        listing = browser.get("/project/images/")
        assert "demo-private" not in listing.text
        image_id = re.search(
            r'<tr id="image-([0-9a-f-]+)"[^>]*>\s*<td><a [^>]*>demo-private<',
            demo_browser.get("/project/images/").text,
        )
        assert image_id
        assert browser.get(f"/project/images/{image_id[1]}").status_code == 404
    finally:
        browser.close()


ADMIN_PAGES = (
    "/admin/hypervisors/",
    "/admin/services/",
    "/admin/instances/",
    "/admin/flavors/",
    f"/admin/flavors/{TINY}/",
    "/admin/aggregates/",
    "/admin/identity/",
    "/admin/quotas/",
)
# The admin forms a member might post anyway: each is refused before any API call.
ADMIN_FORMS = (
    ("/admin/flavors/create", {"name": "members-flavor", "vcpus": "1", "ram": "64", "disk": "1"}),
    (f"/admin/flavors/{TINY}/access", {"project_id": "x", "change": "add"}),
    ("/admin/aggregates/create", {"name": "members-aggregate"}),
    ("/admin/identity/projects/create", {"name": "members-project"}),
    ("/admin/identity/users/create", {"name": "members-user", "password": "members-password"}),
    ("/admin/identity/assignments/grant", {"actor": "user:x", "role_id": "x", "project_id": "x"}),
)


@pytest.fixture(scope="module")
def admin_browser(cloud: InProcessCloud) -> Iterator[FormClient]:
    browser = FormClient(cloud)
    assert browser.log_in("admin", cloud.password("admin")).status_code == 303
    yield browser
    browser.close()


def service_status(admin: Connection, service_id: str) -> str:
    return str(next(service.status for service in admin.compute.services() if service.id == service_id))


def test_a_member_is_refused_every_admin_page(demo_browser: FormClient, admin: Connection) -> None:
    overview = demo_browser.get("/project/")
    assert "/dashboard/admin/" not in overview.text  # no admin links for a member
    for path in ADMIN_PAGES:
        page = demo_browser.get(path)
        assert page.status_code == 403, path
        assert "This page is for administrators of the cloud." in page.text
    service = next(iter(admin.compute.services()))
    demo_browser.get("/project/")
    refused = demo_browser.post(f"/admin/services/{service.id}/status", {"status": "disabled"})
    assert refused.status_code == 403
    assert service_status(admin, service.id) == "enabled"
    for path, form in ADMIN_FORMS:
        demo_browser.get("/project/")
        assert demo_browser.post(path, dict(form)).status_code == 403, path
    assert admin.compute.find_flavor("members-flavor", ignore_missing=True) is None
    assert all(aggregate.name != "members-aggregate" for aggregate in admin.compute.aggregates())
    assert admin.identity.find_project("members-project") is None
    assert admin.identity.find_user("members-user") is None


def test_an_admin_sees_hypervisors_use_as_bars(admin_browser: FormClient) -> None:
    page = admin_browser.get("/admin/hypervisors/")
    assert page.status_code == 200
    for host in ("compute-1", "compute-2"):
        assert f">{host}</h2>" in page.text
    assert page.text.count("<meter") == 6
    assert re.search(r">vCPUs</span>\s*<meter", page.text)


def test_an_admin_disables_and_enables_a_compute_service(
    admin_browser: FormClient, admin: Connection
) -> None:
    service = next(s for s in admin.compute.services() if s.host == "compute-2" and "compute" in s.binary)
    page = admin_browser.get("/admin/services/")
    assert f'<tr id="service-{service.id}" data-status="enabled" data-state="up">' in page.text
    disabled = admin_browser.post(f"/admin/services/{service.id}/status", {"status": "disabled"})
    assert disabled.status_code == 303
    page = admin_browser.get("/admin/services/")
    assert f'<tr id="service-{service.id}" data-status="disabled" data-state="up">' in page.text
    assert "Disabled by admin from the dashboard" in page.text
    assert service_status(admin, service.id) == "disabled"
    admin_browser.post(f"/admin/services/{service.id}/status", {"status": "enabled"})
    assert service_status(admin, service.id) == "enabled"


def test_an_admin_sees_every_projects_instances_with_their_host(
    admin_browser: FormClient, launched: str, admin: Connection
) -> None:
    page = admin_browser.get("/admin/instances/")
    assert page.status_code == 200
    row = re.search(rf'<tr id="server-{launched}">\s*<td>demo</td>\s*<td>(compute-\d)</td>', page.text)
    assert row and row[1] == admin.compute.get_server(launched).compute_host


def volume_row(browser: FormClient, volume_id: str) -> str:
    found = re.search(
        rf'<tr id="volume-{volume_id}" data-status="([\w-]+)">', browser.get("/project/volumes/").text
    )
    return found[1] if found else ""


def test_a_volume_is_created_attached_extended_snapshotted_detached_and_deleted(
    demo_browser: FormClient, demo: Connection, launched: str
) -> None:
    demo_browser.get("/project/volumes/create")
    created = demo_browser.post("/project/volumes/create", {"name": "data", "size": "1", "source": ""})
    assert created.status_code == 303, created.text
    volume = demo.block_storage.find_volume("data")
    assert volume is not None
    wait_until(lambda: volume_row(demo_browser, volume.id) == "available", 30, what="the volume to be made")
    page = demo_browser.get(f"/project/volumes/{volume.id}/action/attach")
    assert "from-the-wizard" in page.text
    assert (
        demo_browser.post(f"/project/volumes/{volume.id}/action/attach", {"server": launched}).status_code
        == 303
    )
    wait_until(lambda: volume_row(demo_browser, volume.id) == "in-use", 30, what="the attachment")
    assert re.search(r"from-the-wizard on /dev/vd\w", demo_browser.get("/project/volumes/").text)
    demo_browser.get(f"/project/volumes/{volume.id}/action/extend")
    extended = demo_browser.post(f"/project/volumes/{volume.id}/action/extend", {"size": "2"})
    assert extended.status_code == 303, extended.text
    wait_until(lambda: demo.block_storage.get_volume(volume.id).size == 2, 30, what="the extend")
    wait_until(lambda: volume_row(demo_browser, volume.id) == "in-use", 30, what="the extend to end")
    demo_browser.get(f"/project/volumes/{volume.id}/action/snapshot")
    demo_browser.post(f"/project/volumes/{volume.id}/action/snapshot", {"name": "data-snap"})
    snapshot = demo.block_storage.find_snapshot("data-snap")
    assert snapshot is not None
    demo_browser.get("/project/volumes/")
    demo_browser.post(f"/project/volumes/{volume.id}/action/detach")
    wait_until(lambda: volume_row(demo_browser, volume.id) == "available", 30, what="the detach")
    wait_until(
        lambda: demo.block_storage.get_snapshot(snapshot.id).status == "available", 30, what="snapshot"
    )
    demo_browser.get("/project/volumes/")
    assert demo_browser.post(f"/project/volumes/snapshots/{snapshot.id}/delete").status_code == 303
    wait_until(lambda: demo.block_storage.find_snapshot(snapshot.id) is None, 30, what="the snapshot delete")
    demo_browser.get("/project/volumes/")
    assert demo_browser.post(f"/project/volumes/{volume.id}/action/delete").status_code == 303
    wait_until(lambda: demo.block_storage.find_volume(volume.id) is None, 30, what="the volume delete")


def test_a_refused_volume_shows_the_apis_message(demo_browser: FormClient) -> None:
    demo_browser.get("/project/volumes/create")
    refused = demo_browser.post("/project/volumes/create", {"name": "huge", "size": "100000", "source": ""})
    assert refused.status_code == 413
    assert "exceed" in refused.text.lower() or "quota" in refused.text.lower()
    demo_browser.get("/project/volumes/create")
    bad = demo_browser.post("/project/volumes/create", {"name": "x", "size": "lots", "source": ""})
    assert bad.status_code == 400 and "The size must be a whole number." in bad.text


def test_security_groups_and_their_rules(demo_browser: FormClient, demo: Connection) -> None:
    demo_browser.get("/project/security_groups/")
    created = demo_browser.post("/project/security_groups/create", {"name": "web", "description": "HTTP in"})
    assert created.status_code == 303
    group = demo.network.find_security_group("web", project_id=demo.current_project_id)
    assert (
        group is not None and created.headers["location"] == f"/dashboard/project/security_groups/{group.id}"
    )
    demo_browser.get(f"/project/security_groups/{group.id}")
    added = demo_browser.post(
        f"/project/security_groups/{group.id}/rules",
        {
            "direction": "ingress",
            "protocol": "tcp",
            "port_range_min": "80",
            "port_range_max": "",
            "remote_ip_prefix": "203.0.113.0/24",
        },
    )
    assert added.status_code == 303
    rule = next(
        r for r in demo.network.security_group_rules(security_group_id=group.id) if r.port_range_min == 80
    )
    assert (rule.protocol, rule.port_range_max, rule.remote_ip_prefix) == ("tcp", 80, "203.0.113.0/24")
    page = demo_browser.get(f"/project/security_groups/{group.id}")
    assert re.search(
        rf'<tr id="rule-{rule.id}">\s*<td>ingress</td>\s*<td>IPv4</td>\s*<td>tcp</td>\s*<td>80</td>'
        r"\s*<td>203\.0\.113\.0/24</td>",
        page.text,
    )
    refused = demo_browser.post(
        f"/project/security_groups/{group.id}/rules", {"protocol": "tcp", "port_range_min": "70000"}
    )
    assert refused.status_code == 400 and "from 0 to 65535" in refused.text
    demo_browser.get(f"/project/security_groups/{group.id}")
    assert demo_browser.post(f"/project/security_groups/{group.id}/rules/{rule.id}/delete").status_code == 303
    assert all(r.id != rule.id for r in demo.network.security_group_rules(security_group_id=group.id))
    demo_browser.get(f"/project/security_groups/{group.id}")
    assert demo_browser.post(f"/project/security_groups/{group.id}/delete").status_code == 303
    assert demo.network.find_security_group(group.id) is None


def test_floating_ips_are_allocated_and_released(
    demo_browser: FormClient, demo: Connection, admin: Connection
) -> None:
    public = admin.network.create_network(name="public", is_router_external=True)
    admin.network.create_subnet(
        network_id=public.id, ip_version=4, cidr="198.51.100.0/24", is_dhcp_enabled=False
    )
    page = demo_browser.get("/project/floating_ips/")
    assert "No floating IPs." in page.text and f'<option value="{public.id}">public</option>' in page.text
    assert demo_browser.post("/project/floating_ips/allocate", {"network": public.id}).status_code == 303
    (address,) = list(demo.network.ips(project_id=demo.current_project_id))
    page = demo_browser.get("/project/floating_ips/")
    assert re.search(
        rf'<tr id="floating-ip-{address.id}">\s*<td>198\.51\.100\.\d+</td>\s*<td>nothing</td>', page.text
    )
    assert demo_browser.post(f"/project/floating_ips/{address.id}/release").status_code == 303
    assert list(demo.network.ips(project_id=demo.current_project_id)) == []


def test_networks_page_draws_networks_routers_and_instances(
    demo_browser: FormClient, demo: Connection, admin: Connection, launched: str
) -> None:
    outside = admin.network.create_network(name="outside", is_router_external=True)
    admin.network.create_subnet(
        network_id=outside.id, ip_version=4, cidr="192.0.2.0/24", is_dhcp_enabled=False
    )
    demo_browser.get("/project/networks/")
    created = demo_browser.post("/project/networks/create", {"name": "inside", "cidr": "10.20.0.0/24"})
    assert created.status_code == 303
    inside = demo.network.find_network("inside")
    assert inside is not None
    subnet = next(demo.network.subnets(network_id=inside.id))
    router = demo.network.create_router(name="edge", external_gateway_info={"network_id": outside.id})
    demo.network.add_interface_to_router(router, subnet=subnet.id)
    demo.network.create_port(network_id=inside.id, device_owner="compute:nova", device_id=launched)
    page = demo_browser.get("/project/networks/")
    assert page.status_code == 200
    assert re.search(r"<text [^>]*>inside \(10\.20\.0\.0/24\)</text>", page.text)
    assert f'id="topology-router-{router.id}"' in page.text and ">edge</text>" in page.text
    assert page.text.count('class="leg"') >= 2
    assert re.search(
        r">from-the-wizard</text>\s*<text [^>]*class=\"address\">10\.20\.0\.\d+</text>", page.text
    )
    assert "Network inside: from-the-wizard 10.20.0." in page.text  # the picture's facts as text


def test_an_admin_creates_a_private_flavor_with_extra_specs_and_deletes_it(
    admin_browser: FormClient, admin: Connection, other_user: tuple[str, str]
) -> None:
    project = admin.identity.find_project("other-a")
    admin_browser.get("/admin/flavors/")
    created = admin_browser.post(
        "/admin/flavors/create",
        {
            "name": "gpu.small",
            "vcpus": "2",
            "ram": "2048",
            "disk": "10",
            "projects": project.id,
            "extra_specs": "hw:cpu_policy=dedicated\nquota:disk_read_iops_sec = 500",
        },
    )
    assert created.status_code == 303, created.text
    flavor = admin.compute.find_flavor("gpu.small", is_public=None)
    assert flavor is not None and not flavor.is_public
    assert admin.compute.fetch_flavor_extra_specs(flavor).extra_specs == {
        "hw:cpu_policy": "dedicated",
        "quota:disk_read_iops_sec": "500",
    }
    assert [access["tenant_id"] for access in admin.compute.get_flavor_access(flavor)] == [project.id]
    page = admin_browser.get("/admin/flavors/")
    assert re.search(
        rf'<tr id="flavor-{flavor.id}">\s*'
        rf'<td><a href="/dashboard/admin/flavors/{flavor.id}/">gpu\.small</a></td>\s*<td>2</td>',
        page.text,
    )
    assert "<code>hw:cpu_policy=dedicated</code>" in page.text
    bad = admin_browser.post("/admin/flavors/create", {"name": "x", "vcpus": "two", "ram": "1", "disk": "1"})
    assert bad.status_code == 400 and "vCPUs must be a whole number." in bad.text
    admin_browser.get("/admin/flavors/")
    assert admin_browser.post(f"/admin/flavors/{flavor.id}/delete").status_code == 303
    assert admin.compute.find_flavor("gpu.small", is_public=None) is None


def test_an_admin_sees_why_a_flavor_has_no_valid_host_and_who_may_use_it(
    admin_browser: FormClient, admin: Connection, other_user: tuple[str, str]
) -> None:
    huge = admin.compute.create_flavor(
        name="huge.private", vcpus=1, ram=64 * 1024 * 1024, disk=1, is_public=False
    )
    try:
        page = admin_browser.get(f"/admin/flavors/{huge.id}/")
        assert page.status_code == 200, page.text
        refusal = re.search(r'<p class="error" id="no-valid-host" role="status">([^<]+)</p>', page.text)
        assert refusal and refusal.group(1).startswith("No valid host was found.")
        assert re.search(r'<tr class="rejecting">\s*<td>\w+Filter</td>', page.text)
        fits = admin_browser.get(f"/admin/flavors/{TINY}/")
        assert 'id="hosts-passing"' in fits.text and "<code>compute-1</code>" in fits.text
        nowhere = admin_browser.get(f"/admin/flavors/{TINY}/", availability_zone="nowhere")
        assert 'id="no-valid-host"' in nowhere.text
        # Access: give the private flavor to other-a, then take it back.
        project = admin.identity.find_project("other-a")
        admin_browser.get(f"/admin/flavors/{huge.id}/")
        given = admin_browser.post(
            f"/admin/flavors/{huge.id}/access", {"project_id": project.id, "change": "add"}
        )
        assert given.status_code == 303, given.text
        assert [entry["tenant_id"] for entry in admin.compute.get_flavor_access(huge)] == [project.id]
        page = admin_browser.get(f"/admin/flavors/{huge.id}/")
        assert re.search(r'<ul id="flavor-access">\s*<li>other-a', page.text)
        taken = admin_browser.post(
            f"/admin/flavors/{huge.id}/access", {"project_id": project.id, "change": "remove"}
        )
        assert taken.status_code == 303, taken.text
        assert list(admin.compute.get_flavor_access(huge)) == []
        admin_browser.get(f"/admin/flavors/{huge.id}/")
        again = admin_browser.post(
            f"/admin/flavors/{huge.id}/access", {"project_id": project.id, "change": "remove"}
        )
        assert again.status_code == 404  # Nova's own refusal, shown as a page
    finally:
        admin.compute.delete_flavor(huge)


def test_an_admin_sets_a_projects_quotas_across_the_services(
    admin_browser: FormClient, admin: Connection, other_user: tuple[str, str]
) -> None:
    project = admin.identity.find_project("other-b")
    assert "other-b</a>" in admin_browser.get("/admin/quotas/").text
    page = admin_browser.get(f"/admin/quotas/{project.id}")
    assert re.search(r'<tr id="quota-instances">.*?name="instances" value="10"', page.text, re.S)
    limits = {
        "instances": "4",
        "cores": "8",
        "ram": "8192",
        "volumes": "3",
        "gigabytes": "30",
        "floatingip": "2",
        "security_group": "-1",
    }
    assert admin_browser.post(f"/admin/quotas/{project.id}", limits).status_code == 303
    compute = admin.compute.get_quota_set(project.id)
    assert (compute.instances, compute.cores, compute.ram) == (4, 8, 8192)
    volume = admin.block_storage.get_quota_set(project.id)
    assert (volume.volumes, volume.gigabytes) == (3, 30)
    network = admin.network.get_quota(project.id)
    assert (network.floating_ips, network.security_groups) == (2, -1)
    assert 'name="floatingip" value="2"' in admin_browser.get(f"/admin/quotas/{project.id}").text
    bad = admin_browser.post(f"/admin/quotas/{project.id}", {**limits, "cores": "-5"})
    assert bad.status_code == 400 and "vCPUs must be a whole number." in bad.text


def test_the_overview_charts_the_last_weeks_vcpu_hours(demo_browser: FormClient, launched: str) -> None:
    page = demo_browser.get("/project/")
    assert page.status_code == 200
    days = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td><td>([\d.]+)</td></tr>", page.text)
    assert len(days) == 7 and days == sorted(days)
    assert page.text.count('<rect x="') == 7
    # The wizard's server has run today: today's bar is the week's tallest and not empty.
    today_hours = float(days[-1][1])
    assert today_hours > 0 and today_hours == max(float(hours) for _, hours in days)


def test_an_admin_sees_aggregates_zones_projects_users_and_role_assignments(
    admin_browser: FormClient, admin: Connection, other_user: tuple[str, str]
) -> None:
    aggregate = admin.compute.create_aggregate(name="fast-disks", availability_zone="zone-b")
    admin.compute.add_host_to_aggregate(aggregate, "compute-2")
    try:
        page = admin_browser.get("/admin/aggregates/")
        assert page.status_code == 200
        assert re.search(r'<tr id="aggregate-\d+">\s*<td>fast-disks</td>\s*<td>zone-b</td>', page.text)
        assert 'name="host" value="compute-2">compute-2' in page.text
        assert "zone-b (available): compute-2" in page.text
    finally:
        admin.compute.remove_host_from_aggregate(aggregate, "compute-2")
        admin.compute.delete_aggregate(aggregate)
    page = admin_browser.get("/admin/identity/")
    assert page.status_code == 200
    for name in ("demo", "other-a", "other-b"):
        assert re.search(rf'<li id="project-[^"]+">{name} <form', page.text), name
    assert re.search(r"<td>user other</td>\s*<td>member</td>\s*<td>project other-b</td>", page.text)


def test_an_admin_edits_an_aggregates_name_zone_hosts_and_metadata(
    admin_browser: FormClient, admin: Connection
) -> None:
    admin_browser.get("/admin/aggregates/")
    made = admin_browser.post("/admin/aggregates/create", {"name": "edited", "availability_zone": "zone-c"})
    assert made.status_code == 303, made.text
    aggregate = next(found for found in admin.compute.aggregates() if found.name == "edited")
    try:
        # The zone first: Nova refuses to move hosts that hold instances (compute-1's) to another zone.
        for change, form in (
            ("update", {"name": "edited-again", "availability_zone": ""}),
            ("add_host", {"host": "compute-1"}),
            ("metadata", {"metadata": "ssd=true\nspeed = fast"}),
            ("metadata", {"metadata": "ssd=true"}),
        ):
            admin_browser.get("/admin/aggregates/")
            response = admin_browser.post(f"/admin/aggregates/{aggregate.id}/{change}", form)
            assert response.status_code == 303, (change, response.text)
        current = admin.compute.get_aggregate(aggregate)
        assert current.name == "edited-again" and current.availability_zone is None
        assert current.hosts == ["compute-1"] and current.metadata == {"ssd": "true"}
        page = admin_browser.get("/admin/aggregates/")
        assert "<code>ssd=true</code>" in page.text
        bad = admin_browser.post(f"/admin/aggregates/{aggregate.id}/metadata", {"metadata": "no equals"})
        assert bad.status_code == 400 and "is not key=value" in bad.text
        admin_browser.get("/admin/aggregates/")
        # Nova refuses to delete an aggregate with hosts: its own message is shown.
        refused = admin_browser.post(f"/admin/aggregates/{aggregate.id}/delete")
        assert refused.status_code == 400 and "aggregate is not empty." in refused.text
        admin_browser.get("/admin/aggregates/")
        assert (
            admin_browser.post(
                f"/admin/aggregates/{aggregate.id}/remove_host", {"host": "compute-1"}
            ).status_code
            == 303
        )
        admin_browser.get("/admin/aggregates/")
        assert admin_browser.post(f"/admin/aggregates/{aggregate.id}/delete").status_code == 303
        assert all(found.id != aggregate.id for found in admin.compute.aggregates())
    finally:
        if any(found.id == aggregate.id for found in admin.compute.aggregates()):
            for host in admin.compute.get_aggregate(aggregate).hosts or []:
                admin.compute.remove_host_from_aggregate(aggregate, host)
            admin.compute.delete_aggregate(aggregate)


def test_an_admin_makes_a_project_user_and_group_grants_a_role_and_takes_it_all_back(
    cloud: InProcessCloud, admin_browser: FormClient, admin: Connection
) -> None:
    password = "made-here-secret-password"

    def post(path: str, form: dict[str, str | list[str]] | None = None) -> None:
        admin_browser.get("/admin/identity/")
        response = admin_browser.post(path, form)
        assert response.status_code == 303, (path, response.text)

    post("/admin/identity/projects/create", {"name": "made-here", "description": "from the dashboard"})
    project = admin.identity.find_project("made-here")
    assert project is not None and project.description == "from the dashboard"
    post(
        "/admin/identity/users/create",
        {"name": "made-user", "password": password, "default_project_id": project.id},
    )
    user = admin.identity.find_user("made-user")
    assert user is not None and user.default_project_id == project.id
    post("/admin/identity/groups/create", {"name": "made-group"})
    group = admin.identity.find_group("made-group")
    assert group is not None
    member = admin.identity.find_role("member")
    try:
        post(f"/admin/identity/groups/{group.id}/add_member", {"user_id": user.id})
        assert admin.identity.check_user_in_group(user, group)
        grant = {"actor": f"user:{user.id}", "role_id": member.id, "project_id": project.id}
        post("/admin/identity/assignments/grant", grant)
        # The user made here logs in to the project made here.
        newcomer = FormClient(cloud)
        try:
            assert newcomer.log_in("made-user", password).status_code == 303
            assert "Overview of made-here" in newcomer.get("/project/").text
        finally:
            newcomer.close()
        page = admin_browser.get("/admin/identity/")
        assert re.search(r"<td>user made-user</td>\s*<td>member</td>\s*<td>project made-here</td>", page.text)
        post("/admin/identity/assignments/revoke", grant)
        assert not list(admin.identity.role_assignments(user_id=user.id, scope_project_id=project.id))
        post(f"/admin/identity/users/{user.id}/disable")
        assert admin.identity.get_user(user).is_enabled is False
        post(f"/admin/identity/groups/{group.id}/remove_member", {"user_id": user.id})
        assert not admin.identity.check_user_in_group(user, group)
        post(f"/admin/identity/projects/{project.id}/disable")
        assert admin.identity.get_project(project).is_enabled is False
    finally:
        for kind, entity in (("groups", group), ("users", user), ("projects", project)):
            post(f"/admin/identity/{kind}/{entity.id}/delete")
    assert admin.identity.find_project("made-here") is None and admin.identity.find_user("made-user") is None
    assert admin.identity.find_group("made-group") is None
