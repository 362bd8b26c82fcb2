#!/usr/bin/env bash
# Installs everything Overcast needs on Debian 12 (as root): Debian packages, a venv in .venv, the package.
#   scripts/install.sh          runtime: the all-in-one cloud
#   scripts/install.sh --test   also the servers and tools the test suite uses
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

# The cloud itself: Python, QEMU, and what the guest-image builder and config drives are made from;
# the network data plane: iproute2, nftables, dnsmasq with dhcp_release, busybox (udhcpc, arping, sysctl);
# volumes: tgt (the iSCSI target daemon) and QEMU's iSCSI client (qemu-block-extra).
packages=(python3 python3-venv python3-dev gcc ca-certificates openssh-client
          qemu-system-x86 qemu-utils linux-image-cloud-amd64 busybox-static dropbear-bin
          genisoimage e2fsprogs dosfstools mtools syslinux syslinux-common fdisk lz4
          iproute2 nftables dnsmasq-base dnsmasq-utils
          tgt qemu-block-extra
          libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0)  # WeasyPrint: invoices as PDF
# The dashboard's pinned JavaScript (scripts/dashboard_assets.sh) comes through npm: Debian's, unless a Node.js
# that brings its own (NodeSource's nodejs conflicts with Debian's npm package) is installed already.
command -v npm >/dev/null || packages+=(npm)
if [ "$with_tests" = 1 ]; then
    # Real servers the integration tests start privately on loopback.
    packages+=(rabbitmq-server postgresql slapd ldap-utils memcached
               swift swift-proxy swift-account swift-container swift-object
               chromium)  # the dashboard's browser tests (Playwright drives Debian's binary)
fi

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
if [ "$with_tests" = 1 ]; then
    .venv/bin/python -m pip install -q -e ".[test]"
    # openstacksdk's functional tests (tests/compat/) come from the sdist of the installed version.
    sdk_version=$(.venv/bin/python -c 'from importlib.metadata import version; print(version("openstacksdk"))')
    if [ ! -d ".venv/share/openstacksdk-$sdk_version" ]; then
        sdk_download=$(mktemp -d)
        .venv/bin/python -m pip download -q --no-binary :all: --no-deps -d "$sdk_download" "openstacksdk==$sdk_version"
        mkdir -p .venv/share
        tar -xzf "$sdk_download/openstacksdk-$sdk_version.tar.gz" -C .venv/share
        rm -rf "$sdk_download"
    fi
    # Ansible's openstack.cloud collection (tests/compat/) needs an older openstacksdk than ours: its own venv,
    # with the pins of pyproject.toml's `ansible` extra.
    [ -x .venv-ansible/bin/python ] || python3 -m venv .venv-ansible
    .venv-ansible/bin/python -m pip install -q -r <(.venv/bin/python -c 'import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["ansible"]))')
else
    .venv/bin/python -m pip install -q -e .
fi
scripts/dashboard_assets.sh
