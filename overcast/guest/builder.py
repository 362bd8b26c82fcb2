"""Build the tiny bootable guest image from this host's Debian packages (no other downloads).

Disk layout (a plain BIOS/MBR disk, bootable on its own by any PC-like hypervisor):
  sector 0       syslinux mbr.bin + partition table
  partition 1    FAT16, bootable: syslinux, vmlinuz (Debian cloud kernel), initrd.img (busybox + modules)
  partition 2    ext4 root (label overcast-root): busybox, dropbear and its libraries, the boot scripts
Everything is written without root privileges or mounts: cpio and MBR in Python, `mke2fs -d`,
`mkfs.vfat` + `syslinux --install` + `mcopy` on image files, `qemu-img convert` to qcow2.

Beside the whole disk the same build leaves its parts for a direct kernel boot (EC2's AKI + ARI + AMI):
the kernel, the initramfs and the root filesystem alone (qcow2), which boot with no firmware boot loader.
That kernel is the uncompressed ELF inside Debian's bzImage: QEMU enters it through its Xen PVH note, so
the guest decompresses nothing (under TCG the decompressor alone costs ~0.45 s of CPU).
"""

from __future__ import annotations

import logging
import lzma
import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from overcast.guest import scripts
from overcast.guest.layout import CpioWriter, Partition, copy_into, write_mbr

LOG = logging.getLogger(__name__)

# command or file -> Debian package that provides it
PREREQUISITES: dict[str, str] = {
    "qemu-img": "qemu-utils",
    "mke2fs": "e2fsprogs",
    "mkfs.vfat": "dosfstools",
    "mcopy": "mtools",
    "syslinux": "syslinux",
    "dropbear": "dropbear-bin",
    "dropbearkey": "dropbear-bin",
    "/bin/busybox": "busybox-static",
    "/usr/lib/syslinux/mbr/mbr.bin": "syslinux-common",
    "/boot/vmlinuz-*-cloud-amd64": "linux-image-cloud-amd64",
    "lz4": "lz4",  # Debian's cloud kernel is an LZ4 bzImage: its vmlinux boots without decompressing
}
# pvpanic_pci: a panicking kernel tells QEMU, which the driver reports as the CRASHED power state.
GUEST_MODULES = ("virtio_pci", "virtio_blk", "virtio_net", "isofs", "evdev", "button", "pvpanic_pci")
MBR_CODE = Path("/usr/lib/syslinux/mbr/mbr.bin")
BOOT_START, BOOT_SECTORS = 2048, 32 * 2048  # 1 MiB offset, 32 MiB
ROOT_START, ROOT_SECTORS = BOOT_START + BOOT_SECTORS, 64 * 2048  # 64 MiB
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


class GuestBuildError(RuntimeError):
    pass


def guest_image_path(data_dir: Path) -> Path:
    """Where `overcast image build-guest` keeps the image by default."""
    return Path(data_dir) / "images" / "overcast-guest.qcow2"


@dataclass(frozen=True)
class GuestParts:
    """The guest for a direct kernel boot: kernel, initramfs, and the root filesystem as a qcow2 disk."""

    kernel: Path
    ramdisk: Path
    root: Path

    def all(self) -> tuple[Path, Path, Path]:
        return self.kernel, self.ramdisk, self.root


def guest_parts(dest: Path) -> GuestParts:
    """Where `build_guest_image(dest)` leaves the direct-kernel-boot parts: beside the whole disk."""
    stem = Path(dest).with_suffix("").name
    folder = Path(dest).parent
    return GuestParts(folder / f"{stem}-kernel", folder / f"{stem}-ramdisk", folder / f"{stem}-root.qcow2")


