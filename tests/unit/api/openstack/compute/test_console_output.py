"""os-getConsoleOutput's length counts lines as Nova does (split on newlines); control characters but
tab and newline are dropped."""

from __future__ import annotations

from overcast.api.openstack.compute.server_actions import CONTROL_CHARACTERS, _tail


def test_length_counts_the_text_after_the_last_newline_as_a_line() -> None:
    output = "boot\nlogin:\n"
    assert _tail(output, None) == output
    assert _tail(output, -1) == output
    assert _tail(output, 0) == ""
    assert _tail(output, 1) == ""
    assert _tail(output, 2) == "login:\n"
    assert _tail(output, 50) == output
    assert _tail("no newline", 1) == "no newline"


def test_control_characters_but_tab_and_newline_are_dropped() -> None:
    assert CONTROL_CHARACTERS.sub("", "a\x00b\x07c\td\ne\rf\x1b[0m") == "abc\td\nef[0m"
