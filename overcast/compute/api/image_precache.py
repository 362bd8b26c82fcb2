"""2.81's image pre-caching (POST /os-aggregates/{id}/images): each compute host of the aggregate fetches
the images into its image cache ahead of the builds that will use them (the compute manager's
`cache_images`, RPC 1.9). The images are checked here, so a request naming one the caller cannot use is
Nova's 400 rather than a silent miss on every host; the hosts fetch in the background (202)."""

from __future__ import annotations

from overcast import errors
from overcast.compute.api.aggregates import AggregateAPI
from overcast.compute.api.lookup import visible_image
from overcast.compute.rpcapi import ComputeAPI
from overcast.context import RequestContext
from overcast.db.engine import Database


class ImagePrecache:
    def __init__(self, db: Database, aggregates: AggregateAPI, compute_rpc: ComputeAPI) -> None:
        self.db = db
        self.aggregates = aggregates
        self.compute_rpc = compute_rpc

    def cache(self, ctxt: RequestContext, aggregate_id: str, image_ids: list[str]) -> None:
        if len(set(image_ids)) != len(image_ids):
            raise errors.BadRequest("Duplicate images in request")
        aggregate = self.aggregates.get(aggregate_id)
        with self.db.reader() as session:
            for image_id in image_ids:
                try:
                    visible_image(session, ctxt, image_id)
                except errors.BadRequest as exc:
                    raise errors.BadRequest(f"Image {image_id} cannot be cached: {exc.message}") from None
        for host in aggregate.hosts:
            self.compute_rpc.cache_images(ctxt, host, image_ids)
