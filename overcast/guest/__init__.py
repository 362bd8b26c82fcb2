"""The tiny bootable guest image Overcast boots in tests and benchmarks (see builder.py)."""

from overcast.guest.builder import GuestBuildError, build_guest_image, guest_image_path
from overcast.guest.scripts import READY_MARKER, READY_PATTERN

__all__ = ["READY_MARKER", "READY_PATTERN", "GuestBuildError", "build_guest_image", "guest_image_path"]
