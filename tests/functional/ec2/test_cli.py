"""A user's AWS CLI session against the cloud's EC2 endpoint: nothing but the endpoint URL and the
credentials (from the identity service) differ from a session against AWS (the `aws` fixture,
conftest.py)."""

from __future__ import annotations

from typing import Any

from overcast.metadata.ec2_ids import derived_id
from tests.support.cloud import IMAGE_ID


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
