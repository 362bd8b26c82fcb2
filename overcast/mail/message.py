"""A mail to send, the `Mailer` interface, and the RFC 5322 message both mailers build from it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from overcast import errors


class MailError(errors.ServiceUnavailable):
    """The mail could not be handed over (relay down, refused, folder not writable)."""

    default_message = "The mail could not be sent."


def _one_line(name: str, value: str) -> None:
    # A line break in a header would let a caller's text start new headers (header injection).
    if "\n" in value or "\r" in value:
        raise ValueError(f"mail {name} must be one line")


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    body: str  # text/plain, UTF-8
    reply_to: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.to:
            raise ValueError("a mail needs at least one recipient")
        for address in self.to:
            _one_line("recipient", address)
        _one_line("subject", self.subject)
        if self.reply_to is not None:
            _one_line("reply-to", self.reply_to)
        for name, value in self.headers.items():
            _one_line(name, name)
            _one_line(name, value)

    def message(self, sender: str, now: datetime) -> EmailMessage:
        """The message as sent: From, To, Subject, Date and a fresh Message-ID on top of the mail's own."""
        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(self.to)
        message["Subject"] = self.subject
        message["Date"] = format_datetime(now)
        message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
        if self.reply_to:
            message["Reply-To"] = self.reply_to
        for name, value in self.headers.items():
            message[name] = value
        message.set_content(self.body, charset="utf-8")
        return message


class Mailer(ABC):
    @abstractmethod
    def send(self, mail: Mail) -> str:
        """Hand the mail over; returns its Message-ID. Raises MailError if it could not be handed over."""
