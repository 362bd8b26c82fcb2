"""Direct kernel boot: which images boot that way, their files in the instance folder, the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from overcast.virt.driver import DriverError, ImageRef
from overcast.virt.qemu import kernel_boot
from overcast.virt.qemu.kernel_boot import DEFAULT_COMMAND_LINE, KernelBoot


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    folder = tmp_path / "image-cache"
    folder.mkdir()
    (folder / "aki-1").write_bytes(b"kernel bytes")
    (folder / "ari-1").write_bytes(b"ramdisk bytes")
    return folder


@pytest.fixture
def instance_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "instance"
    folder.mkdir()
    return folder


def _machine_image(cache: Path, **properties: str) -> ImageRef:
    return ImageRef(
        id="ami-1", path=None, kernel_path=str(cache / "aki-1"), ramdisk_path=str(cache / "ari-1"),
        properties={"kernel_id": "aki-1", "ramdisk_id": "ari-1", **properties},
    )  # fmt: skip


def test_an_image_without_kernel_id_boots_from_its_disk(instance_folder: Path) -> None:
    image = ImageRef(id="whole-disk", properties={"os_command_line": "ignored"})
    assert not kernel_boot.wants_kernel_boot(image)
    assert kernel_boot.install(image, instance_folder) is None
    assert list(instance_folder.iterdir()) == []


def test_the_kernel_and_ramdisk_are_linked_into_the_folder_with_the_images_command_line(
    cache: Path, instance_folder: Path
) -> None:
    image = _machine_image(cache, os_command_line="  root=LABEL=overcast-root   console=ttyS0 ")
    boot = kernel_boot.install(image, instance_folder)
    assert boot == KernelBoot("kernel", "ramdisk", "root=LABEL=overcast-root console=ttyS0")
    assert (instance_folder / "kernel").read_bytes() == b"kernel bytes"
    assert (instance_folder / "ramdisk").read_bytes() == b"ramdisk bytes"
    # Linked, not copied: the cache may prune its file, the VM keeps the data.
    assert (instance_folder / "kernel").stat().st_ino == (cache / "aki-1").stat().st_ino
    (cache / "aki-1").unlink()
    assert (instance_folder / "kernel").read_bytes() == b"kernel bytes"
    assert KernelBoot.from_record(boot.to_record()) == boot
    assert KernelBoot.from_record(None) is None


def test_without_os_command_line_the_kernel_gets_novas_default(cache: Path, instance_folder: Path) -> None:
    boot = kernel_boot.install(_machine_image(cache), instance_folder)
    assert boot is not None and boot.command_line == DEFAULT_COMMAND_LINE == (
        "root=/dev/vda console=tty0 console=ttyS0"
    )


def test_a_kernel_without_ramdisk(cache: Path, instance_folder: Path) -> None:
    image = ImageRef(id="ami-2", kernel_path=str(cache / "aki-1"), properties={"kernel_id": "aki-1"})
    boot = kernel_boot.install(image, instance_folder)
    assert boot == KernelBoot("kernel", None, DEFAULT_COMMAND_LINE)
    assert sorted(path.name for path in instance_folder.iterdir()) == ["kernel"]


def test_rescue_files_sit_beside_the_vms_own(cache: Path, instance_folder: Path) -> None:
    own = kernel_boot.install(_machine_image(cache), instance_folder)
    rescue = kernel_boot.install(_machine_image(cache), instance_folder, rescue=True)
    assert own is not None and rescue is not None
    assert rescue.files() == ["kernel.rescue", "ramdisk.rescue"]
    kernel_boot.remove(rescue, instance_folder)
    assert sorted(path.name for path in instance_folder.iterdir()) == ["kernel", "ramdisk"]


@pytest.mark.parametrize("missing", ["kernel_path", "ramdisk_path"])
def test_an_image_whose_files_the_host_was_not_given_is_a_driver_error(
    cache: Path, instance_folder: Path, missing: str
) -> None:
    image = _machine_image(cache)
    setattr(image, missing, None)
    with pytest.raises(DriverError, match=missing.removesuffix("_path")):
        kernel_boot.install(image, instance_folder)


def test_a_command_line_longer_than_the_kernel_takes_is_refused(cache: Path, instance_folder: Path) -> None:
    with pytest.raises(DriverError, match="os_command_line"):
        kernel_boot.install(_machine_image(cache, os_command_line="x" * 2048), instance_folder)


def test_carry_takes_the_files_from_a_folder_set_aside(
    cache: Path, instance_folder: Path, tmp_path: Path
) -> None:
    boot = kernel_boot.install(_machine_image(cache), instance_folder)
    assert boot is not None
    moved = tmp_path / "moved"
    moved.mkdir()
    assert kernel_boot.carry(boot, instance_folder, moved) == boot
    assert (moved / "ramdisk").read_bytes() == b"ramdisk bytes"
    (instance_folder / "kernel").unlink()
    with pytest.raises(DriverError, match="kernel"):
        kernel_boot.carry(boot, instance_folder, tmp_path)
