"""Mail through an SMTP relay (optionally STARTTLS and a login)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from overcast.mail.message import Mail, Mailer, MailError


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SmtpRelay(Mailer):
    host: str
    port: int = 25
    sender: str = "overcast@localhost"
    starttls: bool = False
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0
    # For STARTTLS: None verifies the relay's certificate against the system's CAs.
    tls_context: ssl.SSLContext | None = None
    clock: Callable[[], datetime] = _now

    def send(self, mail: Mail) -> str:
        message = mail.message(self.sender, self.clock())
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as relay:
                if self.starttls:
                    relay.starttls(context=self.tls_context or ssl.create_default_context())
                if self.username:
                    relay.login(self.username, self.password)
                relay.send_message(message, from_addr=self.sender, to_addrs=list(mail.to))
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"The mail relay {self.host}:{self.port} did not take the mail: {exc}") from exc
        return str(message["Message-ID"])
