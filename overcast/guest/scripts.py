"""The guest's boot scripts (busybox sh), written into the initramfs and the root filesystem.

The guest speaks OpenStack's config drive (label `config-2`, openstack/latest/meta_data.json) and
falls back to the metadata service. It announces readiness on the serial console through getty's
issue text, so the READY line is always followed by the login prompt (`<hostname> login: `).
"""

from __future__ import annotations

import re

READY_MARKER = "OVERCAST-GUEST-READY"
# Ready = marker line then getty's prompt: both are on the console when a boot has finished.
READY_PATTERN = re.compile(rf"{READY_MARKER} (\S+)\s*\n\s*\S+ login: ")

ROOT_LABEL = "overcast-root"
# Under TCG every kernel code path the boot runs costs its translation: skip the crypto self-tests
# (cryptomgr.notests, ~0.3 s of CPU) and trust the TSC, QEMU's steady host clock, instead of watching it
# against the HPET (tsc=reliable: no watchdog, no refined calibration; ~0.2 s).
KERNEL_ARGS = (
    f"root=LABEL={ROOT_LABEL} rootfstype=ext4 console=ttyS0 quiet panic=10 mitigations=off "
    "cryptomgr.notests tsc=reliable"
)

# Runs from the initramfs: load the virtio/input/iso9660 modules, then hand over to the root disk.
INITRAMFS_INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for module in $(/bin/busybox cat /modules.order); do
    /bin/busybox insmod "/modules/$module" 2>/dev/null
done
root=/dev/vda2
for arg in $(/bin/busybox cat /proc/cmdline); do
    case "$arg" in root=*) root="${arg#root=}" ;; esac
done
# By label: a server booted from a volume sees its config drive first (vda), the boot volume after it.
# A rescued server has two disks with the label (the rescue image first, its own root after it), and
# findfs may answer either: take the first disk's, read from the ext4 superblock (label at byte 1144).
# A disk counts before its partitions: a direct kernel boot's root image is the filesystem alone.
first_labelled() {
    for disk in /dev/vd[a-z] /dev/sd[a-z]; do
        for device in "$disk" "$disk"[0-9]*; do
            [ -b "$device" ] || continue
            label=$(/bin/busybox dd if="$device" bs=1 skip=1144 count=16 2>/dev/null \
                | /bin/busybox tr -d '\000')
            [ "$label" = "$1" ] && echo "$device" && return 0
        done
    done
    return 1
}
wanted=$root
tries=0
while [ "${wanted#LABEL=}" != "$wanted" ] && [ "$tries" -lt 200 ]; do
    root=$(first_labelled "${wanted#LABEL=}") && break
    root=$wanted
    /bin/busybox usleep 20000
    tries=$((tries + 1))
done
while [ ! -b "$root" ] && [ "$tries" -lt 200 ]; do
    /bin/busybox usleep 20000
    tries=$((tries + 1))
done
if ! /bin/busybox mount -t ext4 -o rw "$root" /newroot; then
    echo "overcast-initramfs: cannot mount root $root"
    exec /bin/busybox sh
