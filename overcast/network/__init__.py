"""The network service: the Networking v2 API's logic and IPAM (api/), and the data plane (drivers/)."""
