"""The OpenStack Swift store: each image is a static large object (segments behind one manifest).

Speaks Swift's HTTP API directly (tempauth v1.0 auth), so it needs no client library. Segments go to
`<container>_segments/<image_id>/<n>`; the manifest `<container>/<image_id>` lists them, and deleting
it with ?multipart-manifest=delete removes the segments too.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

import httpx

from overcast.image.stores.base import CHUNK_SIZE, Chunk, Store, StoreError, StoreNotFound, exact_chunks

LOCATION_PREFIX = "swift+http://"


class SwiftStore(Store):
    id = "swift"
    description = "OpenStack Swift (static large objects)"

    def __init__(
        self,
        auth_url: str,
        user: str,
        key: str,
        container: str = "overcast-images",
        segment_size: int = 200 * 1024 * 1024,
        timeout: float = 60.0,
    ) -> None:
        self.auth_url = auth_url
        self.user = user
        self.key = key
        self.container = container
        self.segment_container = f"{container}_segments"
        self.segment_size = segment_size
        self.timeout = timeout
        self._client = httpx.Client(timeout=timeout)
        self._lock = threading.Lock()
        self._storage_url = ""
        self._token = ""
        self._containers_ready = False

    # --- plumbing ---------------------------------------------------------------------------------
    def _authenticate(self) -> None:
        response = self._client.get(self.auth_url, headers={"X-Auth-User": self.user, "X-Auth-Key": self.key})
        if response.status_code >= 300:
            raise StoreError(f"Swift authentication failed: HTTP {response.status_code}")
        self._storage_url = response.headers["X-Storage-Url"].rstrip("/")
        self._token = response.headers["X-Auth-Token"]

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request to the account; authenticates (again, after a 401) as needed."""
        for attempt in range(2):
            with self._lock:
                if not self._token:
                    self._authenticate()
                url, token = f"{self._storage_url}/{path}", self._token
            headers = {"X-Auth-Token": token, **kwargs.pop("headers", {})}
            try:
                response = self._client.request(method, url, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                raise StoreError(f"Swift is unreachable: {exc}") from exc
            # A streamed body cannot be sent twice, so only body-less requests are retried.
            if response.status_code == 401 and attempt == 0 and "content" not in kwargs:
                with self._lock:
                    self._token = ""
                    # Swift answers a refused HEAD with a body; a fresh pool drops that connection.
                    self._client.close()
                    self._client = httpx.Client(timeout=self.timeout)
                kwargs["headers"] = {k: v for k, v in headers.items() if k != "X-Auth-Token"}
                continue
            return response
        return response

    def _ensure_containers(self) -> None:
        if self._containers_ready:
            return
        for container in (self.container, self.segment_container):
            response = self._request("PUT", quote(container))
            if response.status_code not in (201, 202):
                raise StoreError(f"Cannot create Swift container {container}: HTTP {response.status_code}")
        self._containers_ready = True

    def _object_path(self, location: str) -> str:
        if not location.startswith(LOCATION_PREFIX):
            raise StoreNotFound(f"Not a Swift store location: {location}")
        container, _, name = location[len(LOCATION_PREFIX) :].partition("/")
        if container != self.container or not name:
            raise StoreNotFound(f"Location {location} is outside this store.")
        return f"{quote(container)}/{quote(name)}"

    # --- the Store contract -----------------------------------------------------------------------
    def add(self, image_id: str, chunks: Iterable[Chunk]) -> str:
        self._ensure_containers()
        segments: list[dict[str, Any]] = []
        try:
            for index, segment in enumerate(self._segments(chunks)):
                path = f"{self.segment_container}/{image_id}/{index:08d}"
                counted = _Counted(segment)
                response = self._request("PUT", quote(path), content=counted)
                if response.status_code != 201:
                    raise StoreError(f"Swift refused segment {index}: HTTP {response.status_code}")
                segments.append({"path": f"/{path}", "etag": response.headers.get("Etag"),
                                 "size_bytes": counted.size})  # fmt: skip
            if not segments:
                # Static large objects need a segment: an empty image is one empty object.
                response = self._request("PUT", quote(f"{self.container}/{image_id}"), content=b"")
                if response.status_code != 201:
                    raise StoreError(f"Swift refused the image object: HTTP {response.status_code}")
                return f"{LOCATION_PREFIX}{self.container}/{image_id}"
            response = self._request(
                "PUT", quote(f"{self.container}/{image_id}"), params={"multipart-manifest": "put"},
                content=json.dumps(segments).encode(), headers={"Content-Type": "application/json"},
            )  # fmt: skip
            if response.status_code != 201:
                raise StoreError(f"Swift refused the manifest: HTTP {response.status_code} {response.text}")
        except BaseException:
            self._delete_segments(image_id, len(segments) + 1)
            raise
        return f"{LOCATION_PREFIX}{self.container}/{image_id}"

    def _segments(self, chunks: Iterable[Chunk]) -> Iterator[Iterator[Chunk]]:
        """Split the stream into segment-sized sub-streams without holding a segment in memory.

        Each sub-stream must be consumed before the next one is asked for (one PUT after another).
        """
        source = exact_chunks(chunks, min(CHUNK_SIZE, self.segment_size))
        # Read already but belongs to the next segment; taken before `source` is pulled again, so it
        # may stay a view of the source's current chunk.
        carry: list[Chunk] = []

        def next_chunk() -> Chunk | None:
            return carry.pop() if carry else next(source, None)

        def segment() -> Iterator[Chunk]:
            size = 0
            while size < self.segment_size:
                chunk = next_chunk()
                if chunk is None:
                    return
                room = self.segment_size - size
                if len(chunk) > room:
                    carry.append(chunk[room:])
                    chunk = chunk[:room]
                size += len(chunk)
                yield chunk

        while (first := next_chunk()) is not None:
            carry.append(first)
            yield segment()

    def _delete_segments(self, image_id: str, count: int) -> None:
        with contextlib.suppress(StoreError):
            for index in range(count):
                self._request("DELETE", quote(f"{self.segment_container}/{image_id}/{index:08d}"))

    def read(self, location: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        path = self._object_path(location)
        headers = {}
        if offset or length is not None:
            if length == 0:
                return iter(())
            end = "" if length is None else str(offset + length - 1)
            headers["Range"] = f"bytes={offset}-{end}"
        with self._lock:
            if not self._token:
                self._authenticate()
            url, token = f"{self._storage_url}/{path}", self._token
        response = self._client.send(
            self._client.build_request("GET", url, headers={"X-Auth-Token": token, **headers}), stream=True
        )
        if response.status_code == 404:
            response.close()
            raise StoreNotFound(f"Image data at {location} is gone.")
        if response.status_code == 416:
            response.close()
            return iter(())
        if response.status_code not in (200, 206):
            response.close()
            raise StoreError(f"Swift read failed: HTTP {response.status_code}")
        return self._stream(response)

    @staticmethod
    def _stream(response: httpx.Response) -> Iterator[bytes]:
        try:
            yield from response.iter_bytes(CHUNK_SIZE)
        finally:
            response.close()

    def size(self, location: str) -> int:
        response = self._request("HEAD", self._object_path(location))
        if response.status_code == 404:
            raise StoreNotFound(f"Image data at {location} is gone.")
        if response.status_code >= 300:
            raise StoreError(f"Swift HEAD failed: HTTP {response.status_code}")
        return int(response.headers["Content-Length"])

    def delete(self, location: str) -> None:
        path = self._object_path(location)
        response = self._request("DELETE", path, params={"multipart-manifest": "delete"})
        if response.status_code not in (200, 204, 404):
            raise StoreError(f"Swift delete failed: HTTP {response.status_code}")

    def delete_partial(self, image_id: str) -> None:
        # Segments of an upload that never got its manifest: nothing else names them.
        response = self._request(
            "GET", quote(self.segment_container), params={"prefix": f"{image_id}/", "format": "json"}
        )
        if response.status_code == 404:
            return
        if response.status_code >= 300:
            raise StoreError(f"Swift listing failed: HTTP {response.status_code}")
        for entry in response.json() if response.status_code == 200 else []:
            deleted = self._request("DELETE", quote(f"{self.segment_container}/{entry['name']}"))
            if deleted.status_code not in (200, 204, 404):
                raise StoreError(f"Swift delete failed: HTTP {deleted.status_code}")


class _Counted:
    """An iterable body that counts what it sent (a segment's size for the manifest)."""

    def __init__(self, chunks: Iterator[Chunk]) -> None:
        self.chunks = chunks
        self.size = 0

    def __iter__(self) -> Iterator[Chunk]:
        for chunk in self.chunks:
            self.size += len(chunk)
            yield chunk
