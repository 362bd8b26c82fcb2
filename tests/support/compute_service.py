"""A ComputeService with the image service it requires, as api/assembly.py builds the pair."""

from __future__ import annotations

from overcast.cloud import Cloud
from overcast.compute.api import ComputeService
from overcast.image.api import ImageAPI
from overcast.image.settings import ImageSettings


def compute_service(cloud: Cloud) -> ComputeService:
    return ComputeService(cloud, ImageAPI(cloud, ImageSettings()))
