"""Keystone's [security_compliance] password rules: a new password must match `password_regex`; the
refusal names `password_regex_description` (Keystone's PasswordRequirementsValidationError, a 400)."""

from __future__ import annotations

import re

from overcast.errors import BadRequest
from overcast.identity.settings import IdentitySettings


class PasswordRequirementsError(BadRequest):
    default_message = "Password validation error: the password does not meet the requirements."


def check_password(config: IdentitySettings, password: str) -> None:
    """Raise PasswordRequirementsError unless `password` matches the configured rule (none: any does)."""
    if not config.password_regex or re.fullmatch(config.password_regex, password):
        return
    detail = config.password_regex_description or "it does not match the password rule"
    raise PasswordRequirementsError(
        f"Password validation error: The password does not meet the requirements: {detail.rstrip('.')}."
    )
