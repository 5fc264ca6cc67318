#!/usr/bin/env bash
# Install Debian's Chromium for the report's headless-browser test, if it is not there yet.
# Idempotent and quiet: does nothing when `chromium` is on PATH; otherwise runs `apt-get update` once and
# installs it. Exit 0 when a browser is available afterwards, 1 when it could not be installed (the browser
# tests then skip with a loud warning). apt's output is shown only on failure.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo -n"
  else
    echo "install-browser: not root and no sudo; cannot install chromium" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: no apt-get on this machine; install Chromium yourself" >&2
  exit 1
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get update -qq >"$log" 2>&1 \
  || ! $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >>"$log" 2>&1; then
  echo "install-browser: installing Debian's chromium failed:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
command -v chromium >/dev/null 2>&1
