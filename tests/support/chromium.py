"""Debian's chromium for the browser tests (Playwright drives it; no browser is downloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest

# Debian's chromium package: /usr/bin/chromium is a wrapper script, this is the browser itself.
CHROMIUM = Path("/usr/lib/chromium/chromium")
NEEDS_CHROMIUM = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
