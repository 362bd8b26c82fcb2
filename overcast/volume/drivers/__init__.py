"""Volume storage drivers: one ABC (`base.py`), sparse files in a pool (`filepool.py`), the fake
driver (exports only remembered) and the tgt iSCSI one."""
