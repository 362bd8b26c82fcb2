"""Exact money: Decimals only, rounded to the currency's minor unit once per invoice line."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

from overcast import errors

# Wide enough that dividing by 3600 x 730 never loses a digit that could change a rounded cent.
EXACT = Context(prec=60)
# ISO 4217 minor units of the currencies that differ from two.
_MINOR_UNITS = {
    "JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of `currency` an invoice shows (0.01 for EUR, 1 for JPY)."""
    return Decimal(1).scaleb(-_MINOR_UNITS.get(currency, 2))


def round_amount(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP, context=EXACT)


def check_currency(code: str) -> str:
    if len(code) != 3 or not code.isascii() or not code.isalpha() or not code.isupper():
        raise errors.BadRequest(f"Invalid currency {code!r}: an ISO 4217 code such as EUR or USD.")
    return code


def parse_decimal(value: object, what: str, *, negative: bool = False) -> Decimal:
    """A decimal from a JSON string or number (never through a float: "0.1" stays exactly 0.1)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise errors.BadRequest(f'Invalid {what}: give a decimal number as a string, such as "0.0125".')
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise errors.BadRequest(f"Invalid {what}: {value!r} is not a decimal number.") from None
    if not number.is_finite() or (number < 0 and not negative):
        raise errors.BadRequest(f"Invalid {what}: {value!r} must be a finite, non-negative number.")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -12:
        raise errors.BadRequest(f"Invalid {what}: at most 12 decimal places.")
    if number.adjusted() > 15:
        raise errors.BadRequest(f"Invalid {what}: {value!r} is too large.")
    return number


def text(amount: Decimal) -> str:
    """How amounts travel in JSON: a string, so no client reads them as a float."""
    return format(amount, "f")
