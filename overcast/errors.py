"""Typed errors. Each maps to one HTTP status and one OpenStack error name.

The API renders them as ``{"itemNotFound": {"code": 404, "message": "..."}}``; RPC carries the class name
so the caller re-raises the same type.
"""

from __future__ import annotations

from typing import Any, ClassVar


class OvercastError(Exception):
    status: ClassVar[int] = 500
    title: ClassVar[str] = "computeFault"
    default_message: ClassVar[str] = "An unexpected error occurred."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def to_body(self) -> dict[str, Any]:
        return {self.title: {"code": self.status, "message": self.message}}


class BadRequest(OvercastError):
    status = 400
    title = "badRequest"
    default_message = "Bad request."


class Unauthorized(OvercastError):
    status = 401
    title = "unauthorized"
    default_message = "The request you have made requires authentication."


class Forbidden(OvercastError):
    status = 403
    title = "forbidden"
    default_message = "Policy doesn't allow this operation to be performed."


class QuotaExceeded(Forbidden):
    default_message = "Quota exceeded."


class NotFound(OvercastError):
    status = 404
    title = "itemNotFound"
    default_message = "The resource could not be found."


class MethodNotAllowed(OvercastError):
    status = 405
    title = "methodNotAllowed"
    default_message = "The method is not allowed for this resource."


class NotAcceptable(OvercastError):
    status = 406
    title = "notAcceptable"
    default_message = "The requested version is not supported."


class PaymentRequired(OvercastError):
    """The billing account paying for the project is past its credit limit (new resources are refused)."""

    status = 402
    title = "paymentRequired"
    default_message = "The billing account is past its credit limit."


class Conflict(OvercastError):
    status = 409
    title = "conflict"
    default_message = "There was a conflict with the current state of the resource."


class RequestTooLarge(OvercastError):
    status = 413
    title = "overLimit"
    default_message = "Request is too large."


class NoValidHost(OvercastError):
    status = 500
    title = "computeFault"
    default_message = "No valid host was found."


class ServiceUnavailable(OvercastError):
    status = 503
    title = "serviceUnavailable"
    default_message = "The service is unavailable."


class MessagingTimeout(OvercastError):
    """An RPC call got no reply in time (the target host is down or overloaded)."""

    status = 504
    title = "computeFault"
    default_message = "Timed out waiting for a reply."


class UnsupportedVersion(OvercastError):
    """A manager was asked for an RPC API version it does not serve."""

    default_message = "Unsupported RPC API version."


class RemoteError(OvercastError):
    """A remote call failed with an exception that is not an OvercastError."""

    def __init__(self, exc_type: str = "Exception", message: str | None = None, **details: Any) -> None:
        self.exc_type = exc_type
        super().__init__(f"Remote error: {exc_type} {message or ''}".strip(), **details)


def _all_subclasses(cls: type[OvercastError]) -> list[type[OvercastError]]:
    found: list[type[OvercastError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


def error_class(name: str) -> type[OvercastError] | None:
    """Find an OvercastError subclass by name (for re-raising a remote error on the caller's side)."""
    if name == OvercastError.__name__:
        return OvercastError
    for cls in _all_subclasses(OvercastError):
        if cls.__name__ == name:
            return cls
    return None


def serialize_error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, OvercastError):
        return {"type": type(exc).__name__, "message": exc.message, "details": exc.details}
    return {"type": type(exc).__name__, "message": str(exc), "details": {}}


def deserialize_error(data: dict[str, Any]) -> OvercastError:
    cls = error_class(data.get("type", ""))
    message = data.get("message")
    details = data.get("details") or {}
    if cls is None or cls is RemoteError:
        return RemoteError(data.get("type", "Exception"), message)
    try:
        return cls(message, **details)
    except TypeError:
        return cls(message)
