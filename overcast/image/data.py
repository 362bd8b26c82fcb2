"""Image data: uploads streamed through hashing and format checks into a store, downloads, staging and
the interoperable import (glance-direct, copy-image).

The state machine is Glance's: queued -> saving -> active on upload (killed when the upload is cut off
or the store fails, back to queued when the data is refused: too large, wrong format); queued ->
uploading (staged) -> importing -> active on import. Every transition is a compare-and-swap, so two
uploads to one image cannot both run, and data is only referenced by the registry once complete.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import mmap
import os
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from overcast import errors, policy
from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.models.image import Image
from overcast.image import formats, policies, registry, tasks
from overcast.image import notifications as image_notifications
from overcast.image.registry import ImageRecord
from overcast.image.settings import ImageSettings
from overcast.image.stores import FilesystemStore, Store, build_stores
from overcast.image.stores.direct_io import fill_buffer
from overcast.quota import DEFAULT_LIMITS, UNLIMITED, QuotaEngine

LOG = logging.getLogger(__name__)

# How often a running upload notes its progress, and how long without progress makes an upload of
# another API host dead (overcast.image.data.ImageData.recover_interrupted_uploads).
HEARTBEAT_INTERVAL = timedelta(seconds=30)
STALE_UPLOAD = timedelta(minutes=10)
# Clears an image's upload bookkeeping when it leaves `saving`.
NO_UPLOAD: dict[str, None] = {"upload_host": None, "upload_process": None, "upload_heartbeat_at": None}

HASH_ALGO = "sha512"
HASH_BLOCK = 4 * 1024 * 1024
IMPORT_METHODS = ("glance-direct", "copy-image")
MIB = 1024 * 1024
SIZE_QUOTA = "image_size_total"


def size_in_mib(size: int | None) -> int:
    return -(-(size or 0) // MIB)


def image_quotas(settings: ImageSettings) -> QuotaEngine:
    """The quota engine images use: Glance's image count plus total stored MiB per project."""
    return QuotaEngine({**DEFAULT_LIMITS, SIZE_QUOTA: settings.default_size_total_mib})


class ImageTooLarge(errors.RequestTooLarge):
    default_message = "Image exceeds the storage quota or the maximum image size."


