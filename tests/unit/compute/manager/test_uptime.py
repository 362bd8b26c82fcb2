from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest

from overcast.compute.manager.uptime import logged_in_users, uptime_line

AT = time.struct_time((2026, 12, 6, 16, 9, 43, 6, 340, 0))


def proc(tmp_path: Path, seconds: float, loads: str = "0.86 0.63 0.55 1/123 4567") -> Path:
    (tmp_path / "uptime").write_text(f"{seconds} 1234.56\n")
    (tmp_path / "loadavg").write_text(loads + "\n")
    return tmp_path


def utmp(tmp_path: Path, *types: int) -> Path:
    path = tmp_path / "utmp"
    path.write_bytes(b"".join(struct.pack("<h", kind) + bytes(382) for kind in types))
    return path


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (
            8 * 86400 + 19 * 3600 + 58 * 60 + 7,
            " 16:09:43 up 8 days, 19:58,  1 user,  load average: 0.86, 0.63, 0.55",
        ),
        (86400 + 5 * 60, " 16:09:43 up 1 day, 5 min,  1 user,  load average: 0.86, 0.63, 0.55"),
        (3 * 3600 + 4 * 60, " 16:09:43 up  3:04,  1 user,  load average: 0.86, 0.63, 0.55"),
        (59.9, " 16:09:43 up 0 min,  1 user,  load average: 0.86, 0.63, 0.55"),
    ],
)
def test_the_line_is_laid_out_as_procps_uptime(tmp_path: Path, seconds: float, expected: str) -> None:
    assert uptime_line(proc(tmp_path, seconds), utmp(tmp_path, 7), AT) == expected


def test_users_are_the_user_processes_of_utmp(tmp_path: Path) -> None:
    # Boot time (2), run level (1), two logins (7) and a dead process (8).
    assert logged_in_users(utmp(tmp_path, 2, 1, 7, 7, 8)) == 2
    assert logged_in_users(tmp_path / "no-utmp") == 0
    line = uptime_line(proc(tmp_path, 60, "12.5 3.25 0.00 2/9 1"), tmp_path / "no-utmp", AT)
    assert line.endswith("1 min,  0 users,  load average: 12.50, 3.25, 0.00")
