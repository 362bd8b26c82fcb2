"""Network data-plane drivers: one ABC (`base.py`), the desired-state records (`model.py`), a noop
driver for tests and the fake virt driver, and `linuxbridge/`, the real one."""
