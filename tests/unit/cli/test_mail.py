"""`overcast manage mail list|show` on a data directory's mail folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from overcast.cli.main import main
from overcast.cloud import Cloud
from overcast.config import Settings
from overcast.mail import Mail, Mailer, MailError, mailer_from
from overcast.portal.outbox import Outbox


def test_list_and_show_read_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OVERCAST_MAIL_SMTP_HOST", raising=False)
    mailer = mailer_from(Settings(data_dir=tmp_path))
    mailer.send(Mail(to=("ada@example.com",), subject="Verify your address", body="https://x/verify?t=1\n"))
    mailer.send(Mail(to=("bob@example.com",), subject="Reset your password", body="https://x/reset?t=2\n"))
    assert main(["manage", "mail", "list", "--data-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[2:] for line in lines] == [
        ["ada@example.com", "Verify your address"], ["bob@example.com", "Reset your password"],
    ]  # fmt: skip
    assert main(["manage", "mail", "list", "--to", "BOB@example.com", "--data-dir", str(tmp_path)]) == 0
    assert "Reset your password" in capsys.readouterr().out
    first = lines[0].split("  ")[0]
    assert main(["manage", "mail", "show", first, "--data-dir", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "Subject: Verify your address\n" in shown and shown.endswith("\nhttps://x/verify?t=1\n")
    assert main(["manage", "mail", "show", "last", "--data-dir", str(tmp_path)]) == 0
    assert "https://x/reset?t=2" in capsys.readouterr().out
    assert main(["manage", "mail", "show", "../../etc/passwd", "--data-dir", str(tmp_path)]) == 1
    assert "No mail" in capsys.readouterr().err


def test_outbox_lists_the_mails_waiting_for_a_retry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class Refusing(Mailer):
        def send(self, mail: Mail) -> str:
            raise MailError("relay down")

    settings = Settings(data_dir=tmp_path, transport_url="inproc://mail-outbox-cli")
    cloud = Cloud.from_settings(settings)
    try:
        outbox = Outbox(cloud.db, Refusing(), cloud.clock)
        outbox.deliver(
            cloud.db.write(lambda s: outbox.add(s, Mail(to=("ada@example.com",), subject="Hi", body="x")))
        )
    finally:
        cloud.close()
    assert main(["manage", "mail", "outbox", "--data-dir", str(tmp_path)]) == 0
    (waiting,) = json.loads(capsys.readouterr().out)
    assert (waiting["to"], waiting["subject"], waiting["attempts"], waiting["last_error"]) == (
        ["ada@example.com"], "Hi", 1, "relay down",
    )  # fmt: skip
