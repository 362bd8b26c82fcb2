"""Request value types the OpenStack APIs share: Nova's `parameter_types`, as pydantic annotated types.

Each type accepts exactly the spellings Nova's JSON schema for it accepts (a boolean as `"yes"`, a flavor
size as `"1024"`, a flavor id as a number) and hands the request model the normalised value (a `bool`,
an `int`, an IPv6 address in compressed form), so no router re-parses a field. A refused value raises
ValueError with Nova's wording; `check` turns that into Nova's 400 for bodies a router reads by hand.
Each type also carries the JSON schema Nova publishes for it, which the OpenAPI documents show.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import unicodedata
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import PlainValidator, TypeAdapter, ValidationError, WithJsonSchema

from overcast import errors
from overcast.digits import DB_MAX_INT

# Nova's SQL_SP_FLOAT_MAX: the largest single-precision float a column holds (rxtx_factor).
SQL_SP_FLOAT_MAX = 3.40282e38
MAX_TAG_LENGTH = 60
MAX_TAG_COUNT = 50
# Nova's metadata keys: 1-255 of these characters. Its pattern reads `0-9-_`, so the range runs from
# "9" to "_" and takes ":;<=>?@[\]^" along; the contract is the pattern as Nova wrote it.
METADATA_KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")
METADATA_VALUE_LENGTH = 255

TRUE_WORDS = ("True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes")
FALSE_WORDS = ("False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no")
_BOOLEAN_ENUM = "[True, " + ", ".join(repr(word) for word in TRUE_WORDS) + ", False, " + ", ".join(
    repr(word) for word in FALSE_WORDS
) + "]"  # fmt: skip


def check(type_: Any, name: str, value: Any) -> Any:
    """`value` validated as `type_` for a body read by hand; Nova's 400 wording when it is refused."""
    try:
        return TypeAdapter(type_).validate_python(value)
    except ValidationError as exc:
        raise errors.BadRequest(
            f"Invalid input for field/attribute {name}. Value: {value}. {reason(exc)}"
        ) from None


def reason(exc: ValidationError) -> str:
    """The first error in Nova's words: a validator's own message, or JSON Schema's for an unknown key."""
    return nova_message(dict(exc.errors()[0]))


def nova_message(error: dict[str, Any]) -> str:
    """One pydantic error as Nova (JSON Schema) words it."""
    location = error.get("loc") or ("",)
    if error.get("type") == "extra_forbidden":
        return f"Additional properties are not allowed ({str(location[-1])!r} was unexpected)"
    return str(error.get("msg", "is invalid")).removeprefix("Value error, ")


def _is_json_integer(value: Any) -> bool:
    # JSON Schema draft 4 (Nova's): true is not an integer, nor is 1.0.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_json_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- booleans -------------------------------------------------------------------------------------
