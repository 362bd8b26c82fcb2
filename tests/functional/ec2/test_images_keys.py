"""The EC2 API's image and key pair actions driven by boto3 against the in-process cloud."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from openstack.connection import Connection

from overcast.metadata.ec2_ids import derived_id
from tests.functional.ec2.support import AMI, FAST, error_code


def test_created_key_pairs_carry_aws_fingerprints(ec2: Any) -> None:
    made = ec2.create_key_pair(
        KeyName="made-rsa",
        TagSpecifications=[{"ResourceType": "key-pair", "Tags": [{"Key": "a", "Value": "b"}]}],
    )
    private = serialization.load_pem_private_key(made["KeyMaterial"].encode(), password=None)
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
    digest = hashlib.sha1(der, usedforsecurity=False).hexdigest()
    assert made["KeyFingerprint"] == ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
    assert made["KeyPairId"].startswith("key-") and made["Tags"] == [{"Key": "a", "Value": "b"}]
    with pytest.raises(ClientError) as error:
        ec2.create_key_pair(KeyName="made-rsa")
    assert error_code(error)[0] == "InvalidKeyPair.Duplicate"
    edwards = ec2.create_key_pair(KeyName="made-ed", KeyType="ed25519")
    assert edwards["KeyMaterial"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")

    listed = {key["KeyName"]: key for key in ec2.describe_key_pairs(IncludePublicKey=True)["KeyPairs"]}
    assert listed["made-rsa"]["KeyFingerprint"] == made["KeyFingerprint"]
    assert listed["made-rsa"]["KeyType"] == "rsa" and listed["made-ed"]["KeyType"] == "ed25519"
    assert listed["made-rsa"]["PublicKey"].startswith("ssh-rsa ")
    by_tag = ec2.describe_key_pairs(Filters=[{"Name": "tag:a", "Values": ["b"]}])["KeyPairs"]
    assert [key["KeyName"] for key in by_tag] == ["made-rsa"]
    with pytest.raises(ClientError) as error:
        ec2.describe_key_pairs(KeyNames=["absent"])
    assert error_code(error)[0] == "InvalidKeyPair.NotFound"
    assert ec2.delete_key_pair(KeyPairId=made["KeyPairId"])["Return"] is True
    assert ec2.delete_key_pair(KeyName="made-ed")["Return"] is True
    assert ec2.delete_key_pair(KeyName="never-made")["Return"] is True
    assert ec2.describe_key_pairs()["KeyPairs"] == []


def test_imported_key_pairs_fingerprint_their_public_key(ec2: Any) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    line = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    imported = ec2.import_key_pair(KeyName="imported", PublicKeyMaterial=line + b" me@host")
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)  # fmt: skip
    digest = hashlib.md5(der, usedforsecurity=False).hexdigest()
    assert imported["KeyFingerprint"] == ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
    edwards = ed25519.Ed25519PrivateKey.generate().public_key()
    blob = edwards.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    ed = ec2.import_key_pair(KeyName="imported-ed", PublicKeyMaterial=blob)
    raw = base64.b64decode(blob.split()[1])
    assert ed["KeyFingerprint"] == base64.b64encode(hashlib.sha256(raw).digest()).decode()
    with pytest.raises(ClientError) as error:
        ec2.import_key_pair(KeyName="broken", PublicKeyMaterial=b"ssh-rsa not-a-key")
    assert error_code(error)[0] == "InvalidKey.Format"
    instance = ec2.run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="m1.tiny", KeyName="imported"
    )
    assert instance["Instances"][0]["KeyName"] == "imported"
    ec2.terminate_instances(InstanceIds=[instance["Instances"][0]["InstanceId"]])
    ec2.delete_key_pair(KeyName="imported")
    ec2.delete_key_pair(KeyName="imported-ed")


def test_images_described_created_shared_copied_and_deregistered(
    ec2: Any, admin_ec2: Any, admin: Connection
) -> None:
    public = ec2.describe_images(ImageIds=[AMI])["Images"][0]
    assert (public["State"], public["ImageType"], public["Public"]) == ("available", "machine", True)
    assert [i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"]] == [AMI]
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    with pytest.raises(ClientError) as error:
        ec2.describe_images(ImageIds=["ami-00000000000000000"])
    assert error_code(error)[0] == "InvalidAMIID.NotFound"
    with pytest.raises(ClientError) as error:
        ec2.describe_images(ImageIds=["i-00000000000000000"])
    assert error_code(error)[0] == "InvalidAMIID.Malformed"

    launched = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="m1.tiny")
    instance_id = launched["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)
    made = ec2.create_image(
        InstanceId=instance_id,
        Name="web-snapshot",
        Description="from web",
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "k", "Value": "v"}]}],
    )
    image_id = made["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[image_id], WaiterConfig=FAST)
    mine = ec2.describe_images(Owners=["self"])["Images"]
    assert [(i["ImageId"], i["Name"], i["Description"], i["Tags"]) for i in mine] == [
        (image_id, "web-snapshot", "from web", [{"Key": "k", "Value": "v"}])
    ]
    with pytest.raises(ClientError) as error:
        ec2.create_image(InstanceId=instance_id, Name="web-snapshot")
    assert error_code(error)[0] == "InvalidAMIName.Duplicate"

    ec2.modify_image_attribute(ImageId=image_id, Description={"Value": "renamed"})
    assert ec2.describe_image_attribute(ImageId=image_id, Attribute="description")["Description"] == {
        "Value": "renamed"
    }
    # An account id is a project id.
    admin_owner = admin.current_project_id
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"UserId": admin_owner}]})
    permissions = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    assert permissions["LaunchPermissions"] == [{"UserId": admin_owner}]
    assert [
        i["ImageId"]
        for i in admin_ec2.describe_images(ExecutableUsers=["self"], ImageIds=[image_id])["Images"]
    ]
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Remove": [{"UserId": admin_owner}]})
    assert (
        ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")["LaunchPermissions"]
        == []
    )

    token = "copy-" + "t" * 100  # CopyImage's tokens run to 128 characters
    asked = {"SourceImageId": image_id, "SourceRegion": "RegionOne", "Name": "copy", "CopyImageTags": True}
    copied = ec2.copy_image(**asked, ClientToken=token)
    copy = ec2.describe_images(ImageIds=[copied["ImageId"]])["Images"][0]
    assert (copy["Name"], copy["State"], copy["Tags"]) == ("copy", "available", [{"Key": "k", "Value": "v"}])
    # A retry with the token is the same copy; the token with another name is refused.
    retried = ec2.copy_image(**asked, ClientToken=token)
    assert retried["ImageId"] == copied["ImageId"]
    assert len(ec2.describe_images(Filters=[{"Name": "name", "Values": ["copy"]}])["Images"]) == 1
    with pytest.raises(ClientError) as error:
        ec2.copy_image(SourceImageId=image_id, SourceRegion="RegionOne", Name="other", ClientToken=token)
    assert error_code(error)[0] == "IdempotentParameterMismatch"
    with pytest.raises(ClientError) as error:
        ec2.copy_image(SourceImageId=image_id, SourceRegion="us-east-1", Name="far")
    assert error_code(error)[0] == "InvalidParameterValue"

    for ec2_id in (image_id, copied["ImageId"]):
        assert ec2.deregister_image(ImageId=ec2_id)["Return"] is True
    with pytest.raises(ClientError) as error:
        ec2.deregister_image(ImageId=image_id)
    assert error_code(error)[0] == "InvalidAMIID.NotFound"
    ec2.terminate_instances(InstanceIds=[instance_id])


def test_register_image_points_an_ami_at_its_kernel_and_ramdisk(ec2: Any, demo: Connection) -> None:
    made = {
        kind: demo.image.create_image(name=f"tiny-{kind}", data=f"{kind} bytes".encode(), disk_format=kind,
                                      container_format=kind if kind != "raw" else "bare", wait=True)
        for kind in ("raw", "aki", "ari")
    }  # fmt: skip
    root, kernel, ramdisk = (derived_id(prefix, made[kind].id) for prefix, kind in
                             (("ami", "raw"), ("aki", "aki"), ("ari", "ari")))  # fmt: skip
    kinds = ec2.describe_images(ImageIds=[kernel, ramdisk])["Images"]
    assert sorted(image["ImageType"] for image in kinds) == ["kernel", "ramdisk"]
    with pytest.raises(ClientError) as error:  # neither an image's data nor a snapshot to boot from
        ec2.register_image(Name="no-location")
    assert error_code(error)[0] == "MissingParameter"
    with pytest.raises(ClientError) as error:
        ec2.register_image(Name="bad-kernel", ImageLocation=root, KernelId=root)
    assert error_code(error)[0] == "InvalidAMIID.Malformed"
    with pytest.raises(ClientError) as error:
        ec2.register_image(Name="no-data", ImageLocation=AMI)
    assert error_code(error)[0] == "InvalidManifest"
    registered = ec2.register_image(
        Name="direct-boot", ImageLocation=root, KernelId=kernel, RamdiskId=ramdisk, Architecture="x86_64"
    )
    image = ec2.describe_images(ImageIds=[registered["ImageId"]])["Images"][0]
    assert (image["Name"], image["State"], image["KernelId"], image["RamdiskId"]) == (
        "direct-boot",
        "available",
        kernel,
        ramdisk,
    )
    by_location = ec2.register_image(Name="by-location", ImageLocation=f"{made['raw'].owner}/tiny-raw")
    assert ec2.describe_images(ImageIds=[by_location["ImageId"]])["Images"][0]["State"] == "available"
    for image_id in (registered["ImageId"], by_location["ImageId"]):
        ec2.deregister_image(ImageId=image_id)
