#!/usr/bin/env bash
# Puts the dashboard's pinned JavaScript and CSS (htmx, xterm.js) from the npm registry into
# overcast/dashboard/static/vendor/, so the dashboard serves them itself: no CDN at run time, works offline.
set -euo pipefail
cd "$(dirname "$0")/.."

vendor=overcast/dashboard/static/vendor
# package@version  file-in-package  name-served
assets=(
    "htmx.org@2.0.4 package/dist/htmx.min.js htmx.min.js"
    "@xterm/xterm@5.5.0 package/lib/xterm.js xterm.js"
    "@xterm/xterm@5.5.0 package/css/xterm.css xterm.css"
)
stamp="$vendor/.versions"
wanted=$(printf '%s\n' "${assets[@]}")
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$vendor"
for asset in "${assets[@]}"; do
    read -r package member served <<<"$asset"
    tarball="$work/$(echo "$package" | tr '@/' '__').tgz"
    if [ ! -f "$tarball" ]; then
        # npm pack checks the tarball against the registry's integrity hash.
        (cd "$work" && npm pack --silent "$package" >"$work/name")
        mv "$work/$(cat "$work/name")" "$tarball"
    fi
    tar -xzf "$tarball" -C "$work" "$member"
    install -m 0644 "$work/$member" "$vendor/$served"
done
echo "$wanted" >"$stamp"
