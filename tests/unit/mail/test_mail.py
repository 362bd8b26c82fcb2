"""Mail: SmtpRelay against a real aiosmtpd relay on loopback (plain, STARTTLS with a login, refused),
MailFolder's files, and mailer_from's choice."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Iterator
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from overcast import errors
from overcast.config import Settings
from overcast.mail import Mail, MailError, MailFolder, MailSettings, SmtpRelay, mailer_from
from tests.support.ports import free_port
from tests.support.smtp import Inbox, smtp_inbox

T0 = dt.datetime(2031, 5, 10, 12, 0, tzinfo=dt.UTC)


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "relay.pem", folder / "relay.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def relay() -> Iterator[tuple[Inbox, int]]:
    with smtp_inbox() as relay:
        yield relay


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    good = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alerts", b"s3cret")
    return AuthResult(success=good)


@pytest.fixture(scope="module")
def tls_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Inbox, int, ssl.SSLContext]]:
    cert_path, key_path = _certificate(tmp_path_factory.mktemp("relay-tls"))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)
    client_context = ssl.create_default_context(cafile=str(cert_path))
    with smtp_inbox(
        server_hostname="localhost", tls_context=server_context, require_starttls=True,
        authenticator=_authenticate, auth_required=True,
    ) as (inbox, port):  # fmt: skip
        yield inbox, port, client_context


def test_a_relay_receives_the_mail_with_its_headers(relay: tuple[Inbox, int]) -> None:
    inbox, port = relay
    mailer = SmtpRelay("127.0.0.1", port, sender="overcast@cloud.example", clock=lambda: T0)
    message_id = mailer.send(
        Mail(
            to=("ada@example.com", "bob@example.com"),
            subject="Welcome to Överc☁st",
            body="Your link: https://cloud.example/x\nß\n",
            reply_to="support@cloud.example",
            headers={"X-Overcast-Ticket": "t-1"},
        )
    )
    recipients, message = inbox.recipients[-1], inbox.messages[-1]
    assert recipients == ["ada@example.com", "bob@example.com"]
    assert message["Message-ID"] == message_id and message_id.endswith("@cloud.example>")
    assert message["From"] == "overcast@cloud.example"
    assert message["Reply-To"] == "support@cloud.example"
    assert message["X-Overcast-Ticket"] == "t-1"
    assert message["Date"] == "Sat, 10 May 2031 12:00:00 +0000"
    assert str(make_header(decode_header(message["Subject"]))) == "Welcome to Överc☁st"
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert payload.decode("utf-8").replace("\r\n", "\n") == "Your link: https://cloud.example/x\nß\n"


def test_starttls_and_login(tls_relay: tuple[Inbox, int, ssl.SSLContext]) -> None:
    inbox, port, context = tls_relay
    mailer = SmtpRelay(
        "localhost", port, sender="alerts@cloud.example", starttls=True,
        username="alerts", password="s3cret", tls_context=context,
    )  # fmt: skip
    mailer.send(Mail(to=("ada@example.com",), subject="over TLS", body="hello\n"))
    assert inbox.messages[-1]["Subject"] == "over TLS"
    with pytest.raises(MailError, match="STARTTLS"):  # the relay requires it before anything else
        SmtpRelay("localhost", port).send(Mail(to=("ada@example.com",), subject="plain", body="x\n"))
    assert [message["Subject"] for message in inbox.messages] == ["over TLS"]


def test_a_relay_that_is_not_there_is_a_mail_error() -> None:
    with pytest.raises(MailError, match="did not take the mail") as raised:
        SmtpRelay("127.0.0.1", free_port(), timeout=5).send(Mail(to=("a@b.example",), subject="s", body="b"))
    assert raised.value.status == 503


def test_line_breaks_in_headers_are_refused() -> None:
    with pytest.raises(ValueError, match="one line"):
        Mail(to=("a@b.example",), subject="hi\nBcc: victim@example.com", body="x")
    with pytest.raises(ValueError, match="one line"):
        Mail(to=("a@b.example\r\nBcc: victim@example.com",), subject="hi", body="x")
    with pytest.raises(ValueError, match="one line"):
        Mail(to=("a@b.example",), subject="hi", body="x", headers={"X-Ref": "1\nBcc: v@example.com"})
    with pytest.raises(ValueError, match="recipient"):
        Mail(to=(), subject="hi", body="x")


def test_the_folder_stores_one_eml_per_mail_newest_last(tmp_path: Path) -> None:
    times = iter([T0, T0 + dt.timedelta(seconds=1), T0 + dt.timedelta(seconds=2)])
    folder = MailFolder(tmp_path / "mail", "overcast@cloud.example", clock=lambda: next(times))
    first = folder.send(Mail(to=("ada@example.com",), subject="first", body="one\n"))
    folder.send(Mail(to=("bob@example.com", "eve@example.com"), subject="second", body="two\n"))
    folder.send(Mail(to=("ada@example.com",), subject="third", body="three\n"))
    stored = folder.list()
    assert [(mail.subject, mail.to) for mail in stored] == [
        ("first", ("ada@example.com",)),
        ("second", ("bob@example.com", "eve@example.com")),
        ("third", ("ada@example.com",)),
    ]
    assert stored[0].date == T0 and stored[0].path == tmp_path / "mail" / f"{stored[0].id}.eml"
    assert sorted(path.name for path in (tmp_path / "mail").iterdir()) == [f"{m.id}.eml" for m in stored]
    assert (tmp_path / "mail").stat().st_mode & 0o777 == 0o700
    message = folder.read(stored[0].id)
    assert message["Message-ID"] == first
    assert message.get_content() == "one\n"


def test_the_folder_refuses_ids_outside_it(tmp_path: Path) -> None:
    folder = MailFolder(tmp_path / "mail")
    assert folder.list() == []
    (tmp_path / "secret.eml").write_text("Subject: no\n\nno\n")
    for bad in ("../secret", "20310510T120000000000-0000000", "20310510T120000000000-00000000"):
        with pytest.raises(errors.NotFound):
            folder.read(bad)


def test_an_unwritable_folder_is_a_mail_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(MailError, match="could not be written"):
        MailFolder(tmp_path / "file" / "mail").send(Mail(to=("a@b.example",), subject="s", body="b"))


def test_mailer_from_picks_the_relay_when_a_host_is_set(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, host="cloud1")
    folder = mailer_from(settings, MailSettings())
    assert isinstance(folder, MailFolder)
    assert (folder.folder, folder.sender) == (tmp_path / "mail", "overcast@cloud1")
    elsewhere = mailer_from(settings, MailSettings(folder=tmp_path / "elsewhere", sender="a@b.example"))
    assert isinstance(elsewhere, MailFolder) and elsewhere.folder == tmp_path / "elsewhere"
    relay = mailer_from(
        settings, MailSettings(smtp_host="mail.example", smtp_port=587, starttls=True, username="u")
    )
    assert isinstance(relay, SmtpRelay)
    assert (relay.host, relay.port, relay.starttls, relay.username, relay.sender) == (
        "mail.example", 587, True, "u", "overcast@cloud1",
    )  # fmt: skip


def test_mail_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERCAST_MAIL_SMTP_HOST", "relay.example")
    monkeypatch.setenv("OVERCAST_MAIL_STARTTLS", "true")
    settings = MailSettings()
    assert (settings.smtp_host, settings.starttls, settings.smtp_port) == ("relay.example", True, 25)
