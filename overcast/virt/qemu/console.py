"""The serial console log: QEMU appends the guest's ttyS0 to a file; we tail it and watch it."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

# Nova caps console output at 100 KiB as well.
MAX_CONSOLE_BYTES = 100 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1bc")


def console_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def read_console(path: Path, *, offset: int = 0, max_bytes: int = MAX_CONSOLE_BYTES) -> str:
    """The console text from `offset` on (at most the last `max_bytes`), terminal escapes removed."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(offset, size - max_bytes))
            data = handle.read()
    except OSError:
        return ""
    return _ANSI.sub("", data.decode("utf-8", errors="replace")).replace("\r\n", "\n")


def tail(path: Path, length: int | None = None, *, max_bytes: int = MAX_CONSOLE_BYTES) -> str:
    """The last `length` lines of the console (all of the last `max_bytes` when length is None)."""
    text = read_console(path, max_bytes=max_bytes)
    if length is None:
        return text
    if length <= 0:
        return ""
    lines = text.splitlines(keepends=True)
    return "".join(lines[-length:])


def wait_for(
    path: Path,
    pattern: re.Pattern[str],
    *,
    offset: int,
    timeout: float,
    still_running: Callable[[], bool] = lambda: True,
    poll: float = 0.05,
) -> re.Match[str] | None:
    """Wait until `pattern` appears in the console after `offset`; None on timeout or if the VM stops."""
    deadline = time.monotonic() + timeout
    while True:
        match = pattern.search(read_console(path, offset=offset, max_bytes=1 << 30))
        if match is not None:
            return match
        if time.monotonic() >= deadline or not still_running():
            return None
        time.sleep(poll)
