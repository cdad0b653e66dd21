#!/usr/bin/env bash
# The playground's real-browser test: installs Debian's Chromium when missing, builds and starts
# the server on a free loopback port, drives the page with playwright-core (test.mjs) and writes
# a screenshot to docs/playground.png. Skips (exit 0, saying so) only when Chromium or the npm
# package cannot be installed, e.g. offline.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
chromium="${CHROMIUM:-/usr/bin/chromium}"

skip() {
    echo "browser test skipped: $1"
    exit 0
}

if [ ! -x "$chromium" ]; then
    if [ "$(id -u)" -ne 0 ]; then skip "$chromium is missing and installing it needs root"; fi
    echo "installing chromium and chromium-driver from Debian…"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
        || skip "chromium could not be installed"
fi
# Korean glyphs for the screenshot (the test itself does not need them)
if ! fc-list :lang=ko 2>/dev/null | grep -q . && [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum >/dev/null || echo "fonts-nanum not installed: Korean shows as boxes"
fi
command -v npm >/dev/null || skip "npm is missing"
if [ ! -d "$here/node_modules/playwright-core" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || skip "playwright-core could not be installed"
fi

cd "$root"
cargo build -p malmoi-playground --bin malmoi-playground
target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d)"
"$target/debug/malmoi-playground" --port 0 >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

base=""
for _ in $(seq 1 600); do
    base="$(grep -o 'http://127.0.0.1:[0-9]*' "$work/server.log" | head -1 || true)"
    [ -n "$base" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; echo "the server exited"; exit 1; }
    sleep 0.1
done
[ -n "$base" ] || { cat "$work/server.log"; echo "the server did not start"; exit 1; }
echo "server at $base"

mkdir -p "$root/docs"
BASE_URL="$base" SCREENSHOT="$root/docs/playground.png" USER_DATA_DIR="$work/chromium-profile" CHROMIUM="$chromium" \
    node "$here/test.mjs"
