"""What the portal's OpenAPI document says of the ticket routes that FastAPI cannot see in them: the
request bodies (read by hand), the attachment's raw body and the download's bytes. The portal's
document (overcast.api.portal.document) adds these notes to its own."""

from __future__ import annotations

from typing import Any

from overcast.portal.tickets import CATEGORIES, REFERENCE_TYPES
from overcast.portal.tickets_states import STATUSES

Schema = dict[str, Any]
V1 = "/portal/v1"
TICKET = f"{V1}/tickets/{{ticket_id}}"
ATTACHMENTS = f"{TICKET}/messages/{{message_id}}/attachments"
TEXT: Schema = {"type": "string", "minLength": 1}


def _json(properties: Schema, required: tuple[str, ...] = (), min_properties: int = 0) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    if min_properties:
        schema["minProperties"] = min_properties
    return {"application/json": {"schema": schema}}


NEW_TICKET: Schema = {
    "subject": {"type": "string", "minLength": 1, "maxLength": 255},
    "category": {"type": "string", "enum": list(CATEGORIES)},
    "body": TEXT,
    "reference": {
        "type": "object",
        "required": ["type", "id"],
        "additionalProperties": False,
        "properties": {"type": {"type": "string", "enum": list(REFERENCE_TYPES)}, "id": {"type": "string"}},
    },
}
CHANGE: Schema = {
    "status": {"type": "string", "enum": list(STATUSES)},
    "assignee": {"type": ["string", "null"], "description": "A support user's id; null unassigns."},
}

# (method, path) -> RouteNotes' keyword arguments.
ROUTE_NOTES: dict[tuple[str, str], Schema] = {
    ("post", f"{V1}/tickets"): {"body": _json(NEW_TICKET, ("subject", "category", "body"))},
    ("patch", TICKET): {"body": _json(CHANGE, min_properties=1), "errors": (409,)},
    ("post", f"{TICKET}/messages"): {
        "body": _json({"body": TEXT, "internal": {"type": "boolean"}}, ("body",)),
    },
    ("post", ATTACHMENTS): {
        "body": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        "errors": (409, 413),
    },
    ("get", f"{ATTACHMENTS}/{{attachment_id}}"): {
        "successes": {
            "200": {
                "description": "The file, always as a download.",
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    },
}
