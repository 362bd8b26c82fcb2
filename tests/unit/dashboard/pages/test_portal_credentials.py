from __future__ import annotations

import base64
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import yaml

from overcast.dashboard.client import Login
from overcast.dashboard.pages.portal_credentials import application_credential_files, ec2_files

CATALOG = (
    {"type": "identity", "endpoints": [{"interface": "public", "region_id": "Lyon", "url": "https://c.example/identity"}]},
    {"type": "ec2", "endpoints": [{"interface": "public", "region_id": "Lyon", "url": "https://c.example/ec2"}]},
)  # fmt: skip
LOGIN = Login(
    "token", datetime(2030, 1, 1, tzinfo=UTC), "uid", "ada", "Default", "pid", "ada's", ("member",), CATALOG
)


def _decoded(href: str) -> str:
    return base64.b64decode(href.split(",", 1)[1]).decode()


def test_clouds_yaml_and_openrc_carry_the_credential_verbatim_whatever_its_characters(tmp_path: Path) -> None:
    credential = {"id": "app-1", "name": "ci robot's\ntouch pwned", "secret": "s3cr'et $(rm -rf /) `x`"}
    clouds, openrc = application_credential_files(LOGIN, credential)
    assert clouds.file_name == "clouds.yaml" and openrc.file_name == "credential-openrc.sh"
    cloud = yaml.safe_load(_decoded(clouds.href))["clouds"]["overcast"]
    assert cloud["auth"] == {
        "auth_url": "https://c.example/identity/v3",
        "application_credential_id": "app-1",
        "application_credential_secret": credential["secret"],
    }
    assert cloud["region_name"] == "Lyon" and cloud["auth_type"] == "v3applicationcredential"
    # A shell reads the secret back as it was: the quoting survived.
    script = tmp_path / "openrc.sh"
    script.write_text(_decoded(openrc.href))
    sourced = subprocess.run(
        ["sh", "-c", '. "$1" && printf %s "$OS_APPLICATION_CREDENTIAL_SECRET"', "sh", str(script)],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    assert sourced.stdout == credential["secret"]
    assert not (tmp_path / "pwned").exists()  # the name's line break stayed inside its comment


def test_the_ec2_file_names_the_endpoint_and_region_of_the_catalog() -> None:
    (environment,) = ec2_files(LOGIN, {"access": "AK", "secret": "SK"})
    text = _decoded(environment.href)
    assert "export AWS_ENDPOINT_URL_EC2='https://c.example/ec2'" in text
    assert "export AWS_DEFAULT_REGION='Lyon'" in text and "export AWS_SECRET_ACCESS_KEY='SK'" in text
