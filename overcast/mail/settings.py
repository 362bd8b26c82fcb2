"""Mail settings, read from OVERCAST_MAIL_* variables, and the mailer they choose."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from overcast.config import Settings
from overcast.mail.folder import MailFolder
from overcast.mail.message import Mailer
from overcast.mail.smtp import SmtpRelay


class MailSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERCAST_MAIL_", extra="ignore")

    # The relay; empty: mail goes to `folder` instead.
    smtp_host: str = ""
    smtp_port: int = 25
    starttls: bool = False
    username: str = ""
    password: str = ""
    # The From address; empty: overcast@<the cloud's host name>.
    sender: str = ""
    # Empty: <data_dir>/mail.
    folder: Path | None = None
    timeout: float = 30.0


def mailer_from(settings: Settings, mail: MailSettings | None = None) -> Mailer:
    """SmtpRelay if OVERCAST_MAIL_SMTP_HOST is set, else MailFolder(<data_dir>/mail)."""
    mail = mail or MailSettings()
    sender = mail.sender or f"overcast@{settings.host}"
    if mail.smtp_host:
        return SmtpRelay(
            host=mail.smtp_host,
            port=mail.smtp_port,
            sender=sender,
            starttls=mail.starttls,
            username=mail.username,
            password=mail.password,
            timeout=mail.timeout,
        )
    return MailFolder(mail.folder or settings.data_dir / "mail", sender)