def build_guest_image(dest: Path, *, force: bool = False) -> Path:
    """Build the guest qcow2 at `dest` and its parts (`guest_parts`), reused when they exist unless
    `force`; returns `dest`."""
    dest = Path(dest)
    parts = guest_parts(dest)
    if not force and all(path.exists() for path in (dest, *parts.all())):
        return dest
    ensure_prerequisites()
    kernel, release = find_kernel()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="overcast-guest-", dir=dest.parent) as tmp:
        work = Path(tmp)
        initrd = work / "initrd.img"
        initrd.write_bytes(build_initramfs(Path("/lib/modules") / release))
        boot = work / "boot.fat"
        _build_boot_partition(boot, kernel, initrd)
        root = work / "root.ext4"
        _build_root_partition(root, work / "rootfs")
        raw = work / "disk.raw"
        with raw.open("wb") as handle:
            handle.truncate((ROOT_START + ROOT_SECTORS) * 512)
        write_mbr(
            raw,
            MBR_CODE.read_bytes()[:440],
            [
                Partition(BOOT_START, BOOT_SECTORS, 0x06, bootable=True),
                Partition(ROOT_START, ROOT_SECTORS, 0x83),
            ],
        )
        copy_into(raw, boot, BOOT_START)
        copy_into(raw, root, ROOT_START)
        staged = work / "disk.qcow2"
        _run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(staged)])
        staged_root = work / "root.qcow2"
        _run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(root), str(staged_root)])
        bzimage = kernel.read_bytes()
        (work / "kernel").write_bytes(pvh_kernel(bzimage) or bzimage)
        for source, target in zip((work / "kernel", initrd, staged_root), parts.all(), strict=True):
            os.replace(source, target)
        os.replace(staged, dest)  # last: a whole disk present means its parts are too
    LOG.info("Built guest image %s (kernel %s)", dest, release)
    return dest


# --- prerequisites --------------------------------------------------------------------------------
def missing_packages() -> list[str]:
    missing: set[str] = set()
    for needed, package in PREREQUISITES.items():
        if needed.startswith("/"):
            if not any(Path("/").glob(needed.lstrip("/"))):
                missing.add(package)
        elif _which(needed) is None:
            missing.add(package)
    return sorted(missing)


