"""The linuxbridge network driver: bridges, VXLAN, taps, dnsmasq and nftables (see driver.py)."""
