"""Reading and watching the serial console log."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

from overcast.guest import READY_PATTERN
from overcast.virt.qemu.console import console_size, read_console, tail, wait_for
from tests.support.waiting import WAIT_SECONDS


def test_tail_returns_the_last_lines_without_terminal_escapes(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_bytes(b"\x1bc\x1b[?7l\x1b[2JSeaBIOS\r\n" + b"".join(b"line %d\r\n" % n for n in range(10)))
    assert tail(log, 2) == "line 8\nline 9\n"
    assert tail(log).startswith("SeaBIOS\nline 0\n")
    assert tail(log, 0) == ""
    assert tail(tmp_path / "missing.log") == ""


def test_read_console_is_capped_to_the_newest_bytes(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_text("a" * 1000 + "z" * 10)
    assert read_console(log, max_bytes=10) == "z" * 10
    assert read_console(log, offset=1005) == "z" * 5


def test_wait_for_sees_only_output_after_the_offset(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_text("OVERCAST-GUEST-READY old\n\nvm1 login: ")
    offset = console_size(log)
    assert wait_for(log, READY_PATTERN, offset=offset, timeout=0.2) is None

    def boot() -> None:
        time.sleep(0.2)
        with log.open("a") as handle:
            handle.write("booting\r\nOVERCAST-GUEST-READY 1234-abcd\r\n\r\nvm1 login: ")

    threading.Thread(target=boot).start()
    found = wait_for(log, READY_PATTERN, offset=offset, timeout=WAIT_SECONDS)
    assert found is not None and found.group(1) == "1234-abcd"


def test_ready_needs_the_login_prompt_after_the_marker(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_text("OVERCAST-GUEST-READY 1234\n")
    assert wait_for(log, READY_PATTERN, offset=0, timeout=0.1) is None


def test_wait_for_gives_up_when_the_vm_stops(tmp_path: Path) -> None:
    started = time.monotonic()
    found = wait_for(
        tmp_path / "c.log", re.compile("never"), offset=0, timeout=WAIT_SECONDS, still_running=lambda: False
    )
    assert found is None and time.monotonic() - started < WAIT_SECONDS / 2  # not at the timeout
