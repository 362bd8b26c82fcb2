"""Each shared request type takes the values Nova's parameter_types (and its tests) accept and refuses
the ones they refuse; accepted values come back normalised."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from overcast import errors
from overcast.api.openstack import parameter_types as types
from overcast.digits import DB_MAX_INT


def valid(type_: Any, value: Any) -> Any:
    return TypeAdapter(type_).validate_python(value)


def refused(type_: Any, value: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(type_).validate_python(value)
    return types.reason(caught.value)


# --- boolean ----------------------------------------------------------------------------------------------
TRUE = [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes"]
FALSE = [False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"]


@pytest.mark.parametrize("value", TRUE)
def test_boolean_true_spellings(value: Any) -> None:
    assert valid(types.Boolean, value) is True


@pytest.mark.parametrize("value", FALSE)
def test_boolean_false_spellings(value: Any) -> None:
    assert valid(types.Boolean, value) is False


@pytest.mark.parametrize("value", ["bar", "2", "t", "y", "tRuE", "", 1, 0, None, [], {}])
def test_boolean_refuses_what_is_not_in_novas_enum(value: Any) -> None:
    assert "is not one of [True, 'True'" in refused(types.Boolean, value)


# --- integers -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"), [(1, 1), ("1", 1), ("0123456789", 123456789), (10**12, 10**12)]
)
def test_positive_integer_takes_numbers_and_digit_strings(value: Any, expected: int) -> None:
    assert valid(types.PositiveInteger, value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "0 is less than the minimum of 1"),
        ("0", "0 is less than the minimum of 1"),
        ("", "'' is too short"),
        ("abc", "'abc' does not match '^[0-9]*$'"),
        ("0xffff", "'0xffff' does not match"),
        ("1.0", "'1.0' does not match"),
        ("-1", "'-1' does not match"),
        (" 1", "' 1' does not match"),
        (True, "True is not of type 'integer', 'string'"),
        (1.0, "1.0 is not of type 'integer', 'string'"),
        (None, "None is not of type 'integer', 'string'"),
    ],
)
def test_positive_integer_refusals(value: Any, message: str) -> None:
    assert message in refused(types.PositiveInteger, value)


def test_non_negative_integer_takes_zero_and_refuses_minus_one() -> None:
    assert valid(types.NonNegativeInteger, 0) == 0
    assert valid(types.NonNegativeInteger, "0") == 0
    assert "-1 is less than the minimum of 0" in refused(types.NonNegativeInteger, -1)
    assert "'' is too short" in refused(types.NonNegativeInteger, "")


@pytest.mark.parametrize("value", ["1024", 1024, "1", DB_MAX_INT, str(DB_MAX_INT)])
def test_flavor_sizes_as_numbers_or_numeric_strings(value: Any) -> None:
    assert valid(types.FlavorPositive, value) == int(value)


@pytest.mark.parametrize("value", [0, "0", DB_MAX_INT + 1, str(DB_MAX_INT + 1), "", "1024MB", 1024.0, False])
def test_flavor_positive_refusals(value: Any) -> None:
    refused(types.FlavorPositive, value)


def test_flavor_non_negative_takes_zero_up_to_the_database_integer() -> None:
    assert valid(types.FlavorNonNegative, "0") == 0
    assert valid(types.FlavorNonNegative, 0) == 0
    refused(types.FlavorNonNegative, "-1")
    refused(types.FlavorNonNegative, DB_MAX_INT + 1)


def test_quota_limits_run_from_minus_one() -> None:
    assert valid(types.QuotaLimit, -1) == -1
    assert valid(types.QuotaLimit, "-1") == -1
    assert valid(types.QuotaLimit, "20") == 20
    assert "less than the minimum of -1" in refused(types.QuotaLimit, -2)
    refused(types.QuotaLimit, "ten")
    refused(types.QuotaLimit, True)


# --- rxtx_factor, flavor ids and references -------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [(1, 1.0), (1.5, 1.5), ("2", 2.0), ("0.5", 0.5)])
def test_rxtx_factor_takes_numbers_and_decimal_strings(value: Any, expected: float) -> None:
    assert valid(types.RxtxFactor, value) == expected


@pytest.mark.parametrize("value", [0, "0", "0.0", -1, "1e3", "1.", ".5", 3.5e38, True, None])
def test_rxtx_factor_refusals(value: Any) -> None:
    refused(types.RxtxFactor, value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (0, None),
        ("0", "0"),
        (1, "1"),
        (42, "42"),
        (1.5, "1.5"),
        ("m1.tiny", "m1.tiny"),
        ("my flavor_1-a", "my flavor_1-a"),
    ],
)
def test_flavor_ids_as_strings_numbers_or_null(value: Any, expected: str | None) -> None:
    assert valid(types.FlavorId, value) == expected


@pytest.mark.parametrize("value", ["", " lead", "trail ", "a/b", "a$b", "x" * 256, 1e20, True, [1]])
def test_flavor_id_refusals(value: Any) -> None:
    refused(types.FlavorId, value)


def test_flavor_refs_are_strings_or_integers() -> None:
    assert valid(types.FlavorRef, 1) == "1"
    assert valid(types.FlavorRef, "m1.tiny") == "m1.tiny"
    assert "'' is too short" in refused(types.FlavorRef, "")
    refused(types.FlavorRef, 1.5)
    refused(types.FlavorRef, True)
    refused(types.FlavorRef, None)


# --- names ----------------------------------------------------------------------------------------------
NAME_ERROR = "An invalid 'name' value was provided. The name must be: printable characters. "


@pytest.mark.parametrize("value", ["m1.small", "my server", "a", "\u0434", "\u0434\u2006\ufffd"])
def test_names_nova_accepts(value: str) -> None:
    assert valid(types.Name, value) == value


@pytest.mark.parametrize(
    "value", [" ", " server", "server ", "a\xa0", "\uffff", "\U00010000", "a\nb", "a\x00"]
)
def test_names_nova_refuses(value: str) -> None:
    assert NAME_ERROR in refused(types.Name, value)


@pytest.mark.parametrize("value", ["", "x" * 256, 1, None])
def test_names_must_be_strings_of_1_to_255(value: Any) -> None:
    refused(types.Name, value)


@pytest.mark.parametrize("value", ["m1.small", "  abc  ", "abc  abc  abc", "  abc  abc  abc  ", "\xa0abc"])
def test_names_with_leading_trailing_spaces_accepted_by_the_variant(value: str) -> None:
    assert valid(types.NameWithLeadingTrailingSpaces, value) == value


@pytest.mark.parametrize("value", [" ", "\xa0", "\uffff", "\U00010000"])
def test_the_variant_still_needs_a_printable_non_space(value: str) -> None:
    assert "with at least one non space character" in refused(types.NameWithLeadingTrailingSpaces, value)


def test_availability_zone_names_refuse_colons() -> None:
    assert valid(types.AzName, "zone-1") == "zone-1"
    assert "except :" in refused(types.AzName, "zone:host")
    assert valid(types.AzNameWithLeadingTrailingSpaces, " zone ") == " zone "
    refused(types.AzNameWithLeadingTrailingSpaces, " zone:1 ")


def test_name_or_none() -> None:
    assert valid(types.NameOrNone, None) is None
    assert valid(types.NameOrNone, "1") == "1"
    refused(types.NameOrNone, 1234)
    refused(types.NameOrNone, "")
    refused(types.NameOrNone, "k" * 256)


def test_descriptions_are_null_or_printable_up_to_their_length() -> None:
    assert valid(types.Description, None) is None
    assert valid(types.Description, "") == ""
    assert valid(types.Description, "  a described server  ") == "  a described server  "
    refused(types.Description, "x" * 256)
    refused(types.Description, "line\nbreak")
    assert valid(types.FlavorDescription, "x" * 65535) == "x" * 65535
    refused(types.FlavorDescription, "x" * 65536)


# --- hostnames, tags ------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["localhost", "localhost.localdomain.com", "my-host", "my_host"])
def test_hostnames(value: str) -> None:
    assert valid(types.Hostname, value) == value
    assert valid(types.HostnameOrIpAddress, value) == value


def test_hostname_refusals_and_addresses() -> None:
    assert "does not match '^[a-zA-Z0-9-._]*$'" in refused(types.Hostname, "my$host")
    refused(types.Hostname, True)
    refused(types.Hostname, 1)
    refused(types.Hostname, "")
    assert valid(types.HostnameOrIpAddress, "192.168.10.100") == "192.168.10.100"
    assert valid(types.HostnameOrIpAddress, "2001:db8::9abc") == "2001:db8::9abc"
    refused(types.HostnameOrIpAddress, "my$host")


def test_tags() -> None:
    assert valid(types.Tag, "red") == "red"
    assert valid(types.Tag, "x" * 60) == "x" * 60
    for bad in ("", "x" * 61, "a,b", "a/b", 1):
        refused(types.Tag, bad)


# --- addresses and ids ------------------------------------------------------------------------------------
def test_ipv4() -> None:
    assert valid(types.IPv4, "192.0.2.1") == "192.0.2.1"
    for bad in ("192.0.2", "256.0.0.1", "2001:db8::1", "", 1):
        assert "is not" in refused(types.IPv4, bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2001:db8::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("::", "::"),
    ],
)
def test_ipv6_is_returned_compressed(value: str, expected: str) -> None:
    assert valid(types.IPv6, value) == expected


@pytest.mark.parametrize("value", ["fe80::1%eth0", "2001:db8::g", "192.0.2.1", "", 6])
def test_ipv6_refusals(value: Any) -> None:
    refused(types.IPv6, value)


def test_ip_address_is_either_family() -> None:
    assert valid(types.IpAddress, "10.0.0.5") == "10.0.0.5"
    assert valid(types.IpAddress, "2001:0db8::0005") == "2001:db8::5"
    assert "not valid under any of the given schemas" in refused(types.IpAddress, "10.0.0")


def test_uuids_as_oslo_reads_them() -> None:
    assert valid(types.Uuid, "70a599e0-31e7-49b7-b260-868f441e862b") == "70a599e0-31e7-49b7-b260-868f441e862b"
    assert valid(types.Uuid, "70a599e031e749b7b260868f441e862b") == "70a599e031e749b7b260868f441e862b"
    assert valid(types.Uuid, "{70a599e0-31e7-49b7-b260-868f441e862b}")
    for bad in ("70a599e031e749b7b260868f441e862", "1", "abc"):
        assert "is not a 'uuid'" in refused(types.Uuid, bad)


# --- metadata, user data, bodiless actions ------------------------------------------------------------------
def test_metadata_keys_and_values() -> None:
    assert valid(types.Metadata, {}) == {}
    assert valid(types.Metadata, {"a-b_c:d. e": "x" * 255, "k" * 255: ""}) == {
        "a-b_c:d. e": "x" * 255,
        "k" * 255: "",
    }
    assert "was unexpected" in refused(types.Metadata, {"": "v"})
    assert "was unexpected" in refused(types.Metadata, {"k" * 256: "v"})
    assert "was unexpected" in refused(types.Metadata, {"a/b": "v"})
    assert "is too long" in refused(types.Metadata, {"k": "v" * 256})
    assert "is not of type 'string'" in refused(types.Metadata, {"k": 1})
    refused(types.Metadata, {"k": None})
    refused(types.Metadata, ["k"])


def test_metadata_with_null_takes_null_values() -> None:
    assert valid(types.MetadataWithNull, {"k": None, "j": "v"}) == {"k": None, "j": "v"}
    refused(types.MetadataWithNull, {"k": 1})


def test_user_data_is_base64_of_at_most_65535_characters() -> None:
    assert valid(types.UserData, "IyEvYmluL3NoCg==") == "IyEvYmluL3NoCg=="
    assert "is not a 'base64'" in refused(types.UserData, "abc")
    refused(types.UserData, "A" * 65536)
    refused(types.UserData, 1)


@pytest.mark.parametrize("value", ["None", None, {}])
def test_none_takes_novas_three_spellings(value: Any) -> None:
    assert valid(types.NoneBody, value) is None


@pytest.mark.parametrize("value", ["", {"key": "val"}, "null", 0])
def test_none_refusals(value: Any) -> None:
    assert "is not one of ['None', None, {}]" in refused(types.NoneBody, value)


@pytest.mark.parametrize("value", [None, {}, {"type": "HARD"}, "anything", 1])
def test_the_empty_schema_takes_any_value(value: Any) -> None:
    assert valid(types.AnyBody, value) == value


# --- check: a hand-read body's 400 -------------------------------------------------------------------------
def test_check_answers_novas_400_wording() -> None:
    assert types.check(types.Boolean, "forced_down", "yes") is True
    with pytest.raises(errors.BadRequest) as caught:
        types.check(types.Boolean, "forced_down", "maybe")
    assert caught.value.message.startswith(
        "Invalid input for field/attribute forced_down. Value: maybe. 'maybe' is not one of [True, 'True'"
    )


def test_unknown_keys_are_worded_as_json_schemas_additional_properties() -> None:
    error = {
        "type": "extra_forbidden",
        "loc": ("body", "flavor", "colour"),
        "msg": "Extra inputs are not permitted",
    }
    assert types.nova_message(error) == "Additional properties are not allowed ('colour' was unexpected)"
    assert types.nova_message(
        {"type": "value_error", "loc": ("x",), "msg": "Value error, 'a' is too long"}
    ) == ("'a' is too long")