fi
/bin/busybox mount --move /dev /newroot/dev
/bin/busybox umount /proc /sys
exec /bin/busybox switch_root /newroot /sbin/init
"""

INITTAB = """::sysinit:/etc/init.d/rcS
ttyS0::respawn:/sbin/getty -L 115200 ttyS0 vt100
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/killall dropbear
::shutdown:/bin/umount -a -r
::shutdown:/bin/sync
"""

UDHCPC_SCRIPT = r"""#!/bin/sh
case "$1" in
    deconfig) ifconfig "$interface" 0.0.0.0 ;;
    bound|renew)
        ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}"
        if [ -n "$router" ] || [ -n "$staticroutes" ]; then
            while route del default 2>/dev/null; do :; done
        fi
        if [ -n "$staticroutes" ]; then
            # Classless routes (option 121) replace the router option (RFC 3442); an isolated network's
            # route to the metadata service (169.254.169.254 via its DHCP port) comes this way.
            set -- $staticroutes
            while [ $# -ge 2 ]; do route add -net "$1" gw "$2" dev "$interface" 2>/dev/null; shift 2; done
        elif [ -n "$router" ]; then
            for gateway in $router; do route add default gw "$gateway" dev "$interface"; break; done
        fi
        : > /etc/resolv.conf
        for server in $dns; do echo "nameserver $server" >> /etc/resolv.conf; done
        ;;
esac
"""

# Shell functions that read OpenStack's meta_data.json (sourced by rcS; tested against our config drive).
METADATA_FUNCTIONS = r"""# usage: json_string FILE KEY -> the first string value of KEY
json_string() {
    tr ',{}[]' '\n\n\n\n\n' < "$1" \
        | sed -n "s/^[[:space:]]*\"$2\":[[:space:]]*\"\(.*\)\"[[:space:]]*$/\1/p" | head -n 1
}

# usage: public_keys FILE -> one OpenSSH public key a line
public_keys() {
    grep -o '"\(ssh\|ecdsa\|sk\)-[^"]*"' "$1" | tr -d '"' | sed 's/\\n$//' | sort -u
}

# usage: json_line_string FILE KEY -> the string value of KEY where it stands on a line of its own (our
# indented meta_data.json); unlike json_string it keeps , { } [ ] and undoes \" and \\ (not \uXXXX).
json_line_string() {
    sed -n "s/^[[:space:]]*\"$2\":[[:space:]]*\"\(.*\)\",\{0,1\}[[:space:]]*$/\1/p" "$1" | head -n 1 \
        | sed 's/\\\\/\x01/g; s/\\"/"/g; s/\x01/\\/g'
}

# usage: set_root_password PASSWORD [SHADOW] -> root's entry in SHADOW (/etc/shadow) gets a SHA-512 hash
set_root_password() {
    local shadow="${2:-/etc/shadow}" hash
    hash=$(printf '%s' "$1" | mkpasswd -m sha512 -P 0) && [ -n "$hash" ] || return 1
    {
        echo "root:$hash::0:99999:7:::"
        grep -v '^root:' "$shadow" 2>/dev/null || :
    } > "$shadow.new" && chmod 600 "$shadow.new" && mv "$shadow.new" "$shadow"
}
"""

RCS = r"""#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
. /etc/init.d/metadata.sh
mkdir -p /proc /sys /dev/pts /run /tmp /mnt/config /root/.ssh /etc/dropbear
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -o remount,rw /
ln -sf /proc/mounts /etc/mtab

# Power button (ACPI system_powerdown) -> clean poweroff.
for event in /sys/class/input/event*; do
    if grep -q "Power Button" "$event/device/name" 2>/dev/null; then
        (dd if="/dev/input/${event##*/}" of=/dev/null bs=24 count=1 2>/dev/null && poweroff) &
    fi
done

ifconfig lo 127.0.0.1 up
ifconfig eth0 up 2>/dev/null \
    && udhcpc -i eth0 -s /etc/udhcpc.script -O staticroutes -q -n -t 10 -T 1 >/dev/null 2>&1

meta=""
userdata=""
configdev=$(findfs LABEL=config-2 2>/dev/null)
if [ -n "$configdev" ] && mount -o ro "$configdev" /mnt/config 2>/dev/null; then
    meta=/mnt/config/openstack/latest/meta_data.json
    userdata=/mnt/config/openstack/latest/user_data
    echo "overcast-guest: config drive $configdev"
else
    base=http://169.254.169.254/openstack/latest
    # timeout, not wget -T: Debian's busybox (before 1.36.1-5) is built without wget's timeout and
    # crashes on -T.
    if timeout 3 wget -q -O /run/meta_data.json "$base/meta_data.json" 2>/dev/null; then
        meta=/run/meta_data.json
        timeout 3 wget -q -O /run/user_data "$base/user_data" 2>/dev/null && userdata=/run/user_data
        echo "overcast-guest: metadata service"
    fi
fi

instance=unknown
if [ -n "$meta" ] && [ -f "$meta" ]; then
    instance=$(json_string "$meta" uuid)
    name=$(json_string "$meta" hostname)
    [ -n "$name" ] && hostname "$name" && echo "$name" > /etc/hostname
    public_keys "$meta" > /root/.ssh/authorized_keys
    # Nova's admin_pass (the server's adminPass) becomes root's password once per instance, as
    # cloud-init does: a password changed inside the guest later survives reboots.
    password=$(json_line_string "$meta" admin_pass)
    [ -n "$password" ] || password=$(json_string "$meta" admin_pass)
    if [ -n "$password" ] && [ "$(cat /etc/overcast-password-of 2>/dev/null)" != "$instance" ]; then
        set_root_password "$password" && echo "$instance" > /etc/overcast-password-of
    fi
    password=""
fi
[ -f /etc/hostname ] && hostname "$(cat /etc/hostname)"
chmod 700 /root /root/.ssh
chmod 600 /root/.ssh/authorized_keys 2>/dev/null

# -R: dropbear makes a missing host key (of the type the first client picks) when that client comes, so
# its generation (~0.3 s of CPU under TCG) is not part of every first boot.
dropbear -R -p 22 -s

if [ -n "$userdata" ] && [ -f "$userdata" ] && [ "$(head -c 2 "$userdata")" = "#!" ]; then
    cp "$userdata" /run/user-data
    chmod 700 /run/user-data
    /run/user-data > /var/log/user-data.log 2>&1
    echo "overcast-guest: user-data exited with $?"
fi

echo "OVERCAST-GUEST-READY $instance" > /etc/issue
"""

PASSWD = "root:x:0:0:root:/root:/bin/sh\n"
SHADOW = "root:*::0:99999:7:::\n"  # locked until the instance's admin_pass arrives
GROUP = "root:x:0:\n"
SHELLS = "/bin/sh\n"
NSSWITCH = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"

SYSLINUX_CFG = f"""DEFAULT overcast
PROMPT 0
TIMEOUT 0
LABEL overcast
  KERNEL /vmlinuz
  INITRD /initrd.img
  APPEND {KERNEL_ARGS}
"""
