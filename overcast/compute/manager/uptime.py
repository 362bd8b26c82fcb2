"""The compute host's uptime line, as `uptime` prints it (Nova's libvirt driver runs that command and the
API shows its output verbatim), built from /proc rather than by running a program for every request."""

from __future__ import annotations

import struct
import time
from pathlib import Path

PROC = Path("/proc")
UTMP = Path("/run/utmp")
# glibc's struct utmp on Linux: 384 bytes, ut_type (a short) first; USER_PROCESS marks a logged-in user.
_UTMP_RECORD = 384
_USER_PROCESS = 7


def logged_in_users(utmp: Path = UTMP) -> int:
    """Users logged in, counted as `uptime` does (utmp's user processes); 0 when there is no utmp."""
    try:
        data = utmp.read_bytes()
    except OSError:
        return 0
    records = range(0, len(data) - _UTMP_RECORD + 1, _UTMP_RECORD)
    return sum(1 for offset in records if struct.unpack_from("<h", data, offset)[0] == _USER_PROCESS)


def uptime_line(proc: Path = PROC, utmp: Path = UTMP, now: time.struct_time | None = None) -> str:
    """' 16:09:43 up 8 days, 19:58,  1 user,  load average: 0.86, 0.63, 0.55' (procps' layout)."""
    seconds = int(float((proc / "uptime").read_text().split()[0]))
    loads = [float(value) for value in (proc / "loadavg").read_text().split()[:3]]
    clock = now or time.localtime()
    days, rest = divmod(seconds, 86400)
    hours, minutes = divmod(rest // 60, 60)
    line = f" {clock.tm_hour:02d}:{clock.tm_min:02d}:{clock.tm_sec:02d} up "
    if days:
        line += f"{days} day{'s' if days != 1 else ''}, "
    line += f"{hours:2d}:{minutes:02d}, " if hours else f"{minutes} min, "
    users = logged_in_users(utmp)
    line += f"{users:2d} user{'s' if users != 1 else ''}, "
    return line + " load average: {:.2f}, {:.2f}, {:.2f}".format(*loads)