def to_boolean(value: Any) -> bool:
    """parameter_types.boolean: a JSON boolean or one of Nova's words for one (case as listed)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in TRUE_WORDS:
        return True
    if isinstance(value, str) and value in FALSE_WORDS:
        return False
    raise ValueError(f"{value!r} is not one of {_BOOLEAN_ENUM}")


Boolean = Annotated[
    bool,
    PlainValidator(to_boolean),
    WithJsonSchema({"anyOf": [{"type": "boolean"}, {"type": "string", "enum": [*TRUE_WORDS, *FALSE_WORDS]}]}),
]


# --- integers given as numbers or digit strings ------------------------------------------------------
def integer_rule(
    minimum: int, maximum: int | None = None, pattern: str = r"^[0-9]*$"
) -> Callable[[Any], int]:
    """An integer or a string of one (`pattern`), within [minimum, maximum], as Nova compares both."""
    digits = re.compile(pattern)

    def validate(value: Any) -> int:
        if isinstance(value, str):
            if not value:
                raise ValueError("'' is too short")
            if not digits.search(value):
                raise ValueError(f"{value!r} does not match {pattern!r}")
            number = int(value)
        elif _is_json_integer(value):
            number = value
        else:
            raise ValueError(f"{value!r} is not of type 'integer', 'string'")
        if number < minimum:
            raise ValueError(f"{number} is less than the minimum of {minimum}")
        if maximum is not None and number > maximum:
            raise ValueError(f"{number} is greater than the maximum of {maximum}")
        return number

    return validate


def _integer_schema(minimum: int, maximum: int | None = None, pattern: str = "^[0-9]*$") -> WithJsonSchema:
    bounds: dict[str, int] = {"minimum": minimum, **({"maximum": maximum} if maximum is not None else {})}
    return WithJsonSchema(
        {"anyOf": [{"type": "integer", **bounds}, {"type": "string", "pattern": pattern, "minLength": 1}]}
    )


PositiveInteger = Annotated[int, PlainValidator(integer_rule(1)), _integer_schema(1)]
NonNegativeInteger = Annotated[int, PlainValidator(integer_rule(0)), _integer_schema(0)]
# volume_size, flavor_param_positive and flavor_param_non_negative: a digit is required, and the value
# fits the database's integer columns.
_SIZE = r"^[0-9]+$"
VolumeSize = Annotated[
    int, PlainValidator(integer_rule(1, DB_MAX_INT, _SIZE)), _integer_schema(1, DB_MAX_INT, _SIZE)
]
FlavorPositive = VolumeSize
FlavorNonNegative = Annotated[
    int, PlainValidator(integer_rule(0, DB_MAX_INT, _SIZE)), _integer_schema(0, DB_MAX_INT, _SIZE)
]
_QUOTA = r"^-?[0-9]+$"
# The quota sets' limits: -1 (unlimited) to the database integer.
QuotaLimit = Annotated[
    int, PlainValidator(integer_rule(-1, DB_MAX_INT, _QUOTA)), _integer_schema(-1, DB_MAX_INT, _QUOTA)
]


def _rxtx_factor(value: Any) -> float:
    """flavor_manage's rxtx_factor: a number or a decimal string, above 0, a single-precision float."""
    if isinstance(value, str):
        if not re.search(r"^[0-9]+(\.[0-9]+)?$", value):
            raise ValueError(f"{value!r} does not match '^[0-9]+(\\.[0-9]+)?$'")
        number = float(value)
    elif _is_json_number(value):
        number = float(value)
    else:
        raise ValueError(f"{value!r} is not of type 'number', 'string'")
    if number <= 0:
        raise ValueError(f"{value} is less than or equal to the minimum of 0")
    if number > SQL_SP_FLOAT_MAX:
        raise ValueError(f"{value} is greater than the maximum of {SQL_SP_FLOAT_MAX}")
    return number


RxtxFactor = Annotated[
    float,
    PlainValidator(_rxtx_factor),
    WithJsonSchema({"anyOf": [
        {"type": "number", "exclusiveMinimum": 0, "maximum": SQL_SP_FLOAT_MAX},
        {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
    ]}),
]  # fmt: skip


# --- flavor ids and references -------------------------------------------------------------------------
_FLAVOR_ID = re.compile(r"^(?! )[a-zA-Z0-9. _-]+(?<! )$")


def _flavor_id(value: Any) -> str | None:
    """flavor_manage's id: a string, a number (stored as its text) or null (the service makes a uuid)."""
    if value is None or (_is_json_number(value) and not value):
        # Nova's flavor create makes a uuid for any false id: null, and 0 too.
        return None
    if _is_json_number(value):
        # Nova stores str(id); what that spells must still be a valid id (1e+20 is not).
        value = str(value)
    elif not isinstance(value, str):
        raise ValueError(f"{value!r} is not of type 'string', 'number', 'null'")
    if not 1 <= len(value) <= 255:
        raise ValueError(f"{value!r} is too {'short' if not value else 'long'}")
    if not _FLAVOR_ID.search(value):
        raise ValueError(f"{value!r} does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'")
    return value


FlavorId = Annotated[
    str | None,
    PlainValidator(_flavor_id),
    WithJsonSchema({"anyOf": [
        {"type": "string", "minLength": 1, "maxLength": 255, "pattern": _FLAVOR_ID.pattern},
        {"type": "number"},
        {"type": "null"},
    ]}),
]  # fmt: skip


def _flavor_ref(value: Any) -> str:
    """parameter_types.flavor_ref: a non-empty string or an integer (a flavor's id either way)."""
    if _is_json_integer(value):
        return str(value)
    if isinstance(value, str):
        if not value:
            raise ValueError("'' is too short")
        return value
    raise ValueError(f"{value!r} is not of type 'string', 'integer'")


FlavorRef = Annotated[
    str,
    PlainValidator(_flavor_ref),
    WithJsonSchema({"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer"}]}),
]


# --- names and descriptions ----------------------------------------------------------------------------
def is_printable(char: str) -> bool:
    """Nova's rule: not "other" (control, format, surrogate, private, unassigned) nor a line or
    paragraph separator; horizontal spaces (Zs) are printable. Its patterns list the Basic Multilingual
    Plane only, so characters beyond it (emoji) are refused as well."""
    category = unicodedata.category(char)
    return (
        ord(char) < 0xFFFF and not category.startswith("C")
        and (not category.startswith("Z") or category == "Zs")
    )  # fmt: skip


