#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the host tools the fixtures and tests need (Debian 12, as root). Idempotent:
# does nothing when every tool is already there. Not root and something missing: say so.
set -eu
PKGS="podman skopeo buildah umoci docker.io runc debootstrap rpm zstd xz-utils e2fsprogs squashfs-tools cpio chromium fonts-dejavu-core fdisk dosfstools wget ca-certificates"
missing=""
for tool in podman skopeo buildah umoci dockerd runc debootstrap rpm zstd chromium sfdisk mkfs.vfat unsquashfs debugfs wget; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "host-deps: missing tools:$missing (install as root: apt-get install $PKGS)" >&2
    exit 1
fi
echo "host-deps: installing$missing ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
