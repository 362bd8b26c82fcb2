"""Mail written to a folder, one RFC 5322 `.eml` file per message: the all-in-one's default, so sign-up
and the other mail flows work on a laptop; `overcast manage mail list|show` reads it."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

from overcast import errors
from overcast.mail.message import Mail, Mailer, MailError

# <UTC time, microseconds>-<random>: names sort in the order the mails were written.
_ID = re.compile(r"^\d{8}T\d{12}-[0-9a-f]{8}$")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StoredMail:
    id: str
    date: datetime
    to: tuple[str, ...]
    subject: str
    path: Path


class MailFolder(Mailer):
    def __init__(
        self, folder: Path, sender: str = "overcast@localhost", clock: Callable[[], datetime] = _now
    ) -> None:
        self.folder = folder
        self.sender = sender
        self.clock = clock

    def send(self, mail: Mail) -> str:
        now = self.clock()
        message = mail.message(self.sender, now)
        mail_id = f"{now.astimezone(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}"
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial = self.folder / f".{mail_id}.tmp"
            partial.write_bytes(message.as_bytes(policy=policy.SMTP))
            # A reader never sees half a message: the .eml name appears complete.
            os.replace(partial, self.folder / f"{mail_id}.eml")
        except OSError as exc:
            raise MailError(f"The mail could not be written to {self.folder}: {exc}") from exc
        return str(message["Message-ID"])

    def list(self) -> list[StoredMail]:
        """Every stored mail, newest last."""
        if not self.folder.is_dir():
            return []
        stored = []
        for path in sorted(self.folder.glob("*.eml")):
            message = self._parse(path)
            stored.append(
                StoredMail(
                    id=path.stem,
                    date=parsedate_to_datetime(str(message["Date"])),
                    to=tuple(address for _, address in getaddresses([str(message["To"])])),
                    subject=str(message["Subject"]),
                    path=path,
                )
            )
        return stored

    def read(self, mail_id: str) -> EmailMessage:
        if not _ID.match(mail_id) or not (self.folder / f"{mail_id}.eml").is_file():
            raise errors.NotFound(f"No mail {mail_id!r} in {self.folder}.")
        return self._parse(self.folder / f"{mail_id}.eml")

    @staticmethod
    def _parse(path: Path) -> EmailMessage:
        with path.open("rb") as stream:
            message = BytesParser(policy=policy.default).parse(stream)
        assert isinstance(message, EmailMessage)  # policy.default parses into EmailMessage
        return message
