"""What the portal API's OpenAPI document says that FastAPI cannot see in the routes: the request bodies
(the routes read them by hand) and the bare answers. `overcast.api.openapi` turns these notes (and the
tickets' own, tickets_document.py) into /portal/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from overcast.api.portal import tickets_document
from overcast.portal.plans import MODES, QUOTAS

Schema = dict[str, Any]
V1 = "/portal/v1"
DECIMAL: Schema = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "description": "An exact decimal."}
TEXT: Schema = {"type": "string", "minLength": 1, "maxLength": 255}
EMAIL: Schema = {"type": "string", "format": "email", "maxLength": 254}


def _json(properties: Schema, required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return {"application/json": {"schema": schema}}


def _wrapped(key: str, properties: Schema, required: tuple[str, ...] = ()) -> Schema:
    inner = _json(properties, required)["application/json"]["schema"]
    return {"application/json": {"schema": {
        "type": "object", "required": [key], "properties": {key: inner}, "additionalProperties": False,
    }}}  # fmt: skip


PLAN: Schema = {
    "name": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
    "description": {"type": "string", "maxLength": 1000},
    "quotas": {"type": "object", "properties": {name: {"type": "integer", "minimum": -1} for name in QUOTAS},
               "additionalProperties": False},
    "price_list": {"type": "string", "description": "The name of a billing price list."},
    "currency": {"type": "string", "description": "The price list's (ISO 4217)."},
    "mode": {"type": "string", "enum": list(MODES)},
    "credit_limit": {"oneOf": [DECIMAL, {"type": "null"}]},
    "trial_credit": {"oneOf": [DECIMAL, {"type": "null"}]},
    "default": {"type": "boolean"},
}  # fmt: skip
_ACCEPTED: Schema = {
    "202": {"description": "Accepted.", "content": {"application/json": {"schema": {"type": "object"}}}}
}

# (method, path) -> RouteNotes' keyword arguments.
ROUTE_NOTES: dict[tuple[str, str], Schema] = {
    ("post", f"{V1}/signups"): {
        "body": _json(
            {
                "name": TEXT,
                "email": EMAIL,
                "password": {"type": "string", "minLength": 1, "maxLength": 4096},
                "plan": {"type": "string"},
                "invitation_code": {"type": "string", "maxLength": 64},
            },
            ("name", "email", "password"),
        ),
        "errors": (403, 429),
    },
    ("post", f"{V1}/signups/resend"): {"body": _json({"email": EMAIL}, ("email",)), "errors": (429,)},
    ("post", f"{V1}/signups/verify"): {"body": _json({"token": {"type": "string"}}, ("token",))},
    ("post", f"{V1}/password-resets"): {
        "body": _json({"email": EMAIL}, ("email",)),
        "successes": _ACCEPTED,
        "errors": (429,),
    },
    ("post", f"{V1}/password-resets/confirm"): {
        "body": _json(
            {"token": {"type": "string"}, "password": {"type": "string", "minLength": 1}},
            ("token", "password"),
        ),
        "successes": {"204": {"description": "The password is changed."}},
    },
    ("post", f"{V1}/invitations/accept"): {
        "body": _json(
            {"token": {"type": "string"}, "name": {"type": "string"}, "password": {"type": "string"}},
            ("token",),
        ),
    },
    ("patch", f"{V1}/account/profile"): {"body": _json({"name": TEXT, "email": EMAIL}), "errors": (409, 429)},
    ("post", f"{V1}/account/email/confirm"): {
        "body": _json({"token": {"type": "string"}}, ("token",)),
        "errors": (409,),
    },
    ("post", f"{V1}/projects/{{project_id}}/invitations"): {
        "body": _json({"email": EMAIL, "role": {"type": "string", "enum": ["member", "reader"]}}, ("email",)),
        "successes": _ACCEPTED,
    },
    ("post", f"{V1}/plans"): {"body": _wrapped("plan", PLAN, ("name", "price_list"))},
    ("patch", f"{V1}/plans/{{name}}"): {"body": _wrapped("plan", PLAN)},
    ("delete", f"{V1}/plans/{{name}}"): {"successes": {"204": {"description": "Deleted."}}},
    ("put", f"{V1}/settings"): {
        "body": _wrapped("signup", {"enabled": {"type": "boolean"}, "invitation_only": {"type": "boolean"}}),
    },
    ("post", f"{V1}/invitation-codes"): {
        "body": _json(
            {"count": {"type": "integer", "minimum": 1, "maximum": 1000}, "plan": {"type": "string"}},
            ("count",),
        ),
    },
    ("post", f"{V1}/accounts/{{account_id}}/action"): {
        "body": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "minProperties": 1,
                    "maxProperties": 1,
                    "additionalProperties": False,
                    "properties": {
                        "suspend": {
                            "type": "object",
                            "properties": {"reason": {"type": "string", "maxLength": 1000}},
                            "additionalProperties": False,
                        },
                        "resume": {"type": "null"},
                    },
                }
            }
        },
    },
    **tickets_document.ROUTE_NOTES,
}
