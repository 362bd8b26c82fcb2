"""What every part of the compute service shares (`ComputeHost`): the driver, and one way to run an action.

`run_action` is the compute side of an action the API started: it checks the instance still carries the
action's task_state, emits compute.instance.<action>.start, records the instance-action event around the
driver call, then finishes the transition with one compare-and-swap (and .end). A failure clears the
task (or sets the action's error vm_state), records a fault and emits .error.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.cloud import Cloud
from overcast.compute import instance_actions, instance_extra, instances, network_info, states
from overcast.compute.manager.image_cache import HostImageCache
from overcast.compute.manager.resource_tracker import ResourceTracker
from overcast.compute.manager.server_ports import ServerPorts
from overcast.compute.notifications import InstanceNotifier
from overcast.compute.rpcapi import ComputeAPI
from overcast.compute.snapshot_images import store_snapshot
from overcast.conductor.rpcapi import ConductorAPI
from overcast.context import RequestContext
from overcast.db.models.compute import Instance
from overcast.errors import OvercastError
from overcast.image.api import ImageAPI
from overcast.quota import QuotaEngine
from overcast.virt.driver import (
    ComputeDriver,
    ImageRef,
    InstanceNotFound,
    InstanceSpec,
    PowerState,
    load_driver,
    resolve_driver_name,
)

LOG = logging.getLogger(__name__)

# Nova's shutdown_timeout: how long a clean shutdown may take before the VM is powered off hard.
CLEAN_SHUTDOWN_TIMEOUT = 60

AfterSwap = Callable[[Session, Instance], None]
Work = Callable[[Instance], dict[str, Any] | None]


class ComputeHost:
    """This host's driver, image cache, resource tracker, notifier and RPC clients, and what every
    part of the compute service does with them (load, notify, compare-and-swap, run an action)."""

    def __init__(
        self, cloud: Cloud, host: str, driver: ComputeDriver, images: ImageAPI, ports: ServerPorts
    ) -> None:
        self.cloud = cloud
        self.host = host
        self.driver = driver
        self.ports = ports
        self.image_cache = HostImageCache(cloud, host, images)
        self.resource_tracker = ResourceTracker(cloud.db, host, self.driver)
        self.conductor = ConductorAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        self.compute_rpc = ComputeAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        self.quotas = QuotaEngine()
        self.notifier = InstanceNotifier(cloud, f"compute.{host}")

    # --- reading ----------------------------------------------------------------------------------
    def sysmeta(self, uuid: str) -> dict[str, Any]:
        with self.cloud.db.reader() as session:
            return instance_extra.system_metadata(session, uuid)

    def load(self, uuid: str, *, on_this_host: bool = True) -> Instance | None:
        with self.cloud.db.reader() as session:
            query = select(Instance).where(Instance.uuid == uuid, Instance.deleted.is_(False))
            if on_this_host:
                query = query.where(Instance.host == self.host)
            return session.scalars(query).first()

    def spec(
        self, instance: Instance, flavor: dict[str, Any] | None = None, image_id: str | None = None
    ) -> InstanceSpec:
        with self.cloud.db.reader() as session:
            spec = instances.instance_spec(session, instance)
        if flavor is not None:
            spec = replace(
                spec, vcpus=flavor["vcpus"], memory_mb=flavor["memory_mb"], root_gb=flavor["root_gb"],
                ephemeral_gb=flavor["ephemeral_gb"],
            )  # fmt: skip
        if image_id is not None:
            spec = replace(spec, image=replace(spec.image, id=image_id))
        return spec

    def with_image_file(self, ctxt: RequestContext, image: ImageRef) -> ImageRef:
        """`image` with its local file (fetched into this host's cache) when the driver needs one, and
        those of the kernel and ramdisk it boots."""
        if not self.driver.needs_image_files or image.path or not image.id:
            return self.with_kernel_files(ctxt, image)
        path = str(self.image_cache.fetch(ctxt, image.id))
        return self.with_kernel_files(ctxt, replace(image, path=path))

    def with_kernel_files(self, ctxt: RequestContext, image: ImageRef) -> ImageRef:
        """`image` with the local files of the kernel and ramdisk images its properties name (a direct
        kernel boot), fetched as `ctxt`, as Nova fetches them with the booting user's context."""
        kernel_id, ramdisk_id = image.properties.get("kernel_id"), image.properties.get("ramdisk_id")
        if not self.driver.needs_image_files or not (kernel_id or ramdisk_id):
            return image
        kernel = str(self.image_cache.fetch(ctxt, str(kernel_id))) if kernel_id else image.kernel_path
        ramdisk = str(self.image_cache.fetch(ctxt, str(ramdisk_id))) if ramdisk_id else image.ramdisk_path
        return replace(image, kernel_path=kernel, ramdisk_path=ramdisk)

    def prepared(self, ctxt: RequestContext, spec: InstanceSpec) -> InstanceSpec:
        """What spawn needs beyond the database's view: the image file and the NICs: the server's ports
        bound and wired here, else one driver-networked NIC with a stable MAC."""
        vifs = spec.network_info or self.ports.rebind(ctxt, spec.uuid)
        vifs = vifs or [network_info.default_vif(spec.uuid)]
        return replace(spec, image=self.with_image_file(ctxt, spec.image), network_info=vifs)

    def prune_image_cache(self) -> None:
        if not self.driver.needs_image_files:
            return
        with self.cloud.db.reader() as session:
            rows = session.execute(
                select(Instance.image_ref, Instance.kernel_id, Instance.ramdisk_id).where(
                    Instance.host == self.host, Instance.deleted.is_(False)
                )
            ).all()
        in_use = {image_id for row in rows for image_id in row if image_id}
        try:
            self.image_cache.prune(in_use)
        except OSError:
            LOG.exception("Pruning the image cache of %s failed", self.host)

    def guest_network(self, uuid: str) -> dict[str, Any] | None:
        try:
            return self.driver.get_instance_network(uuid)
        except InstanceNotFound:
            return None

    def record_network(self, session: Session, uuid: str, info: dict[str, Any] | None) -> None:
        """Store what the driver says about the guest's network (None: it has none, or no VM)."""
        stored = instance_extra.system_metadata(session, uuid).get(network_info.SYSTEM_METADATA_KEY)
        if stored != info:
            instance_extra.update_system_metadata(session, uuid, **{network_info.SYSTEM_METADATA_KEY: info})

    def power_state(self, uuid: str) -> int:
        try:
            return int(self.driver.get_info(uuid).state)
        except InstanceNotFound:
            return int(PowerState.NOSTATE)

    # --- recording --------------------------------------------------------------------------------
    @contextmanager
    def event(self, ctxt: RequestContext, uuid: str, event: str) -> Iterator[None]:
        with instance_actions.action_event(self.cloud.db, ctxt, uuid, event, self.host):
            yield

    def notify(self, ctxt: RequestContext, uuid: str, event: str, **extra: Any) -> None:
        try:
            self.notifier.notify(ctxt, uuid, event, **extra)
        except Exception:
            LOG.exception("[%s] Could not notify %s for instance %s", ctxt.request_id, event, uuid)

    def send_notice(
        self, ctxt: RequestContext, uuid: str, event: str, payload: dict[str, Any] | None
    ) -> None:
        """Send `event` with a payload read in the transaction that made the change it reports."""
        if payload is None:
            return
        try:
            self.notifier.send(ctxt, event, payload)
        except Exception:
            LOG.exception("[%s] Could not notify %s for instance %s", ctxt.request_id, event, uuid)

    # --- state ------------------------------------------------------------------------------------
    def advance(self, uuid: str, from_task: str | None, to_task: str | None) -> bool:
        return bool(self.cloud.db.write(functools.partial(
            instances.compare_and_swap, uuid=uuid, expected_task_state=(from_task,), task_state=to_task,
        )))  # fmt: skip

    def swap(
        self, uuid: str, expected: tuple[str | None, ...], after: AfterSwap | None = None, **values: Any
    ) -> bool:
        """Compare-and-swap `values`; when it wins, `after` runs in the same transaction."""

        def write(session: Session) -> bool:
            if not instances.compare_and_swap(session, uuid, expected, **values):
                return False
            if after is not None:
                fresh = (
                    select(Instance).where(Instance.uuid == uuid).execution_options(populate_existing=True)
                )
                after(session, session.scalars(fresh).one())
            return True

        return bool(self.cloud.db.write(write))

    def run_action(
        self,
        ctxt: RequestContext,
        uuid: str,
        action: str,
        *,
        event: str,
        notify: str | None,
        work: Work,
        done_vm_state: str | None = None,
        error_vm_state: str | None = None,
        on_this_host: bool = True,
        after: AfterSwap | None = None,
        reraise: bool = False,
    ) -> bool:
        row = states.ACTIONS[action]
        task_states = (row.new_task_state, *row.steps)
        instance = self.load(uuid, on_this_host=on_this_host)
        if instance is None or instance.task_state not in task_states:
            LOG.info(
                "[%s] Not running %s on instance %s: it left %s", ctxt.request_id, action, uuid, task_states
            )
            return False
        done = done_vm_state or (
            instance.vm_state if row.done_vm_state == states.UNCHANGED else row.done_vm_state
        )
        if notify:
            self.notify(ctxt, uuid, f"{notify}.start")
        try:
            with self.event(ctxt, uuid, event):
                values = work(instance) or {}
        except Exception as exc:
            LOG.warning("[%s] %s of instance %s failed: %s", ctxt.request_id, action, uuid, exc)
            self.action_failed(uuid, exc, task_states, error_vm_state)
            if notify:
                self.notify(ctxt, uuid, f"{notify}.error", exception=str(exc))
            if reraise:
                raise
            return False
        final = {"vm_state": done, "task_state": row.done_task_state, "power_state": self.power_state(uuid)}
        final.update(values)
        network = self.guest_network(uuid)  # a (re)start may have moved the SSH forward to another port

        def finish(session: Session, instance: Instance) -> None:
            self.record_network(session, uuid, network)
            if after is not None:
                after(session, instance)

        swapped = self.swap(uuid, task_states, finish, **final)
        if not swapped:
            LOG.info("[%s] Instance %s changed while %s ran (deleted?)", ctxt.request_id, uuid, action)
        if notify:
            self.notify(ctxt, uuid, f"{notify}.end")
        return swapped

    def action_failed(
        self, uuid: str, error: BaseException, task_states: tuple[str | None, ...], error_vm_state: str | None
    ) -> None:
        values: dict[str, Any] = {"task_state": None, "power_state": self.power_state(uuid)}
        if error_vm_state is not None:
            values["vm_state"] = error_vm_state
        code = error.status if isinstance(error, OvercastError) else 500

        def write(session: Session) -> None:
            if instances.compare_and_swap(session, uuid, task_states, **values):
                instances.record_fault(session, uuid, error, code=code, host=self.host)

        self.cloud.db.write(write)

    def upload_to(
        self, image_id: str, before: Callable[[], None] | None = None
    ) -> Callable[[BinaryIO | Path], None]:
        def upload(data: BinaryIO | Path) -> None:
            if before is not None:
                before()
            if isinstance(data, Path):
                with data.open("rb") as stream:
                    store_snapshot(self.cloud, image_id, stream, api=self.image_cache.image_api)
            else:
                store_snapshot(self.cloud, image_id, data, api=self.image_cache.image_api)

        return upload


def load_configured_driver(cloud: Cloud) -> ComputeDriver:
    name = resolve_driver_name(cloud.settings.compute_driver)
    # The QEMU driver keeps its VMs under the cloud's data_dir.
    return load_driver(name, **({"settings": cloud.settings} if name == "qemu" else {}))


class HostEndpoint:
    """Base of the compute service's additional RPC endpoints: each works on the one ComputeHost."""

    def __init__(self, compute_host: ComputeHost, rpc_api_version: str) -> None:
        self.compute_host = compute_host
        self.cloud = compute_host.cloud
        self.host = compute_host.host
        self.driver = compute_host.driver
        # The compute client sends one version for every method, so each endpoint serves the manager's.
        self.RPC_API_VERSION = rpc_api_version
