"""Security regression tests share the functional tests' module-scoped cloud and its two users."""

from tests.functional.conftest import admin, cloud, demo

__all__ = ["admin", "cloud", "demo"]
