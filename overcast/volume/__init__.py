"""The block storage service: the Block Storage v3 API's logic (api/), the volume host's manager and its
RPC client, storage drivers (drivers/) and the backup engine (backup/)."""
