"""The Networking v2 API's logic (NetworkAPI in service.py) and IPAM, behind /networking's routers."""
