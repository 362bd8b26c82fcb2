"""VolumeAPI: the Block Storage logic the /volume routers and compute call in-process."""
