"""The real volume driver: sparse files in the pool, each attachment exported by the host's own tgtd.

One iSCSI target per attachment, `iqn.2010-10.org.overcast:<attachment id>`, with LUN 1 the volume's
file (tgt's `rdwr` backing store), a CHAP account generated for the attachment, and an ACL admitting
only the connector's initiator name. What each export needs is kept in `<pool>/exports/<attachment
id>.json` (0600): when tgtd dies the supervisor restarts it and re-creates every export with the same
credentials, as does the next start of the service, so a VM's QEMU reconnects with what it was given.

After an extend, the LUN is re-created over the grown file: tgt reads a backing file's size only when
the LUN is made, and QEMU's `block_resize` asks the target for its capacity. A request arriving in the
milliseconds between the two tgtadm calls is refused (the guest sees an I/O error); taking the target
offline around them instead leaves such a request unanswered, which QEMU does not retry.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from overcast.volume.drivers.base import VolumeDriverError, VolumeMissing
from overcast.volume.drivers.filepool import SAFE_ID, FilePoolDriver, checked_id
from overcast.volume.drivers.tgt import Supervisor, Tgtd, TgtError

LOG = logging.getLogger(__name__)

IQN_PREFIX = "iqn.2010-10.org.overcast:"
LUN = 1


def target_iqn(attachment_id: str) -> str:
    return f"{IQN_PREFIX}{attachment_id}"


class IscsiVolumeDriver(FilePoolDriver):
    driver_volume_type = "iscsi"
    storage_protocol = "iSCSI"

    def __init__(
        self, pool_dir: Path, *, portal_address: str, port: int, supervise_interval: float = 1.0
    ) -> None:
        super().__init__(pool_dir)
        self.portal_address = portal_address
        self.port = port
        self.exports_dir = self.pool_dir / "exports"
        self.tgtd = Tgtd(self.pool_dir / "tgt", portal_address, port)
        self.supervisor = Supervisor(self.tgtd, self.restore_exports, supervise_interval)
        # One change of tgtd's targets at a time: an export, an extend and the supervisor's restore.
        self._lock = threading.RLock()

    @property
    def portal(self) -> str:
        address = f"[{self.portal_address}]" if ":" in self.portal_address else self.portal_address
        return f"{address}:{self.port}"

    # --- lifecycle --------------------------------------------------------------------------------
    def init_host(self, host: str) -> None:
        self._prepare_pool()
        self.exports_dir.mkdir(exist_ok=True, mode=0o700)
        try:
            with self._lock:
                self.tgtd.start()
                self.restore_exports()
        except TgtError:
            # The service still starts (volumes are created, deleted, copied); attaching fails with this
            # error until the supervisor's next try succeeds.
            LOG.exception("tgtd could not start: no volume can be attached until it does")
        self.supervisor.start()

    def cleanup_host(self) -> None:
        """Stop supervising and stop tgtd: attached VMs lose their disks until the service is back (it
        re-creates their exports with the same credentials, and QEMU reconnects)."""
        self.supervisor.stop()
        with self._lock:
            self.tgtd.stop()

    def repair_exports(self) -> None:
        if self.tgtd.ready():
            self.restore_exports()

    def restore_exports(self) -> None:
        """Make tgtd hold exactly the recorded exports: re-create the missing, remove the unknown."""
        with self._lock:
            records = {record["iqn"]: record for record in self._records()}
            for tid, iqn in self.tgtd.targets():
                if iqn not in records:
                    LOG.info("removing target %s (tid %s): no export records it", iqn, tid)
                    self._delete_target(tid)
            for record in records.values():
                try:
                    self._ensure_target(record)
                except VolumeDriverError:
                    LOG.exception("re-creating the export of attachment %s failed", record["attachment_id"])

    # --- exports ----------------------------------------------------------------------------------
    def export(
        self, attachment_id: str, volume_id: str, connector: dict[str, Any], *, read_only: bool = False
    ) -> dict[str, Any]:
        path = self.volume_path(volume_id)
        if not path.exists():
            raise VolumeMissing(f"Volume {volume_id} has no storage in {self.pool_dir}.")
        initiator = connector.get("initiator")
        if not isinstance(initiator, str) or not initiator:
            raise VolumeDriverError("The connector names no iSCSI initiator.")
        with self._lock:
            record = self._record(attachment_id)
            wanted = (volume_id, initiator, read_only)
            if (
                record is None
                or (record["volume_id"], record["initiator"], record.get("read_only", False)) != wanted
            ):
                if record is not None:
                    self._remove_target_of(record)
                record = {
                    "attachment_id": attachment_id,
                    "volume_id": volume_id,
                    "iqn": target_iqn(attachment_id),
                    "initiator": initiator,
                    "read_only": read_only,
                    "user": f"overcast-{attachment_id.replace('-', '')[:16]}",
                    # Hex: QEMU's option syntax would split a password on a comma.
                    "password": secrets.token_hex(10),
                }
                # Recorded first: a crash mid-way leaves an export the manager's sweep knows to remove.
                self._write_record(record)
            self._ensure_target(record)
        return {
            "driver_volume_type": self.driver_volume_type,
            "data": {
                "target_portal": self.portal,
                "target_iqn": record["iqn"],
                "target_lun": LUN,
                "auth_method": "CHAP",
                "auth_username": record["user"],
                "auth_password": record["password"],
                "volume_id": volume_id,
            },
        }

    def unexport(self, attachment_id: str) -> None:
        with self._lock:
            record = self._record(attachment_id) or {"iqn": target_iqn(attachment_id), "user": None}
            self._remove_target_of(record)
            self._record_path(attachment_id).unlink(missing_ok=True)

    def exports(self) -> set[str]:
        # Only names the driver could have written (anything else in the folder is not an export).
        return {path.stem for path in self.exports_dir.glob("*.json") if SAFE_ID.match(path.stem)}

    def extend_volume(self, volume_id: str, size_gb: int) -> None:
        with self._lock:
            super().extend_volume(volume_id, size_gb)
            if not self.tgtd.ready():
                return  # a restarted tgtd makes its LUNs over the grown file
            targets = dict((iqn, tid) for tid, iqn in self.tgtd.targets())
            for record in self._records():
                tid = targets.get(record["iqn"])
                if record["volume_id"] == volume_id and tid is not None:
                    self._delete_lun(tid)
                    self._add_lun(tid, record)

    def delete_volume(self, volume_id: str) -> None:
        with self._lock:
            for record in self._records():
                if record["volume_id"] == volume_id:
                    self.unexport(record["attachment_id"])
            super().delete_volume(volume_id)

    # --- tgt --------------------------------------------------------------------------------------
    def _ensure_target(self, record: dict[str, Any]) -> None:
        held = {iqn: tid for tid, iqn in self.tgtd.targets()}
        if record["iqn"] in held:
            return
        tid = max(held.values(), default=0) + 1
        adm = self.tgtd.tgtadm
        adm(
            "--lld",
            "iscsi",
            "--op",
            "new",
            "--mode",
            "target",
            "--tid",
            str(tid),
            "--targetname",
            record["iqn"],
        )
        try:
            self._add_lun(tid, record)
            if record["user"] in self.tgtd.accounts():
                adm("--lld", "iscsi", "--op", "delete", "--mode", "account", "--user", record["user"])
            adm("--lld", "iscsi", "--op", "new", "--mode", "account", "--user", record["user"],
                "--password", record["password"])  # fmt: skip
            adm(
                "--lld",
                "iscsi",
                "--op",
                "bind",
                "--mode",
                "account",
                "--tid",
                str(tid),
                "--user",
                record["user"],
            )
            adm("--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", str(tid),
                "--initiator-name", record["initiator"])  # fmt: skip
        except TgtError:
            self._delete_target(tid)
            raise

    def _add_lun(self, tid: int, record: dict[str, Any]) -> None:
        self.tgtd.tgtadm(
            "--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", str(tid), "--lun", str(LUN),
            "--backing-store", str(self.volume_path(record["volume_id"])), "--bstype", "rdwr",
        )  # fmt: skip
        if record.get("read_only"):
            # The target refuses writes itself, whatever the initiator opens the disk as.
            self.tgtd.tgtadm(
                "--lld", "iscsi", "--op", "update", "--mode", "logicalunit", "--tid", str(tid),
                "--lun", str(LUN), "--params", "readonly=1",
            )  # fmt: skip

    def _delete_lun(self, tid: int) -> None:
        self.tgtd.tgtadm(
            "--lld", "iscsi", "--op", "delete", "--mode", "logicalunit", "--tid", str(tid), "--lun", str(LUN)
        )

    def _delete_target(self, tid: int) -> None:
        with contextlib.suppress(TgtError):
            self.tgtd.tgtadm(
                "--lld", "iscsi", "--op", "delete", "--mode", "target", "--tid", str(tid), "--force"
            )

    def _remove_target_of(self, record: dict[str, Any]) -> None:
        if not self.tgtd.ready():
            # No tgtd of ours runs: the target went with it, and a restart re-creates only recorded ones.
            return
        for tid, iqn in self.tgtd.targets():
            if iqn == record["iqn"]:
                self._delete_target(tid)
        user = record.get("user")
        if user and user in self.tgtd.accounts():
            self.tgtd.tgtadm("--lld", "iscsi", "--op", "delete", "--mode", "account", "--user", user)

    # --- records ----------------------------------------------------------------------------------
    def _record(self, attachment_id: str) -> dict[str, Any] | None:
        path = self._record_path(attachment_id)
        try:
            record: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            LOG.warning("export record %s is unreadable: it is made again", path)
            return None
        return record

    def _records(self) -> list[dict[str, Any]]:
        return [record for attachment_id in sorted(self.exports()) if (record := self._record(attachment_id))]

    def _record_path(self, attachment_id: str) -> Path:
        return self.exports_dir / f"{checked_id(attachment_id)}.json"

    def _write_record(self, record: dict[str, Any]) -> None:
        path = self._record_path(record["attachment_id"])
        partial = path.with_name(f".{path.name}.part")
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            json.dump(record, handle)
        os.replace(partial, path)
