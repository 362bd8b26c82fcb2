"""What the billing API's OpenAPI document says that FastAPI cannot see in the routes: the request bodies
(the routes read them by hand), and the answers that are not one JSON object (exports, replays).
`overcast.api.openapi` turns these notes into the /billing/v1/openapi.json document."""

from __future__ import annotations

from typing import Any

from overcast.billing import rating
from overcast.metering.usage import METRICS

Schema = dict[str, Any]
V1 = "/billing/v1"
DECIMAL: Schema = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "description": "An exact decimal."}
TIME: Schema = {"type": "string", "description": "ISO 8601, e.g. 2026-03-01T00:00:00Z."}
METRIC: Schema = {"type": "string", "enum": list(METRICS)}
MATCH: Schema = {"type": ["string", "null"], "description": "A flavor, volume type or disk format."}


def _wrapped(key: str, properties: Schema, required: tuple[str, ...] = ()) -> Schema:
    inner: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        inner["required"] = list(required)
    return {"application/json": {"schema": {
        "type": "object", "required": [key], "properties": {key: inner}, "additionalProperties": False,
    }}}  # fmt: skip


PRICE_LIST: Schema = {
    "name": {"type": "string"},
    "currency": {"type": "string", "description": "ISO 4217, e.g. EUR."},
    "effective_from": TIME,
    "description": {"type": "string"},
    "rates": {"type": "array", "items": {
        "type": "object", "required": ["metric", "price"], "properties": {
            "metric": METRIC, "unit": {"type": "string", "enum": list(rating.UNITS)}, "price": DECIMAL,
            "match": MATCH,
        },
    }},
    "free_tiers": {"type": "array", "items": {
        "type": "object", "required": ["metric", "quantity"],
        "properties": {"metric": METRIC, "quantity": DECIMAL, "match": MATCH},
    }},
}  # fmt: skip
ACCOUNT: Schema = {
    "name": {"type": "string"},
    "currency": {"type": "string"},
    "price_list": {"type": "string", "description": "The name of a price list in the account's currency."},
    "mode": {"type": "string", "enum": ["prepaid", "postpaid"]},
    "credit_limit": {"oneOf": [DECIMAL, {"type": "null"}]},
    "discounts": {"type": "array", "items": {"type": "object", "required": ["kind", "value"], "properties": {
        "kind": {"type": "string", "enum": [rating.PERCENT, rating.CREDIT]}, "value": DECIMAL,
        "metric": {"oneOf": [METRIC, {"type": "null"}]}, "description": {"type": "string"},
    }}},
    "budget": {"oneOf": [DECIMAL, {"type": "null"}]},
    "alert_percentages": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 1000}},
    "email": {"type": ["string", "null"]},
}  # fmt: skip
# What a project's members may set of their account (PUT /billing/v1/budget).
BUDGET: Schema = {
    "amount": ACCOUNT["budget"], "alert_percentages": ACCOUNT["alert_percentages"], "email": ACCOUNT["email"],
}  # fmt: skip
PAYMENT: Schema = {
    "account_id": {"type": "string"}, "amount": DECIMAL, "currency": {"type": "string"},
    "reference": {"type": "string", "description": "Unique per payment: the same reference records once."},
}  # fmt: skip
_PAYMENT_ANSWER: Schema = {"application/json": {"schema": {"type": "object"}}}
_ACTION: Schema = {"application/json": {"schema": {
    "type": "object", "minProperties": 1, "maxProperties": 1, "properties": {
        "issue": {"type": "object"}, "void": {"type": "object"},
        "pay": {"type": "object", "properties": {"reference": {"type": "string"}}},
    }, "additionalProperties": False,
}}}  # fmt: skip

# (method, path) -> RouteNotes' keyword arguments.
ROUTE_NOTES: dict[tuple[str, str], Schema] = {
    ("post", f"{V1}/price-lists"): {
        "body": _wrapped("price_list", PRICE_LIST, ("name", "currency", "rates")),
    },
    ("post", f"{V1}/accounts"): {"body": _wrapped("account", ACCOUNT, ("name", "currency", "price_list"))},
    ("patch", f"{V1}/accounts/{{account_id}}"): {"body": _wrapped("account", ACCOUNT)},
    ("put", f"{V1}/budget"): {"body": _wrapped("budget", BUDGET)},
    ("put", f"{V1}/accounts/{{account_id}}/projects/{{project_id}}"): {
        "body": _wrapped("project", {"price_list": {"type": ["string", "null"]}}),
    },
    ("post", f"{V1}/invoices"): {
        "body": _wrapped(
            "invoices", {"period_start": TIME, "account_id": {"type": "string"}}, ("period_start",)
        ),
    },
    ("post", f"{V1}/invoices/{{invoice_id}}/action"): {"body": _ACTION},
    ("get", f"{V1}/invoices/{{invoice_id}}/export/{{document_format}}"): {
        "successes": {"200": {"description": "The invoice as HTML, PDF, CSV or JSON.", "content": {
            "text/html": {"schema": {"type": "string"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        }}},
    },
    ("post", f"{V1}/payments"): {
        "body": _wrapped("payment", PAYMENT, ("account_id", "amount", "currency", "reference")),
        "successes": {
            "201": {"description": "Recorded.", "content": _PAYMENT_ANSWER},
            "200": {"description": "Already recorded under this reference.", "content": _PAYMENT_ANSWER},
        },
    },
    ("post", f"{V1}/payments/webhook"): {
        "body": {"application/json": {"schema": {"type": "object", "properties": PAYMENT}}},
        "successes": {
            "201": {"description": "Recorded.", "content": _PAYMENT_ANSWER},
            "200": {"description": "Already recorded (a repeated notification).", "content": _PAYMENT_ANSWER},
        },
    },
    ("delete", f"{V1}/accounts/{{account_id}}"): {"successes": {"204": {"description": "Deleted."}}},
    ("delete", f"{V1}/accounts/{{account_id}}/projects/{{project_id}}"): {
        "successes": {"204": {"description": "The project is no longer billed to the account."}},
    },
}
