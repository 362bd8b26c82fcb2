"""Integers read from text that users and operators write: ASCII decimal digits, nothing else.

`str.isdigit()` is True for "²" and other digits `int()` refuses, so `isdigit()` then `int()` was a 500
wherever a path segment met it; and `int()` alone takes what no id is (" 1", "+1", "1_0", Arabic-Indic
digits). Ids also stop at the 32-bit range of Nova's integer columns, beyond which the database itself
refuses the value. These two functions are the one way to read such numbers.
"""

from __future__ import annotations

# Nova's db_const.MAX_INT: the largest value its (and our) integer id and size columns hold.
DB_MAX_INT = 2**31 - 1


def decimal(text: str) -> int | None:
    """The number `text` writes in ASCII decimal digits, or None."""
    return int(text) if text.isascii() and text.isdigit() else None


def database_id(text: str | int) -> int | None:
    """The integer id a path segment names, or None when it cannot name a row (the caller's 404/400)."""
    number = text if isinstance(text, int) else decimal(text)
    return number if number is not None and 0 <= number <= DB_MAX_INT else None
