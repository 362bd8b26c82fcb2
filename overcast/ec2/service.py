"""`Ec2API`: runs an EC2 action for an authenticated caller (the `/ec2` router's only entry)."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import replace

from overcast import errors, policy
from overcast.cloud import Cloud
from overcast.compute.api import ComputeService
from overcast.compute.api.admin import AdminServices
from overcast.context import RequestContext
from overcast.ec2 import (
    addresses,
    ids,
    images,
    instance_reads,
    instances,
    keypairs,
    regions,
    security_groups,
    tags,
    volume_modifications,
    volumes,
    vpcs,
)
from overcast.ec2.actions import Action, table
from overcast.ec2.backends import Backends, Ec2Request, Recorder, Response
from overcast.ec2.errors import Ec2Error, dry_run_succeeded, from_service_error, unauthorized
from overcast.ec2.ids import IdTable
from overcast.ec2.params import Params
from overcast.identity.credentials import CredentialAPI
from overcast.image.api import ImageAPI

LOG = logging.getLogger(__name__)
ACTIONS: dict[str, Action] = table(
    regions.ACTIONS,
    instances.ACTIONS,
    images.ACTIONS,
    keypairs.ACTIONS,
    tags.ACTIONS,
    volumes.ACTIONS,
    volume_modifications.ACTIONS,
    vpcs.ACTIONS,
    security_groups.ACTIONS,
    addresses.ACTIONS,
)
# What records the ids of each kind of object the caller can see, for an id a listing showed before any
# action named it (Backends.resolve).
RECORDERS: dict[str, Recorder] = {
    ids.INSTANCE: instance_reads.record_visible, ids.MACHINE_IMAGE: images.record_visible,
    ids.KERNEL_IMAGE: images.record_visible, ids.RAMDISK_IMAGE: images.record_visible,
    ids.VOLUME: volumes.record_volumes, ids.SNAPSHOT: volumes.record_snapshots,
    ids.SECURITY_GROUP: security_groups.record_visible, ids.ADDRESS: addresses.record_visible,
    **vpcs.RECORDERS,
}  # fmt: skip
# How long, and for how many keys, authenticate() keeps what a credential's key resolved to.
CREDENTIAL_CACHE_SECONDS = 5.0
CREDENTIAL_CACHE_SIZE = 1024
# Where the API serves EC2, below the cloud's base URL.
PATH = "/ec2"


class Ec2API:
    def __init__(
        self, cloud: Cloud, compute: ComputeService, admin: AdminServices, images: ImageAPI,
        credentials: CredentialAPI, ids: IdTable | None = None,
    ) -> None:  # fmt: skip
        self.credentials = credentials
        # access key -> (valid until, secret, context): see authenticate.
        self._credentials_seen: dict[str, tuple[float, str, RequestContext]] = {}
        self.region = cloud.settings.region
        # NextToken values are signed: a token the service did not make reads as invalid, not as a page.
        key = hashlib.sha256(f"ec2-next-token:{cloud.settings.data_dir}".encode()).digest()
        self.backends = Backends(
            db=cloud.db, compute=compute, admin=admin, images=images, ids=ids or IdTable(cloud.db),
            clock=cloud.clock, region=self.region, endpoint=cloud.settings.base_url.rstrip("/") + PATH,
            token_key=key, recorders=RECORDERS,
        )  # fmt: skip

    @property
    def ids(self) -> IdTable:
        return self.backends.ids

    def authenticate(self, access_key: str, request_id: str | None) -> tuple[str, RequestContext]:
        """The secret to check the request's signature with and the context its key acts as.

        A key's answer is kept for CREDENTIAL_CACHE_SECONDS (as keystonemiddleware keeps a validated token):
        a client's requests come in bursts, and each would otherwise read the credential, its user,
        project and roles and decrypt the secret. A deleted credential or a lost role takes effect within
        that time."""
        now = time.monotonic()
        cached = self._credentials_seen.get(access_key)
        if cached is None or cached[0] < now:
            try:
                secret, context = self.credentials.ec2_context(access_key)
            except errors.Unauthorized as error:
                raise Ec2Error("AuthFailure", error.message) from None
            if len(self._credentials_seen) >= CREDENTIAL_CACHE_SIZE:
                self._credentials_seen.clear()
            cached = self._credentials_seen[access_key] = (now + CREDENTIAL_CACHE_SECONDS, secret, context)
        _, secret, context = cached
        return secret, replace(context, request_id=request_id) if request_id else context

    def call(self, context: RequestContext, name: str, values: Mapping[str, str]) -> Response:
        action = ACTIONS.get(name)
        if action is None:
            raise Ec2Error("InvalidAction", f"The action {name} is not valid for this web service.")
        params = Params(values)
        request = Ec2Request(context, params, name)
        dry_run = params.boolean("DryRun")
        if action.rule is not None and not policy.authorize(context, action.rule, request.target()):
            raise unauthorized()
        if dry_run:
            raise dry_run_succeeded()
        try:
            return action.handler(self.backends, request)
        except errors.OvercastError as error:
            raise from_service_error(
                error, not_found=action.not_found, quota=action.quota, conflict=action.conflict
            ) from None
