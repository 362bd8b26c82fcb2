"""AWS's error codes and the HTTP status each answers with."""

from __future__ import annotations

from overcast import errors

# AWS's statuses for the codes that are not 400.
STATUS_OF_CODE = {
    "AuthFailure": 401,
    "SignatureDoesNotMatch": 403,
    "UnauthorizedOperation": 403,
    "OptInRequired": 403,
    "DryRunOperation": 412,
    "InternalError": 500,
    "ServiceUnavailable": 503,
    "Unavailable": 503,
}


class Ec2Error(Exception):
    """An error the EC2 API answers with AWS's code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return STATUS_OF_CODE.get(self.code, 400)


def missing_parameter(name: str) -> Ec2Error:
    return Ec2Error("MissingParameter", f"The request must contain the parameter {name}")


def invalid_value(name: str, value: object, reason: str) -> Ec2Error:
    return Ec2Error("InvalidParameterValue", f"Value ({value}) for parameter {name} is invalid. {reason}")


def dry_run_succeeded() -> Ec2Error:
    return Ec2Error("DryRunOperation", "Request would have succeeded, but DryRun flag is set.")


def unauthorized() -> Ec2Error:
    return Ec2Error("UnauthorizedOperation", "You are not authorized to perform this operation.")


def from_service_error(
    error: errors.OvercastError, *, not_found: str, quota: str, conflict: str = "IncorrectState"
) -> Ec2Error:
    """The EC2 answer to an error a service object raised: `not_found` and `quota` are the codes of
    the action's resource (InvalidInstanceID.NotFound, InstanceLimitExceeded, ...)."""
    message = error.message
    if isinstance(error, errors.QuotaExceeded):
        return Ec2Error(quota, message)
    if isinstance(error, errors.Forbidden | errors.Unauthorized):
        return Ec2Error("UnauthorizedOperation", message)
    if isinstance(error, errors.NotFound):
        return Ec2Error(not_found, message)
    if isinstance(error, errors.Conflict):
        return Ec2Error(conflict, message)
    if isinstance(error, errors.RequestTooLarge):
        return Ec2Error("ResourceLimitExceeded", message)
    if isinstance(error, errors.NoValidHost):
        return Ec2Error("InsufficientInstanceCapacity", message)
    if isinstance(error, errors.ServiceUnavailable | errors.MessagingTimeout):
        return Ec2Error("Unavailable", message)
    if error.status >= 500:
        return Ec2Error("InternalError", message)
    return Ec2Error("InvalidParameterValue", message)
