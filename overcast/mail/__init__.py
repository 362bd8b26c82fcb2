"""Mail: one way for the cloud to send e-mail (sign-up links, password resets, ticket replies, budget
alerts). A `Mailer` hands a `Mail` over to an SMTP relay (`SmtpRelay`) or, on a laptop with no mail server,
writes it to a folder (`MailFolder`, read by `overcast manage mail list|show`); `mailer_from` picks one
from the `OVERCAST_MAIL_*` settings."""

from overcast.mail.folder import MailFolder, StoredMail
from overcast.mail.message import Mail, Mailer, MailError
from overcast.mail.settings import MailSettings, mailer_from
from overcast.mail.smtp import SmtpRelay

__all__ = [
    "Mail", "MailError", "MailFolder", "MailSettings", "Mailer", "SmtpRelay", "StoredMail", "mailer_from",
]  # fmt: skip
