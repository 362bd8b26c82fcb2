"""The metadata service: what a guest reads from http://169.254.169.254, served by the API process.

The API side (`api.py`: `MetadataAPI`) answers requests a metadata proxy signed; the proxy
(`overcast/network/metadata.py`, run by the network agent in a router or DHCP namespace) names the
instance by the port whose fixed IP sent the request. `signing.py` is what both sides share.
"""
