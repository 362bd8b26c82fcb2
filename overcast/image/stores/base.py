"""The image store ABC: where image data lives (the registry keeps only its metadata and locations).

Every store passes the same contract tests (tests/unit/image/stores/store_contract.py). Stores see plain byte
chunks: hashing, size limits and format checks happen above them (overcast.image.data).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator

from overcast import errors

# How much one read from a store yields at most (and what uploads are coalesced to).
CHUNK_SIZE = 1024 * 1024
# What a store is given to write: bytes, or a view of a buffer its caller reuses (see Store.add).
Chunk = bytes | memoryview


class StoreNotFound(errors.NotFound):
    default_message = "Image data not found in the store."


class StoreError(errors.ServiceUnavailable):
    default_message = "The image store failed."


class Store(ABC):
    #: The id clients name in X-Image-Meta-Store and see in an image's "stores" field.
    id: str = ""
    description: str = ""

    @abstractmethod
    def add(self, image_id: str, chunks: Iterable[Chunk]) -> str:
        """Store every chunk as the data of `image_id`; return the location to read it back from.

        A chunk may be a view of memory that is overwritten once the next chunk is asked for (the
        upload pipeline reuses its buffers): a store copies what it keeps longer than that.
        If `chunks` raises (a client cut off, a limit exceeded) or the store fails, nothing is left
        behind and the exception propagates: a half-written image never becomes readable.
        """

    @abstractmethod
    def read(self, location: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The bytes [offset, offset+length) of the data at `location`, in chunks of at most CHUNK_SIZE.

        Raises StoreNotFound (before yielding anything) when the data is gone.
        """

    @abstractmethod
    def size(self, location: str) -> int:
        """Bytes stored at `location`; StoreNotFound when the data is gone."""

    @abstractmethod
    def delete(self, location: str) -> None:
        """Remove the data; deleting data that is already gone is not an error."""

    @abstractmethod
    def delete_partial(self, image_id: str) -> None:
        """Remove what an unfinished `add` of `image_id` left (its process died mid-upload, so `add`
        could not clean up); having nothing to remove is not an error. Any `add` of that image still
        running fails."""


def exact_chunks(chunks: Iterable[Chunk], size: int = CHUNK_SIZE) -> Iterator[Chunk]:
    """Re-cut a stream into chunks of `size` bytes (the last one shorter), copying as little as possible.

    Like the stream it reads, what it yields is valid until the next chunk is asked for; what it
    carries over to a later chunk is copied, since the input's memory may be reused meanwhile.
    """
    pending: list[bytes] = []
    pending_size = 0
    for chunk in chunks:
        view = memoryview(chunk)
        while pending_size + len(view) >= size:
            taken = size - pending_size
            yield b"".join([*pending, view[:taken]]) if pending else view[:taken]
            pending, pending_size = [], 0
            view = view[taken:]
        if view:
            pending.append(bytes(view))
            pending_size += len(view)
    if pending_size:
        yield b"".join(pending)