def ensure_prerequisites() -> None:
    """Install missing Debian packages with apt-get (as root); otherwise say what to install."""
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise GuestBuildError(f"Building the guest image needs these Debian packages: {' '.join(missing)}")
    LOG.info("Installing guest image prerequisites: %s", " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)
    still = missing_packages()
    if still:
        raise GuestBuildError(f"Packages still missing after apt-get install: {' '.join(still)}")


def find_kernel() -> tuple[Path, str]:
    """The newest Debian cloud kernel (its virtio drivers are modules we put in the initramfs)."""
    kernels = sorted(Path("/boot").glob("vmlinuz-*-cloud-amd64"), key=lambda p: _version_key(p.name))
    if not kernels:
        raise GuestBuildError("No /boot/vmlinuz-*-cloud-amd64: install linux-image-cloud-amd64")
    kernel = kernels[-1]
    release = kernel.name.removeprefix("vmlinuz-")
    if not (Path("/lib/modules") / release / "modules.dep").is_file():
        raise GuestBuildError(f"Kernel modules for {release} are missing under /lib/modules")
    return kernel, release


def _version_key(name: str) -> list[int]:
    return [int(part) for part in name.replace("-", ".").split(".") if part.isdigit()]


# --- the kernel for a direct kernel boot -------------------------------------------------------------
_LZ4_LEGACY, _GZIP, _XZ = b"\x02\x21\x4c\x18", b"\x1f\x8b", b"\xfd7zXZ\x00"
_XEN_NOTE_NAME, _XEN_ELFNOTE_PHYS32_ENTRY, _PT_NOTE = b"Xen\x00", 18, 4


def pvh_kernel(bzimage: bytes) -> bytes | None:
    """The vmlinux ELF inside `bzimage` when it has a PVH entry point (QEMU then starts it directly);
    None when the payload is not an LZ4, gzip or xz ELF with that note (boot the bzImage instead)."""
    payload = _bzimage_payload(bzimage)
    if payload is None:
        return None
    try:
        elf = _decompress_payload(payload)
    except (GuestBuildError, zlib.error, lzma.LZMAError):
        LOG.warning("Cannot decompress the kernel's payload: the direct kernel boot decompresses it")
        return None
    return elf if elf is not None and has_pvh_entry(elf) else None


def _bzimage_payload(bzimage: bytes) -> bytes | None:
    """The compressed kernel of a bzImage (boot protocol 2.08+), its trailing 4-byte size included."""
    if len(bzimage) < 0x250 or bzimage[0x202:0x206] != b"HdrS":
        return None
    if struct.unpack_from("<H", bzimage, 0x206)[0] < 0x208:  # no payload fields before protocol 2.08
        return None
    setup_sectors = bzimage[0x1F1] or 4
    offset, length = struct.unpack_from("<II", bzimage, 0x248)
    start = (setup_sectors + 1) * 512 + offset
    payload = bzimage[start : start + length]
    return payload if len(payload) == length and length > 4 else None


def _decompress_payload(payload: bytes) -> bytes | None:
    # The kernel's build appends the uncompressed size (4 bytes, little endian) to the compressed stream.
    size = struct.unpack("<I", payload[-4:])[0]
    if payload.startswith(_LZ4_LEGACY):
        lz4 = _which("lz4")
        if lz4 is None:
            return None
        result = subprocess.run([str(lz4), "-d", "-c"], input=payload[:-4], capture_output=True, check=False)
        if result.returncode != 0:
            raise GuestBuildError(f"lz4 failed: {result.stderr.decode(errors='replace').strip()}")
        elf = result.stdout
    elif payload.startswith(_GZIP):
        elf = zlib.decompressobj(wbits=31).decompress(payload)
    elif payload.startswith(_XZ):
        elf = lzma.LZMADecompressor().decompress(payload)
    else:
        return None
    return elf if len(elf) == size else None


def has_pvh_entry(elf: bytes) -> bool:
    """Does this 64-bit little-endian ELF carry Xen's PHYS32_ENTRY note (PVH, which QEMU's -kernel takes)?"""
    if not elf.startswith(b"\x7fELF\x02\x01"):
        return False
    (table,) = struct.unpack_from("<Q", elf, 0x20)
    entry_size, count = struct.unpack_from("<HH", elf, 0x36)
    for index in range(count):
        kind, _, offset, _, _, size = struct.unpack_from("<IIQQQQ", elf, table + index * entry_size)
        notes = elf[offset : offset + size]
        if kind == _PT_NOTE and _has_note(notes, _XEN_NOTE_NAME, _XEN_ELFNOTE_PHYS32_ENTRY):
            return True
    return False


def _has_note(notes: bytes, name: bytes, note_type: int) -> bool:
    position = 0
    while position + 12 <= len(notes):
        name_size, description_size, kind = struct.unpack_from("<III", notes, position)
        start = position + 12
        if kind == note_type and notes[start : start + name_size] == name:
            return True
        position = start + (name_size + 3) // 4 * 4 + (description_size + 3) // 4 * 4
    return False


# --- initramfs ------------------------------------------------------------------------------------
def module_load_order(modules_dir: Path, wanted: Iterable[str]) -> list[str]:
    """Relative paths of the wanted modules and their dependencies, dependencies first."""
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in (modules_dir / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
        by_name[_module_name(path)] = path
    builtin = {_module_name(p) for p in _read_lines(modules_dir / "modules.builtin")}
    order: list[str] = []

    def visit(path: str) -> None:
        if path in order:
            return
        for dep in reversed(deps.get(path, [])):  # modules.dep lists the deepest dependency last
            visit(dep)
        order.append(path)

    for name in wanted:
        if name in builtin:
            continue
        if name not in by_name:
            raise GuestBuildError(f"Kernel module {name} not found in {modules_dir}")
        visit(by_name[name])
    return order


def build_initramfs(modules_dir: Path) -> bytes:
    archive = CpioWriter()
    for directory in ("bin", "dev", "proc", "sys", "newroot", "modules", "lib", "lib64"):
        archive.directory(directory)
    archive.char_device("dev/console", 5, 1)
    archive.char_device("dev/null", 1, 3)
    busybox = Path("/bin/busybox")
    archive.file("bin/busybox", busybox.read_bytes(), 0o755)
    for library in shared_libraries(busybox):
        _add_parents(archive, library)
        archive.file(str(library).lstrip("/"), library.resolve().read_bytes(), 0o755)
    order = module_load_order(modules_dir, GUEST_MODULES)
    flat_names = []
    for relative in order:
        data = _module_bytes(modules_dir / relative)
        flat = Path(relative).name.removesuffix(".xz")
        archive.file(f"modules/{flat}", data)
        flat_names.append(flat)
    archive.file("modules.order", ("\n".join(flat_names) + "\n").encode())
    archive.file("init", scripts.INITRAMFS_INIT.encode(), 0o755)
    return archive.getvalue()


def _add_parents(archive: CpioWriter, path: Path) -> None:
    for parent in reversed(path.parents[:-1]):
        if str(parent) not in ("/lib", "/lib64"):
            archive.directory(str(parent).lstrip("/"))


def _module_bytes(path: Path) -> bytes:
    if path.suffix == ".xz":
        import lzma

        return lzma.decompress(path.read_bytes())
    if path.suffix in (".zst", ".gz"):
        raise GuestBuildError(f"Compressed kernel module {path} is not supported (busybox insmod)")
    return path.read_bytes()


def _module_name(path: str) -> str:
    name = Path(path).name
    for suffix in (".xz", ".zst", ".gz", ".ko"):
        name = name.removesuffix(suffix)
    return name.replace("-", "_")


# --- partitions -----------------------------------------------------------------------------------
def _build_boot_partition(image: Path, kernel: Path, initrd: Path) -> None:
    with image.open("wb") as handle:
        handle.truncate(BOOT_SECTORS * 512)
    _run(["mkfs.vfat", "-F", "16", "-n", "OVERCAST", "-h", str(BOOT_START), str(image)])
    _run(["syslinux", "--install", str(image)])
    config = image.parent / "syslinux.cfg"
    config.write_text(scripts.SYSLINUX_CFG)
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    for source, name in ((kernel, "vmlinuz"), (initrd, "initrd.img"), (config, "syslinux.cfg")):
        _run(["mcopy", "-o", "-i", str(image), str(source), f"::{name}"], env=env)


def _build_root_partition(image: Path, staging: Path) -> None:
    stage_root_filesystem(staging)
    _run(
        ["mke2fs", "-q", "-F", "-t", "ext4", "-L", scripts.ROOT_LABEL, "-E", "root_owner=0:0",
         "-d", str(staging), str(image), f"{ROOT_SECTORS // 2}k"]
    )  # fmt: skip


def stage_root_filesystem(root: Path) -> None:
    """Lay out the root filesystem's files in the directory `root` (mke2fs -d copies it)."""
    for directory in ("bin", "dev", "proc", "sys", "run", "tmp", "mnt/config", "etc/init.d", "etc/dropbear",
                      "var/log", "usr", "lib", "lib64"):  # fmt: skip
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "root").mkdir(mode=0o700, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    for link, target in (
        ("sbin", "bin"),
        ("usr/bin", "../bin"),
        ("usr/sbin", "../bin"),
        ("var/run", "../run"),
    ):
        (root / link).symlink_to(target)
    busybox = Path("/bin/busybox")
    _install_binary(busybox, root / "bin/busybox", root)
    applets = _run(["/bin/busybox", "--list"]).split()
    for applet in applets:
        if applet != "busybox" and not (root / "bin" / applet).exists():
            (root / "bin" / applet).symlink_to("busybox")
    for command in ("dropbear", "dropbearkey"):
        found = _which(command)
        if found is None:
            raise GuestBuildError(f"{command} not found (install dropbear-bin)")
        _install_binary(found, root / "bin" / command, root)
    files = {
        "etc/inittab": (scripts.INITTAB, 0o644),
        "etc/init.d/rcS": (scripts.RCS, 0o755),
        "etc/init.d/metadata.sh": (scripts.METADATA_FUNCTIONS, 0o644),
        "etc/udhcpc.script": (scripts.UDHCPC_SCRIPT, 0o755),
        "etc/passwd": (scripts.PASSWD, 0o644),
        "etc/shadow": (scripts.SHADOW, 0o600),
        "etc/group": (scripts.GROUP, 0o644),
        "etc/shells": (scripts.SHELLS, 0o644),
        "etc/nsswitch.conf": (scripts.NSSWITCH, 0o644),
        "etc/hostname": ("overcast\n", 0o644),
        "etc/issue": ("\n", 0o644),
    }
    for name, (text, mode) in files.items():
        path = root / name
        path.write_text(text)
        path.chmod(mode)


def _install_binary(binary: Path, target: Path, root: Path) -> None:
    shutil.copy2(binary, target)
    target.chmod(0o755)
    for library in shared_libraries(binary):
        copy = root / str(library).lstrip("/")
        copy.parent.mkdir(parents=True, exist_ok=True)
        if not copy.exists():
            shutil.copy2(library.resolve(), copy)


def shared_libraries(binary: Path) -> list[Path]:
    """The shared libraries `binary` loads, as ldd resolves them (empty for a static binary)."""
    result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    libraries = []
    for line in result.stdout.splitlines():
        parts = line.split()
        if "=>" in parts:
            target = parts[parts.index("=>") + 1]
            if target.startswith("/"):
                libraries.append(Path(target))
        elif parts and parts[0].startswith("/"):
            libraries.append(Path(parts[0]))  # the dynamic loader itself
    return libraries


# --- helpers --------------------------------------------------------------------------------------
def _which(command: str) -> Path | None:
    path = os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(_SBIN_DIRS)
    found = shutil.which(command, path=path)
    return Path(found) if found else None


def _run(args: list[str], env: dict[str, str] | None = None) -> str:
    executable = _which(args[0]) if not args[0].startswith("/") else Path(args[0])
    if executable is None:
        raise GuestBuildError(f"{args[0]} not found")
    result = subprocess.run(
        [str(executable), *args[1:]], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        raise GuestBuildError(
            f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
        )
    return result.stdout


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []
