#!/usr/bin/env bash
# Runs before `npm test` (npm's pretest): the browser test of the balancer-manager drives Debian's
# Chromium. Installs it when missing and this is a Debian machine where we are root (as CI is);
# otherwise says how, and the browser test fails with the same advice.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "pretest: installing chromium (Debian package) for the browser test" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "pretest: chromium is missing; install it (Debian: sudo apt-get install chromium) or the browser test fails" >&2
fi
