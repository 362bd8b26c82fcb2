"""A user's AWS CLI session against the cloud's EC2 endpoint: nothing but the endpoint URL and the
credentials (from the identity service) differ from a session against AWS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from overcast.metadata.ec2_ids import derived_id
from tests.support.cloud import IMAGE_ID, InProcessCloud
from tests.support.ec2 import REGION, ec2_credentials

AWS = Path(sys.executable).with_name("aws")


@pytest.fixture(scope="module")
def aws(cloud: InProcessCloud, tmp_path_factory: pytest.TempPathFactory) -> Any:
    access, secret = ec2_credentials(cloud, "demo")
    home = tmp_path_factory.mktemp("aws-home")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=access, AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION=REGION, HOME=str(home),
        AWS_CONFIG_FILE=str(home / "config"), AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"),
        AWS_MAX_ATTEMPTS="1",
    )  # fmt: skip

    def run(*args: str, check: bool = True) -> Any:
        result = subprocess.run(
            [str(AWS), "--endpoint-url", f"{cloud.base_url}/ec2", "--output", "json", "ec2", *args],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if not check:
            return result
        assert result.returncode == 0, f"aws ec2 {' '.join(args)} failed:\n{result.stderr}"
        return json.loads(result.stdout) if result.stdout.strip() else None

    return run


def test_run_describe_with_query_wait_and_terminate(aws: Any) -> None:
    ami = derived_id("ami", IMAGE_ID)
    launched = aws("run-instances", "--image-id", ami, "--count", "2", "--instance-type", "m1.tiny",
                   "--tag-specifications", "ResourceType=instance,Tags=[{Key=Name,Value=cli}]")  # fmt: skip
    ids = sorted(instance["InstanceId"] for instance in launched["Instances"])
    aws("wait", "instance-running", "--instance-ids", *ids)
    names = aws("describe-instances", "--filters", "Name=tag:Name,Values=cli",
                "--query", "Reservations[].Instances[].[InstanceId,State.Name,InstanceType]")  # fmt: skip
    assert sorted(names) == [[ids[0], "running", "m1.tiny"], [ids[1], "running", "m1.tiny"]]
    terminated = aws("terminate-instances", "--instance-ids", *ids,
                     "--query", "TerminatingInstances[].CurrentState.Name")  # fmt: skip
    assert terminated == ["shutting-down", "shutting-down"]
    aws("wait", "instance-terminated", "--instance-ids", *ids)
    missing = aws("describe-instances", "--instance-ids", "i-00000000000000000", check=False)
    assert missing.returncode != 0 and "InvalidInstanceID.NotFound" in missing.stderr
