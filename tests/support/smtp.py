"""A real SMTP relay on loopback (aiosmtpd) that keeps what it accepts, for tests of the cloud's mail."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.ports import free_port


class Inbox:
    """aiosmtpd's handler: every message the relay accepts, and the envelope recipients of each."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls it by name
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.recipients.append(list(envelope.rcpt_tos))
        self.messages.append(message)
        return "250 Message accepted"


@contextlib.contextmanager
def smtp_inbox(port: int | None = None, **controller: Any) -> Iterator[tuple[Inbox, int]]:
    """A relay listening on 127.0.0.1 (a free port unless given) for the block: its inbox and its port."""
    inbox, port = Inbox(), port or free_port()
    relay = Controller(inbox, hostname="127.0.0.1", port=port, **controller)
    relay.start()
    try:
        yield inbox, port
    finally:
        relay.stop()
