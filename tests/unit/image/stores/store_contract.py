"""The contract every image store passes (filesystem here, Swift in tests/integration).

A test module subclasses `StoreContract` and provides two fixtures: `store` (the store under test,
empty) and `stored_names` (a function listing every object the store's backend holds, so the tests
can prove a failed upload left nothing behind).
"""

from __future__ import annotations

import mmap
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from overcast.image.stores import Store, StoreError, StoreNotFound

MIB = 1024 * 1024


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def through_one_buffer(data: bytes, buffer: bytearray | mmap.mmap) -> Iterator[memoryview]:
    """The data as views of one buffer, scribbled over as soon as the next view is asked for (what
    the upload pipeline does with its ring of buffers)."""
    size = len(buffer)
    for start in range(0, len(data), size):
        piece = data[start : start + size]
        buffer[: len(piece)] = piece
        yield memoryview(buffer)[: len(piece)]
        buffer[:] = b"\xee" * size


class ClientWentAway(Exception):
    pass


def cut_off(data: bytes, after: int) -> Iterator[bytes]:
    yield data[:after]
    raise ClientWentAway


def stalled(data: bytes, resume: threading.Event, paused: threading.Event | None = None) -> Iterator[bytes]:
    """`data` in 256 KiB chunks, waiting for `resume` halfway (an upload whose client went quiet);
    `paused` is set when the wait begins."""
    half = len(data) // 2
    yield from chunked(data[:half], 256 * 1024)
    if paused is not None:
        paused.set()
    resume.wait(30)
    yield from chunked(data[half:], 256 * 1024)


class StoreContract:
    @pytest.mark.parametrize("size", [0, 1, 4096, MIB, 2 * MIB + 12345])
    def test_round_trip(self, store: Store, size: int) -> None:
        data = os.urandom(size)
        location = store.add(str(uuid.uuid4()), chunked(data, 65536 + 7))
        assert b"".join(store.read(location)) == data
        assert store.size(location) == size

    @pytest.mark.parametrize(
        "buffer",
        [lambda: bytearray(700_001), lambda: mmap.mmap(-1, MIB)],
        ids=["uneven-views", "whole-page-aligned-views"],
    )
    def test_chunks_are_not_kept_after_the_next_is_asked_for(
        self, store: Store, buffer: Callable[[], bytearray | mmap.mmap]
    ) -> None:
        data = os.urandom(3 * MIB + 4321)
        location = store.add(str(uuid.uuid4()), through_one_buffer(data, buffer()))
        assert b"".join(store.read(location)) == data

    def test_reads_are_chunked_and_ranged(self, store: Store) -> None:
        data = os.urandom(2 * MIB + 999)
        location = store.add(str(uuid.uuid4()), [data])
        assert all(len(chunk) <= MIB for chunk in store.read(location))
        for offset, length in ((0, 10), (MIB - 5, 10), (MIB + 3, None), (len(data) - 1, 1), (5, 0)):
            end = None if length is None else offset + length
            assert b"".join(store.read(location, offset, length)) == data[offset:end]

    def test_images_are_independent(self, store: Store) -> None:
        first, second = os.urandom(1000), os.urandom(2000)
        first_location = store.add(str(uuid.uuid4()), [first])
        second_location = store.add(str(uuid.uuid4()), [second])
        store.delete(first_location)
        assert b"".join(store.read(second_location)) == second

    def test_cut_off_upload_leaves_nothing(self, store: Store, stored_names: Callable[[], set[str]]) -> None:
        before = stored_names()
        image_id = str(uuid.uuid4())
        with pytest.raises(ClientWentAway):
            store.add(image_id, cut_off(os.urandom(3 * MIB), 2 * MIB + 100))
        assert stored_names() == before
        # The same image id can be uploaded again afterwards.
        location = store.add(image_id, [b"second try"])
        assert b"".join(store.read(location)) == b"second try"

    def test_delete(self, store: Store, stored_names: Callable[[], set[str]]) -> None:
        before = stored_names()
        location = store.add(str(uuid.uuid4()), chunked(os.urandom(2 * MIB + 1), MIB))
        assert stored_names() != before
        store.delete(location)
        assert stored_names() == before
        with pytest.raises(StoreNotFound):
            store.read(location)
        with pytest.raises(StoreNotFound):
            store.size(location)
        store.delete(location)  # already gone: not an error

    def test_foreign_locations_are_not_found(self, store: Store) -> None:
        for location in ("file:///etc/passwd", "swift+http://other-container/x", "http://example.com/x"):
            with pytest.raises(StoreNotFound):
                store.read(location)

    def test_delete_partial_removes_what_an_unfinished_add_wrote(
        self, store: Store, stored_names: Callable[[], set[str]]
    ) -> None:
        before = stored_names()
        image_id = str(uuid.uuid4())
        resume, paused = threading.Event(), threading.Event()
        outcome: list[BaseException | str] = []

        def add() -> None:
            try:
                outcome.append(store.add(image_id, stalled(os.urandom(4 * MIB), resume, paused)))
            except BaseException as exc:
                outcome.append(exc)

        adding = threading.Thread(target=add)
        adding.start()
        try:
            assert paused.wait(30), "the add never reached its stall"
            # What an API killed now would leave behind: once the client went quiet, the writes still
            # under way (a Swift segment that was complete) land; nothing writes after that.
            deadline, previous = time.monotonic() + 30, None
            while (written := stored_names()) == before or written != previous:
                assert time.monotonic() < deadline, "the add's writes did not settle"
                previous = written
                time.sleep(0.2)
            store.delete_partial(image_id)
            # A Swift container listing catches up with deletes only eventually (slowly on a busy host).
            deadline = time.monotonic() + 60
            while stored_names() != before:
                assert time.monotonic() < deadline, "what the add wrote is still listed"
                time.sleep(0.05)
        finally:
            resume.set()
            adding.join(30)
        # The add still running when its data went away cannot complete (nor leave anything).
        assert len(outcome) == 1 and isinstance(outcome[0], StoreError), outcome
        assert stored_names() == before
        store.delete_partial(image_id)  # nothing left: not an error
        location = store.add(image_id, [b"second try"])
        assert b"".join(store.read(location)) == b"second try"