def process_identity(pid: int) -> str | None:
    """`pid` and its start time ("1234:5678"), which tell a process from a later one given the same
    pid; None when no such process runs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22, counted after the command name (which may hold spaces and parentheses).
    return f"{pid}:{stat.rpartition(')')[2].split()[19]}"


@functools.cache
def this_process() -> str:
    return process_identity(os.getpid()) or str(os.getpid())


def process_is_alive(identity: str) -> bool:
    """Whether the process `identity` (from this_process on this host) still runs."""
    pid, _, _ = identity.partition(":")
    return pid.isdigit() and process_identity(int(pid)) == identity


class ImageDeletedDuringUpload(errors.OvercastError):
    # Glance's answer to an upload whose image was deleted meanwhile.
    status = 410
    title = "gone"
    default_message = "The image was deleted during the upload."


class RangeNotSatisfiable(errors.OvercastError):
    status = 416
    title = "requestedRangeNotSatisfiable"
    default_message = "Requested range not satisfiable."


@dataclass(frozen=True)
class DataSummary:
    size: int
    checksum: str
    os_hash_value: str
    virtual_size: int | None


class DataPipeline:
    """Counts, hashes (md5 + sha512) and format-checks a stream on its way to a store.

    The size limit is enforced while streaming, so an oversized upload stops at the limit rather than
    after it was stored. md5 and sha512 each run on their own thread while the store writes and the
    next chunks arrive (hashlib releases the GIL), so the three overlap instead of adding up.

    The incoming pieces are copied into blocks of HASH_BLOCK bytes in a ring of reused, page-aligned
    buffers, and the blocks are what the hashes and the store see: a hash then takes the GIL back once
    per block rather than once per piece (those hand-offs cost more than the copy), and a store writing
    with O_DIRECT writes a block as it is. A block is a view that is only valid until the store asks
    for the next one (the Store.add contract); a hash may lag HASH_LAG blocks behind the store, which
    keeps the cores busy when one of them is briefly taken by something else.
    """

    HASH_LAG = 2

    def __init__(self, chunks: Iterable[bytes], limit: int, disk_format: str | None) -> None:
        self.chunks = chunks
        self.limit = limit
        self.disk_format = disk_format
        self.size = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha512 = hashlib.sha512()
        self._header = bytearray()
        self._inspection: formats.Inspection | None = None

    def __iter__(self) -> Generator[memoryview, None, None]:
        ring = [mmap.mmap(-1, HASH_BLOCK) for _ in range(self.HASH_LAG + 1)]
        hashing: list[tuple[Future[None], ...]] = [() for _ in ring]
        current = filled = 0
        with (
            ThreadPoolExecutor(1, thread_name_prefix="image-md5") as md5_thread,
            ThreadPoolExecutor(1, thread_name_prefix="image-sha512") as sha512_thread,
        ):

            def hash_block(block: memoryview) -> None:
                hashing[current] = (md5_thread.submit(self.md5.update, block),
                                    sha512_thread.submit(self.sha512.update, block))  # fmt: skip

            for chunk in self.chunks:
                self._check(chunk)
                piece = memoryview(chunk)
                while piece:
                    filled, piece = fill_buffer(ring[current], filled, piece)
                    if filled == HASH_BLOCK:
                        block = memoryview(ring[current])
                        hash_block(block)
                        yield block
                        current, filled = (current + 1) % len(ring), 0
                        _wait(hashing[current])  # its buffer is refilled next
            if filled:
                block = memoryview(ring[current])[:filled]
                hash_block(block)
                yield block
            for pending in hashing:
                _wait(pending)
        if self._inspection is None:
            self._inspect()

    def _check(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise ImageTooLarge(f"Image exceeds the storage quota or size limit of {self.limit} bytes.")
        if self._inspection is None:
            self._header += chunk[: formats.HEADER_BYTES - len(self._header)]
            if len(self._header) >= formats.HEADER_BYTES:
                self._inspect()

    def _inspect(self) -> None:
        if self.disk_format is not None:
            self._inspection = formats.check(self.disk_format, bytes(self._header), self.size)
        else:
            self._inspection = formats.Inspection("raw")

    def summary(self) -> DataSummary:
        inspection = self._inspection or formats.Inspection("raw")
        virtual = inspection.virtual_size if inspection.format == "qcow2" else self.size
        return DataSummary(self.size, self.md5.hexdigest(), self.sha512.hexdigest(), virtual)


def _wait(futures: Iterable[Future[None]]) -> None:
    for future in futures:
        future.result()


def limited(chunks: Iterable[bytes], limit: int) -> Iterator[bytes]:
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise ImageTooLarge(f"Image exceeds the storage quota or size limit of {limit} bytes.")
        yield chunk


@dataclass(frozen=True)
class Download:
    record: ImageRecord
    total_size: int
    start: int
    length: int
    partial: bool
    chunks: Iterator[bytes]


def parse_range(header: str | None, size: int) -> tuple[int, int, bool]:
    """(start, length, partial) for a `Range: bytes=...` header (one range; RFC 9110)."""
    if not header:
        return 0, size, False
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec or "-" not in spec:
        raise RangeNotSatisfiable(f"Unsupported Range header {header!r}: give one byte range.")
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            length = int(last)
            if length <= 0:
                raise ValueError
            start = max(0, size - length)
            end = size - 1
        else:
            start = int(first)
            end = size - 1 if last == "" else min(int(last), size - 1)
    except ValueError:
        raise RangeNotSatisfiable(f"Invalid Range header {header!r}.") from None
    if start >= size or end < start:
        raise RangeNotSatisfiable(f"Range {header!r} is outside the image's {size} bytes.", size=size)
    return start, end - start + 1, True


class ImageData:
    def __init__(
        self,
        cloud: Cloud,
        settings: ImageSettings,
        quotas: QuotaEngine,
        stores: dict[str, Store] | None = None,
        staging: FilesystemStore | None = None,
    ) -> None:
        self.cloud = cloud
        self.db = cloud.db
        self.settings = settings
        self.notifier = cloud.notifier(image_notifications.PUBLISHER)
        self.quotas = quotas
        if stores is not None:
            self.__dict__["stores"] = stores
        if staging is not None:
            self.__dict__["staging"] = staging

    # Built on first use: the compute API only reads the registry, and an API that starts with no
    # interrupted upload to clean up touches no store.
    @functools.cached_property
    def stores(self) -> dict[str, Store]:
        return build_stores(self.settings, self.cloud.settings.data_dir)

    @functools.cached_property
    def staging(self) -> FilesystemStore:
        return FilesystemStore(self.settings.staging_dir or self.cloud.settings.data_dir / "image-staging")

    @property
    def default_store(self) -> str:
        return next(iter(self.stores))

    def _store(self, store_id: str | None) -> tuple[str, Store]:
        store_id = store_id or self.default_store
        store = self.stores.get(store_id)
        if store is None:
            raise errors.BadRequest(f"Store {store_id} is not available on this node.")
        return store_id, store

    def _allowance(self, session: Session, image: Image) -> int:
        """The most bytes this image may hold: the size cap, or what is left of its owner's quota."""
        allowance = self.settings.size_cap
        if image.owner is not None:
            limit = self.quotas.get_limits(session, image.owner)[SIZE_QUOTA]
            if limit != UNLIMITED:
                used = self.quotas.get_usage(session, image.owner)[SIZE_QUOTA]
                allowance = min(allowance, max(0, limit - used) * MIB)
        return allowance

    # --- upload -----------------------------------------------------------------------------------
    def upload(
        self,
        ctxt: RequestContext,
        image_id: str,
        chunks: Iterable[bytes],
        store_id: str | None = None,
        declared_size: int | None = None,
    ) -> ImageRecord:
        store_id, store = self._store(store_id)

        def begin(session: Session) -> tuple[str, int, str]:
            image = registry.get_visible(session, ctxt, image_id, for_update=True)
            policy.enforce(ctxt, policies.UPLOAD_IMAGE, {"project_id": image.owner})
            # The seeded image starts active without data; an admin may give it its data once.
            seed = (
                image.status == registry.ACTIVE
                and ctxt.is_admin
                and not registry.location_rows(session, image_id)
            )
            if image.status != registry.QUEUED and not seed:
                raise errors.Conflict(f"Image status transition from {image.status} to saving is not allowed")
            if not image.disk_format or not image.container_format:
                raise errors.BadRequest(
                    "Properties disk_format, container_format must be set prior to saving data."
                )
            allowance = self._allowance(session, image)
            if declared_size is not None and declared_size > allowance:
                raise ImageTooLarge(f"Image of {declared_size} bytes exceeds the allowed {allowance} bytes.")
            registry.compare_and_set_status(
                session, image_id, (image.status,), registry.SAVING,
                upload_host=self.host, upload_process=this_process(),
                upload_heartbeat_at=self.cloud.clock(),
            )  # fmt: skip
            return image.disk_format, allowance, image.status

        disk_format, allowance, previous = self.db.write(begin)
        pipeline = DataPipeline(self._with_heartbeat(image_id, chunks), allowance, disk_format)
        try:
            location = store.add(image_id, pipeline)
        except (formats.InvalidImageData, ImageTooLarge):
            self._set_status(image_id, registry.SAVING, previous)
            raise
        except BaseException:
            LOG.warning("Upload of image %s failed; marking it killed", image_id)
            killed = registry.KILLED if previous == registry.QUEUED else previous
            if not self._set_status(image_id, registry.SAVING, killed) and self._deleted(image_id):
                # Deleting the image removed the data being written: the client's doing, not a fault.
                raise ImageDeletedDuringUpload(
                    f"Image {image_id} was deleted during the upload; its data was discarded."
                ) from None
            raise
        return self._activate(image_id, registry.SAVING, previous, pipeline.summary(), [(store_id, location)])

    def _set_status(self, image_id: str, expected: str, new_status: str) -> bool:
        changed: bool = self.db.write(
            lambda session: registry.compare_and_set_status(
                session, image_id, (expected,), new_status, **NO_UPLOAD
            )
        )
        return changed

    def _deleted(self, image_id: str) -> bool:
        with self.db.reader() as session:
            image = session.get(Image, image_id)
            return image is None or image.deleted

    @property
    def host(self) -> str:
        return self.cloud.settings.host

    def _with_heartbeat(self, image_id: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """`chunks`, noting every HEARTBEAT_INTERVAL that the upload still makes progress."""
        cloud = self.cloud
        last = cloud.monotonic()
        for chunk in chunks:
            if cloud.monotonic() - last >= HEARTBEAT_INTERVAL.total_seconds():
                last = cloud.monotonic()
                self.db.write(lambda session: self._beat(session, image_id))
            yield chunk

    def _beat(self, session: Session, image_id: str) -> None:
        session.execute(
            update(Image)
            .where(Image.id == image_id, Image.status == registry.SAVING, Image.upload_host == self.host)
            .values(upload_heartbeat_at=self.cloud.clock())
            .execution_options(synchronize_session=False)
        )

    def recover_interrupted_uploads(self) -> list[str]:
        """Images left `saving` by a process that died mid-upload go back to `queued`, and what their
        upload had written is removed; the ids of those images.

        Run when the API starts. An upload on this host is dead when the process that received it
        is gone (another process here, a compute service's snapshot say, may be receiving one right
        now); an upload on another host is taken for dead once it made no progress for STALE_UPLOAD.
        Glance v2 puts an image whose upload failed back to `queued`, so its owner can upload again.
        """
        cutoff = self.cloud.clock() - STALE_UPLOAD
        stalled = func.coalesce(Image.upload_heartbeat_at, Image.updated_at) < cutoff
        saving = and_(Image.status == registry.SAVING, Image.deleted.is_(False))

        def requeue(session: Session) -> list[str]:
            ours_or_stalled = or_(Image.upload_host == self.host, stalled)
            query = select(Image.id, Image.upload_host, Image.upload_process).where(saving, ours_or_stalled)
            candidates = session.execute(query)
            abandoned = []
            for image_id, host, process in candidates.all():
                if host == self.host and process is not None and process_is_alive(process):
                    continue
                # Unless the upload made progress or changed hands since the query above.
                unchanged = Image.upload_process.is_not_distinct_from(process)
                done = session.execute(
                    update(Image)
                    .where(Image.id == image_id, saving, ours_or_stalled, unchanged)
                    .values(status=registry.QUEUED, updated_at=utcnow(), **NO_UPLOAD)
                    .execution_options(synchronize_session=False)
                )
                if done.rowcount:  # type: ignore[attr-defined]
                    abandoned.append(image_id)
            return abandoned

        image_ids: list[str] = self.db.write(requeue)
        for image_id in image_ids:
            LOG.warning("Upload of image %s was interrupted (its process stopped); back to queued", image_id)
            self.discard_partials(image_id)
        return image_ids

    def discard_partials(self, image_id: str) -> None:
        """Remove what unfinished uploads of `image_id` left in every store; failures are only logged."""
        for store_id, store in self.stores.items():
            try:
                store.delete_partial(image_id)
            except errors.OvercastError:
                LOG.exception("Could not remove the partial data of image %s from %s", image_id, store_id)

    def _activate(
        self,
        image_id: str,
        expected: str,
        on_failure: str,
        summary: DataSummary,
        stored: list[tuple[str, str]],
    ) -> ImageRecord:
        def finish(session: Session) -> ImageRecord:
            image = registry.get_live(session, image_id)
            if image.owner is not None:
                self.quotas.consume(session, image.owner, {SIZE_QUOTA: size_in_mib(summary.size)})
            done = registry.compare_and_set_status(
                session, image_id, (expected,), registry.ACTIVE, size=summary.size,
                checksum=summary.checksum, os_hash_algo=HASH_ALGO, os_hash_value=summary.os_hash_value,
                virtual_size=summary.virtual_size, **NO_UPLOAD,
            )  # fmt: skip
            if not done:
                raise errors.Conflict(f"Image {image_id} was deleted or changed while its data was stored.")
            for store_id, location in stored:
                registry.add_location(session, image_id, store_id, location)
            session.expire(image)
            return registry.record(session, registry.get_live(session, image_id))

        try:
            activated = self.db.write(finish)
            image_notifications.notify(self.notifier, None, "image.activate", activated.image)
            return activated
        except errors.QuotaExceeded as exc:
            self._discard(image_id, stored)
            self._set_status(image_id, expected, on_failure)
            raise ImageTooLarge(exc.message) from exc
        except BaseException:
            self._discard(image_id, stored)
            raise

    def _discard(self, image_id: str, stored: Iterable[tuple[str, str]]) -> None:
        for store_id, location in stored:
            try:
                self.stores[store_id].delete(location)
            except errors.OvercastError:
                LOG.exception("Could not remove the data of image %s from store %s", image_id, store_id)

    # --- download ---------------------------------------------------------------------------------
    def download(
        self, ctxt: RequestContext, image_id: str, range_header: str | None = None
    ) -> Download | None:
        """The data (or the requested range) of an image; None when it has no data (HTTP 204)."""
        policy.enforce(ctxt, policies.DOWNLOAD_IMAGE)
        policy.enforce(ctxt, policies.GET_IMAGE)
        with self.db.reader() as session:
            record = registry.record(session, registry.get_visible(session, ctxt, image_id))
        image = record.image
        if image.status == registry.DEACTIVATED and not ctxt.is_admin:
            raise errors.Forbidden(
                "The requested image has been deactivated. Image data download is forbidden."
            )
        if image.status not in (registry.ACTIVE, registry.DEACTIVATED) or not record.locations:
            return None
        size = image.size or 0
        start, length, partial = parse_range(range_header, size)
        usable = [(store, url) for store, url in record.locations if store in self.stores]
        if not usable:
            raise errors.ServiceUnavailable(f"No store holding image {image_id} is enabled on this node.")
        store_id, url = usable[0]
        chunks = self.stores[store_id].read(url, start, length)
        return Download(record, size, start, length, partial, chunks)

    # --- staging and import -----------------------------------------------------------------------
    def stage(
        self, ctxt: RequestContext, image_id: str, chunks: Iterable[bytes], declared_size: int | None = None
    ) -> None:
        def begin(session: Session) -> int:
            image = registry.get_visible(session, ctxt, image_id, for_update=True)
            policy.enforce(ctxt, policies.UPLOAD_IMAGE, {"project_id": image.owner})
            if image.status != registry.QUEUED:
                raise errors.Conflict(
                    f"Image status transition from {image.status} to uploading is not allowed"
                )
            allowance = self._allowance(session, image)
            if declared_size is not None and declared_size > allowance:
                raise ImageTooLarge(f"Image of {declared_size} bytes exceeds the allowed {allowance} bytes.")
            registry.compare_and_set_status(session, image_id, (registry.QUEUED,), registry.UPLOADING)
            return allowance

        allowance = self.db.write(begin)
        try:
            self.staging.add(image_id, limited(chunks, allowance))
        except BaseException:
            self._set_status(image_id, registry.UPLOADING, registry.QUEUED)
            raise

    def begin_import(
        self,
        ctxt: RequestContext,
        image_id: str,
        method: str,
        stores: list[str] | None = None,
        all_stores: bool = False,
        all_must_succeed: bool = True,
    ) -> Callable[[], None]:
        """Check and start an import; the returned function does the work (the API runs it after 202)."""
        if method not in IMPORT_METHODS:
            raise errors.BadRequest(
                f"Import method {method} is not supported; use one of {', '.join(IMPORT_METHODS)}."
            )
        wanted = list(self.stores) if all_stores else list(stores or [self.default_store])
        for store_id in wanted:
            self._store(store_id)

        def begin(session: Session) -> tuple[Image, list[tuple[str, str]], list[str], str]:
            image = registry.get_visible(session, ctxt, image_id, for_update=True)
            policy.enforce(ctxt, policies.UPLOAD_IMAGE, {"project_id": image.owner})
            locations = [(row.store, row.url) for row in registry.location_rows(session, image_id)]
            if method == "glance-direct":
                if image.status != registry.UPLOADING:
                    raise errors.Conflict(f"Image {image_id} has no staged data (status {image.status}).")
                targets = wanted
            else:
                policy.enforce(ctxt, policies.COPY_IMAGE)
                if image.status != registry.ACTIVE or not locations:
                    raise errors.Conflict(f"Only active images can be copied (status {image.status}).")
                held = {store for store, _ in locations}
                targets = [store_id for store_id in wanted if store_id not in held]
                if not targets:
                    raise errors.Conflict(f"Image {image_id} is already in store(s) {', '.join(wanted)}.")
            request = {"method": {"name": method}, "stores": wanted,
                       "all_stores_must_succeed": all_must_succeed}  # fmt: skip
            task_id = tasks.start_import(session, ctxt, image, method, targets, request)
            if method == "glance-direct":
                registry.compare_and_set_status(session, image_id, (registry.UPLOADING,), registry.IMPORTING)
            return image, locations, targets, task_id

        image, locations, targets, task_id = self.db.write(begin)
        if method == "glance-direct":
            staged = f"file://{self.staging.directory / image_id}"
            return lambda: self._import_staged(image, staged, targets, all_must_succeed, task_id)
        return lambda: self._copy(image, locations[0], targets, all_must_succeed, task_id)

    def _write_everywhere(
        self, image: Image, source: Callable[[], Iterable[bytes]], store_ids: list[str], must_succeed: bool
    ) -> tuple[DataSummary, list[tuple[str, str]]]:
        stored: list[tuple[str, str]] = []
        summary: DataSummary | None = None
        try:
            for store_id in store_ids:
                pipeline = DataPipeline(source(), self.settings.size_cap, image.disk_format)
                try:
                    stored.append((store_id, self.stores[store_id].add(image.id, pipeline)))
                except errors.OvercastError:
                    if must_succeed:
                        raise
                    LOG.exception("Importing image %s into store %s failed", image.id, store_id)
                    tasks.store_done(self.db, image.id, store_id, ok=False)
                    continue
                current = pipeline.summary()
                if summary is not None and current.os_hash_value != summary.os_hash_value:
                    raise errors.Conflict(f"Image {image.id} data changed between stores.")
                summary = current
            if summary is None:
                raise errors.ServiceUnavailable(f"Image {image.id} could not be stored in {store_ids}.")
        except BaseException:
            self._discard(image.id, stored)
            raise
        return summary, stored

    def _import_staged(
        self, image: Image, staged: str, store_ids: list[str], must_succeed: bool, task_id: str
    ) -> None:
        tasks.processing(self.db, task_id)
        try:
            summary, stored = self._write_everywhere(
                image, lambda: self.staging.read(staged), store_ids, must_succeed
            )
            self._activate(image.id, registry.IMPORTING, registry.QUEUED, summary, stored)
            for store_id, _ in stored:
                tasks.store_done(self.db, image.id, store_id, ok=True)
            tasks.finish_import(self.db, image.id, task_id)
        except Exception as exc:
            LOG.exception("Import of image %s failed; back to queued", image.id)
            self._set_status(image.id, registry.IMPORTING, registry.QUEUED)
            tasks.finish_import(self.db, image.id, task_id, error=_reason(exc))
        finally:
            self.staging.delete(staged)

    def _copy(
        self, image: Image, source: tuple[str, str], store_ids: list[str], must_succeed: bool, task_id: str
    ) -> None:
        source_store = self.stores[source[0]]
        tasks.processing(self.db, task_id)
        try:
            summary, stored = self._write_everywhere(
                image, lambda: source_store.read(source[1]), store_ids, must_succeed
            )
            if summary.os_hash_value != image.os_hash_value:
                self._discard(image.id, stored)
                raise errors.Conflict(f"Copy of image {image.id} does not match its hash.")

            def record_locations(session: Session) -> None:
                registry.get_live(session, image.id)
                for store_id, location in stored:
                    registry.add_location(session, image.id, store_id, location)

            self.db.write(record_locations)
            for store_id, _ in stored:
                tasks.store_done(self.db, image.id, store_id, ok=True)
            tasks.finish_import(self.db, image.id, task_id)
        except Exception as exc:
            LOG.exception("Copying image %s to %s failed", image.id, store_ids)
            tasks.finish_import(self.db, image.id, task_id, error=_reason(exc))


def _reason(exc: Exception) -> str:
    """What a failed import's task says happened."""
    return exc.message if isinstance(exc, errors.OvercastError) else f"{type(exc).__name__}: {exc}"
