"""The dashboard in a real browser (Debian's chromium driven by Playwright) against an in-process cloud
whose compute host runs real QEMU VMs.

One browser and one server live through the module, in the order a user meets them: log in, launch with
the wizard and watch it go ACTIVE without a reload, read its console log, log in on the serial console
and run a command, stop it from the row menu, resize and confirm, snapshot; a user of another project sees
none of it and gets 404 on its URLs. Set
OVERCAST_DASHBOARD_SCREENSHOT to a file name to keep the instances page's screenshot (the README's).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from openstack.connection import Connection
from playwright.sync_api import Browser, Locator, Page, expect

from overcast.guest.publish import DEFAULT_IMAGE_ID
from overcast.virt.qemu.driver import QemuDriver
from tests.support import qemu
from tests.support.chromium import NEEDS_CHROMIUM
from tests.support.cloud import TINY, InProcessCloud
from tests.support.guests import WAIT
from tests.support.waiting import WAIT_SECONDS, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not qemu.qemu_available(), reason="qemu-system-x86_64 is not installed"),
    NEEDS_CHROMIUM,
]
HOST = "qemu-1"
SMALL = "2"
ROOT_PASSWORD = "Browser-Root-9k"
RIVAL_PASSWORD = "Rival-Project-7q"
WAIT_MS = WAIT * 1000


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    folder = qemu.new_data_dir()
    yield folder
    qemu.kill_leftover_vms(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cloud(data_dir: Path) -> Iterator[InProcessCloud]:
    # ACTIVE as soon as the VM runs, as in Nova: the test waits for what it needs of the guest.
    driver = QemuDriver(data_dir, accelerator="tcg", boot_timeout=0, soft_reboot_timeout=30)
    with qemu.cloud_with_guest(data_dir, {HOST: driver}) as running:
        yield running


@pytest.fixture(scope="module")
def demo(cloud: InProcessCloud) -> Connection:
    return cloud.connect("demo")


@pytest.fixture(scope="module")
def page(browser: Browser, cloud: InProcessCloud) -> Iterator[Page]:
    context = browser.new_context(base_url=cloud.base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_SECONDS * 1000)
    tab = context.new_page()
    yield tab
    context.close()


def row_of(page: Page, name: str) -> Locator:
    return page.locator("#instance-rows tr", has_text=name)


def row_action(page: Page, name: str, label: str) -> None:
    row = row_of(page, name)
    row.locator("summary").click()
    row.get_by_role("button", name=label, exact=True).or_(
        row.get_by_role("link", name=label, exact=True)
    ).click()


def test_log_in(page: Page, cloud: InProcessCloud) -> None:
    page.goto("/dashboard/project/")
    expect(page).to_have_url(re.compile(r"/dashboard/login\?next="))
    page.get_by_label("User name").fill("demo")
    page.get_by_label("Password").fill(cloud.password("demo"))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview of demo")).to_be_visible()
    expect(page.locator("meter")).to_have_count(7)


def test_launch_with_the_wizard_and_watch_it_go_active_without_a_reload(page: Page, demo: Connection) -> None:
    page.get_by_role("link", name="Instances").click()
    page.get_by_role("link", name="Launch instance").click()
    page.get_by_label("Name").fill("browser-vm")
    page.get_by_label("Image").select_option(DEFAULT_IMAGE_ID)
    page.get_by_label("Flavor").select_option(TINY)
    page.get_by_label("Root password (optional)").fill(ROOT_PASSWORD)
    page.get_by_role("button", name="Launch").click()
    expect(page.get_by_role("heading", name="Instances")).to_be_visible()
    # A mark the page keeps only as long as it is not reloaded.
    page.evaluate("window.stillTheSamePage = true")
    expect(row_of(page, "browser-vm")).to_have_attribute("data-status", "ACTIVE", timeout=WAIT_MS)
    assert page.evaluate("window.stillTheSamePage") is True
    screenshot = os.environ.get("OVERCAST_DASHBOARD_SCREENSHOT")
    if screenshot:
        page.screenshot(path=screenshot)
    server = demo.compute.find_server("browser-vm")
    assert server is not None and demo.compute.get_server(server.id).status == "ACTIVE"


def test_the_detail_page_shows_the_console_log(page: Page, demo: Connection) -> None:
    server = demo.compute.find_server("browser-vm")
    assert server is not None
    ready = f"OVERCAST-GUEST-READY {server.id}"
    wait_until(
        lambda: ready in demo.compute.get_server_console_output(server)["output"], WAIT, what="guest boot"
    )
    page.get_by_role("link", name="browser-vm").click()
    expect(page.get_by_role("heading", name="browser-vm")).to_be_visible()
    expect(page.locator(".console-log")).to_contain_text(ready)
    expect(page.get_by_role("cell", name="create", exact=True)).to_be_visible()


def test_the_serial_console_runs_a_command(page: Page) -> None:
    page.get_by_role("link", name="Serial console").click()
    expect(page.locator("#console-state")).to_contain_text("Connected", timeout=WAIT_MS)
    terminal = page.locator("#terminal")
    screen = page.locator("#terminal .xterm-rows")
    terminal.click()
    page.keyboard.press("Enter")
    expect(screen).to_contain_text("login:", timeout=30_000)
    page.keyboard.type("root\n")
    expect(screen).to_contain_text("Password:", timeout=30_000)
    page.keyboard.type(ROOT_PASSWORD + "\n")
    page.keyboard.type("echo answer-$((6*7))\n")
    expect(screen).to_contain_text("answer-42", timeout=30_000)
    page.keyboard.type("exit\n")


def test_a_row_action_stops_it_and_the_row_follows(page: Page) -> None:
    page.goto("/dashboard/project/instances/")
    row_action(page, "browser-vm", "Shut off")
    expect(row_of(page, "browser-vm")).to_have_attribute("data-status", "SHUTOFF", timeout=WAIT_MS)


def test_resize_and_confirm(page: Page, demo: Connection) -> None:
    row_action(page, "browser-vm", "Resize")
    page.get_by_label("New flavor").select_option(SMALL)
    page.get_by_role("button", name="Resize").click()
    expect(row_of(page, "browser-vm")).to_have_attribute("data-status", "VERIFY_RESIZE", timeout=WAIT_MS)
    row_action(page, "browser-vm", "Confirm resize")
    expect(row_of(page, "browser-vm")).to_have_attribute("data-status", "SHUTOFF", timeout=WAIT_MS)
    expect(row_of(page, "browser-vm")).to_contain_text("m1.small")


def test_snapshot(page: Page, demo: Connection) -> None:
    row_action(page, "browser-vm", "Create snapshot")
    page.get_by_label("Snapshot name").fill("browser-vm-snap")
    page.get_by_role("button", name="Create snapshot").click()
    expect(page.get_by_role("heading", name="Instances")).to_be_visible()

    def snapshot_active() -> bool:
        image = demo.image.find_image("browser-vm-snap")
        return image is not None and image.status == "active"

    wait_until(snapshot_active, WAIT, what="the snapshot to be active")


def test_a_form_without_its_csrf_token_is_refused(page: Page, demo: Connection) -> None:
    page.goto("/dashboard/project/instances/")
    row = row_of(page, "browser-vm")
    row.locator("summary").click()
    form = row.locator("form", has=page.get_by_role("button", name="Start", exact=True))
    form.locator("input[name=csrf_token]").evaluate("input => input.remove()")
    form.get_by_role("button", name="Start").click()
    expect(page.get_by_role("alert")).to_contain_text("security token")
    server = demo.compute.find_server("browser-vm")
    assert server is not None and demo.compute.get_server(server.id).status == "SHUTOFF"


def test_an_image_upload_shows_its_progress(page: Page, demo: Connection, tmp_path: Path) -> None:
    image_file = tmp_path / "disk.raw"
    image_file.write_bytes(os.urandom(8 * 1024 * 1024))
    page.get_by_role("link", name="Images").click()
    page.get_by_role("link", name="Upload image").click()
    page.get_by_label("Name").fill("uploaded-in-the-browser")
    page.get_by_label("Image file").set_input_files(image_file)
    page.get_by_label("Disk format").select_option("raw")
    # Throttled to 4 MiB/s, so the 8 MiB take long enough to watch the bar move.
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 4 * 1024 * 1024},
    )
    try:
        page.get_by_role("button", name="Upload").click()
        expect(page.locator("#upload-progress")).to_be_visible()
        page.wait_for_function(
            "() => { const bar = document.getElementById('upload-bar');"
            " return bar && bar.value > 0 && bar.value < 100; }"
        )
        expect(page.get_by_role("heading", name="uploaded-in-the-browser")).to_be_visible(timeout=WAIT_MS)
    finally:
        network.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        network.detach()
    expect(page.locator(".status")).to_have_text("active")
    image = demo.image.find_image("uploaded-in-the-browser")
    assert image is not None and image.size == 8 * 1024 * 1024


def test_a_key_pair_is_made_and_its_private_key_downloaded(page: Page, demo: Connection) -> None:
    page.get_by_role("link", name="Key pairs").click()
    page.get_by_role("link", name="Create or import key pair").click()
    page.get_by_label("Name").fill("browser-key")
    page.get_by_role("button", name="Create key pair").click()
    with page.expect_download() as downloading:
        page.get_by_role("link", name="download browser-key's private key").click()
    download = downloading.value
    assert download.suggested_filename == "browser-key.pem"
    private_key = Path(download.path()).read_text()
    assert "PRIVATE KEY-----" in private_key
    page.reload()
    expect(page.get_by_role("link", name="download browser-key's private key")).to_have_count(0)
    assert demo.compute.get_keypair("browser-key").fingerprint in page.content()


def test_another_projects_user_sees_none_of_it_and_gets_404_on_its_urls(
    browser: Browser, cloud: InProcessCloud, demo: Connection
) -> None:
    admin = cloud.connect("admin")
    project = admin.identity.create_project(name="rival", domain_id="default")
    rival = admin.identity.create_user(name="rival", password=RIVAL_PASSWORD, domain_id="default")
    admin.identity.assign_project_role_to_user(project, rival, admin.identity.find_role("member"))
    server = demo.compute.find_server("browser-vm")
    snapshot = demo.image.find_image("browser-vm-snap")
    uploaded = demo.image.find_image("uploaded-in-the-browser")
    assert server is not None and snapshot is not None and uploaded is not None
    context = browser.new_context(base_url=cloud.base_url)
    try:
        tab = context.new_page()
        tab.goto("/dashboard/login")
        tab.get_by_label("User name").fill("rival")
        tab.get_by_label("Password").fill(RIVAL_PASSWORD)
        tab.get_by_role("button", name="Log in").click()
        expect(tab.get_by_role("heading", name="Overview of rival")).to_be_visible()
        for listing, hidden in (
            ("Instances", ("browser-vm", server.id)),
            ("Images", ("browser-vm-snap", "uploaded-in-the-browser")),
            ("Key pairs", ("browser-key",)),
        ):
            tab.get_by_role("link", name=listing, exact=True).click()
            expect(tab.get_by_role("heading", name=listing)).to_be_visible()
            for text in hidden:
                assert text not in tab.content(), (listing, text)
        # Each page says what the API said: Nova's and Glance's own 404 messages.
        for url, message in (
            (f"/dashboard/project/instances/{server.id}", "could not be found"),
            (f"/dashboard/project/instances/{server.id}/console", "could not be found"),
            (f"/dashboard/project/instances/{server.id}/action/resize", "could not be found"),
            (f"/dashboard/project/images/{snapshot.id}", "No image found"),
            (f"/dashboard/project/images/{uploaded.id}", "No image found"),
        ):
            response = tab.goto(url)
            assert response is not None and response.status == 404, url
            expect(tab.get_by_role("alert")).to_contain_text(message)
    finally:
        context.close()
        admin.identity.delete_user(rival)
        admin.identity.delete_project(project)


def test_an_admin_disables_a_compute_service_and_sees_it_marked(
    browser: Browser, cloud: InProcessCloud
) -> None:
    context = browser.new_context(base_url=cloud.base_url)
    try:
        admin = context.new_page()
        admin.goto("/dashboard/login")
        admin.get_by_label("User name").fill("admin")
        admin.get_by_label("Password").fill(cloud.password("admin"))
        admin.get_by_role("button", name="Log in").click()
        admin.get_by_role("link", name="Services").click()
        row = admin.locator("tbody tr", has_text=HOST)
        expect(row).to_have_attribute("data-status", "enabled")
        row.get_by_role("button", name=f"Disable {HOST}").click()
        expect(row).to_have_attribute("data-status", "disabled")
        expect(row).to_contain_text("Disabled by admin from the dashboard")
        row.get_by_role("button", name=f"Enable {HOST}").click()
        expect(row).to_have_attribute("data-status", "enabled")
    finally:
        context.close()


def test_the_instances_page_fits_a_phone(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/dashboard/project/instances/")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    expect(page.get_by_role("link", name="Launch instance")).to_be_in_viewport()