def _is_space(char: str) -> bool:
    return unicodedata.category(char) == "Zs"


def _string(value: Any, minimum: int = 1, maximum: int = 255) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not of type 'string'")
    if len(value) < minimum:
        raise ValueError(f"{value!r} is too short")
    if len(value) > maximum:
        raise ValueError(f"{value!r} is too long")
    return value


def name_rule(excluded: str = "", spaces_at_ends: bool = False) -> Callable[[Any], str]:
    """parameter_types.name and its variants: 1-255 printable characters (without `excluded`); no
    whitespace at either end, or (`spaces_at_ends`, the legacy v2.0 rule) at least one non-space."""
    rule = "printable characters" + (f" except {', '.join(excluded)}" if excluded else "")
    if spaces_at_ends:
        rule += " with at least one non space character"
    else:
        rule += ". Can not start or end with whitespace."

    def validate(value: Any) -> str:
        text = _string(value)
        valid = all(is_printable(char) and char not in excluded for char in text)
        if spaces_at_ends:
            valid = valid and not all(_is_space(char) for char in text)
        else:
            valid = valid and not _is_space(text[0]) and not _is_space(text[-1])
        if not valid:
            raise ValueError(f"An invalid 'name' value was provided. The name must be: {rule}")
        return text

    return validate


_NAME_SCHEMA = WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 255})
Name = Annotated[str, PlainValidator(name_rule()), _NAME_SCHEMA]
NameWithLeadingTrailingSpaces = Annotated[str, PlainValidator(name_rule(spaces_at_ends=True)), _NAME_SCHEMA]
# Availability zone names cannot hold ":" (Nova reads "zone:host:node").
AzName = Annotated[str, PlainValidator(name_rule(excluded=":")), _NAME_SCHEMA]
AzNameWithLeadingTrailingSpaces = Annotated[
    str, PlainValidator(name_rule(excluded=":", spaces_at_ends=True)), _NAME_SCHEMA
]
NameOrNone = Name | None


def description_rule(maximum: int) -> Callable[[Any], str | None]:
    """parameter_types.description: null, or up to `maximum` printable characters (spaces included)."""

    def validate(value: Any) -> str | None:
        if value is None:
            return None
        text = _string(value, minimum=0, maximum=maximum)
        if not all(is_printable(char) for char in text):
            raise ValueError(f"{value!r} does not match the printable characters")
        return text

    return validate


Description = Annotated[
    str | None,
    PlainValidator(description_rule(255)),
    WithJsonSchema({"type": ["string", "null"], "maxLength": 255}),
]
# flavor_manage's description (2.55): the TEXT column's 64 KiB.
FlavorDescription = Annotated[
    str | None,
    PlainValidator(description_rule(65535)),
    WithJsonSchema({"type": ["string", "null"], "maxLength": 65535}),
]


def pattern_rule(pattern: str, minimum: int = 1, maximum: int = 255) -> Callable[[Any], str]:
    compiled = re.compile(pattern)

    def validate(value: Any) -> str:
        text = _string(value, minimum, maximum)
        if not compiled.search(text):
            raise ValueError(f"{value!r} does not match {pattern!r}")
        return text

    return validate


_HOSTNAME = r"^[a-zA-Z0-9-._]*$"
_HOSTNAME_OR_IP = r"^[a-zA-Z0-9-_.:]*$"
# Underscores are allowed: real hosts have them, whatever RFC 952 says.
Hostname = Annotated[
    str,
    PlainValidator(pattern_rule(_HOSTNAME)),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 255, "pattern": _HOSTNAME}),
]
# Newer Nova calls this pattern `fqdn` (a service's host), keeping `hostname` for 2.90's server hostnames.
Fqdn = Hostname
HostnameOrIpAddress = Annotated[
    str,
    PlainValidator(pattern_rule(_HOSTNAME_OR_IP, minimum=0)),
    WithJsonSchema({"type": "string", "maxLength": 255, "pattern": _HOSTNAME_OR_IP}),
]
_TAG = r"^[^,/]*$"
Tag = Annotated[
    str,
    PlainValidator(pattern_rule(_TAG, maximum=MAX_TAG_LENGTH)),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_TAG_LENGTH, "pattern": _TAG}),
]


# --- addresses and ids ------------------------------------------------------------------------------
def _ipv4(value: Any) -> str:
    """Format "ipv4": a dotted quad."""
    text = _string(value, minimum=0)
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a 'ipv4'") from None
    return text


def _ipv6(value: Any) -> str:
    """Format "ipv6", without a zone (fe80::1%eth0 names an interface, not an address), in the
    compressed form Nova stores and returns (2001:db8:0:0:0:0:0:1 is 2001:db8::1)."""
    text = _string(value, minimum=0)
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a 'ipv6'") from None
    if address.scope_id:
        raise ValueError(f"{value!r} is not a 'ipv6'")
    if address.ipv4_mapped is not None:
        # Written with its IPv4 part dotted, as Nova's netaddr (and Python from 3.13) writes it.
        return f"::ffff:{address.ipv4_mapped}"
    return address.compressed


def _ip_address(value: Any) -> str:
    text = _string(value, minimum=0)
    try:
        return _ipv4(text)
    except ValueError:
        pass
    try:
        return _ipv6(text)
    except ValueError:
        raise ValueError(f"{value!r} is not valid under any of the given schemas") from None


IPv4 = Annotated[str, PlainValidator(_ipv4), WithJsonSchema({"type": "string", "format": "ipv4"})]
IPv6 = Annotated[str, PlainValidator(_ipv6), WithJsonSchema({"type": "string", "format": "ipv6"})]
IpAddress = Annotated[
    str,
    PlainValidator(_ip_address),
    WithJsonSchema({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}),
]


def _uuid(value: Any) -> str:
    """Format "uuid" as oslo's is_uuid_like reads it: 32 hex digits, hyphens, braces and a urn: prefix
    optional."""
    text = _string(value, minimum=0)
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a 'uuid'") from None
    bare = text.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "").lower()
    if parsed.hex != bare:
        raise ValueError(f"{value!r} is not a 'uuid'")
    return text


Uuid = Annotated[str, PlainValidator(_uuid), WithJsonSchema({"type": "string", "format": "uuid"})]


# --- free-form values ---------------------------------------------------------------------------------
def metadata_rule(nullable: bool) -> Callable[[Any], dict[str, str | None]]:
    """parameter_types.metadata (and metadata_with_null): keys Nova's pattern allows, string values of
    at most 255 characters (or null)."""

    def validate(value: Any) -> dict[str, str | None]:
        if not isinstance(value, dict):
            raise ValueError(f"{value!r} is not of type 'object'")
        for key, item in value.items():
            if not isinstance(key, str) or not METADATA_KEY.search(key):
                raise ValueError(f"Additional properties are not allowed ({key!r} was unexpected)")
            if item is None and nullable:
                continue
            if not isinstance(item, str):
                raise ValueError(f"{item!r} is not of type 'string'" + (", 'null'" if nullable else ""))
            if len(item) > METADATA_VALUE_LENGTH:
                raise ValueError(f"{item!r} is too long")
        return dict(value)

    return validate


def _metadata_schema(nullable: bool) -> WithJsonSchema:
    value: dict[str, Any] = {"type": ["string", "null"] if nullable else "string", "maxLength": 255}
    return WithJsonSchema({"type": "object", "propertyNames": {"pattern": METADATA_KEY.pattern},
                           "additionalProperties": value})  # fmt: skip


Metadata = Annotated[dict[str, str], PlainValidator(metadata_rule(nullable=False)), _metadata_schema(False)]
MetadataWithNull = Annotated[
    dict[str, str | None], PlainValidator(metadata_rule(nullable=True)), _metadata_schema(True)
]


def _user_data(value: Any) -> str:
    """The servers schema's user_data: base64 (as Python's decoder reads it), at most 65535 characters."""
    text = _string(value, minimum=0, maximum=65535)
    try:
        base64.b64decode(text.encode(), validate=False)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"{value!r} is not a 'base64'") from None
    return text


UserData = Annotated[
    str,
    PlainValidator(_user_data),
    WithJsonSchema({"type": "string", "format": "base64", "maxLength": 65535}),
]


def _none(value: Any) -> None:
    """parameter_types.none: an action whose body says nothing: "None", null or {}."""
    if value is None or value == "None" or (isinstance(value, dict) and not value):
        return None
    raise ValueError(f"{value!r} is not one of ['None', None, {{}}]")


NoneBody = Annotated[None, PlainValidator(_none), WithJsonSchema({"enum": ["None", None, {}]})]
# The `{}` schema Nova gives most bodiless actions (os-start, pause, lock before 2.73...): any value.
AnyBody = Annotated[Any, WithJsonSchema({})]
DiskConfig = Literal["AUTO", "MANUAL"]
