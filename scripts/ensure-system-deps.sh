#!/usr/bin/env bash
# Runs before `npm test` (npm's pretest): the balancer-manager's browser test drives Debian's
# Chromium, and the AJP tests run Debian's Tomcat 10 (tomcat10 pulls in a JRE and Jasper's JSP
# compiler). Installs what is missing when this is a Debian machine where we are root (as CI is);
# otherwise says how, and those tests fail with the same advice. The tomcat10 package's own
# service is stopped and disabled: the tests start their own instances (CATALINA_BASE per test).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -f /usr/share/tomcat10/bin/bootstrap.jar ] || missing+=(tomcat10)
if [ "${#missing[@]}" = "0" ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "pretest: installing ${missing[*]} (Debian packages) for the browser and AJP tests" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  if [[ " ${missing[*]} " == *" tomcat10 "* ]]; then
    # No system Tomcat left running (there may be no systemd: then nothing was started).
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now tomcat10 >/dev/null 2>&1 || true; fi
    if command -v service >/dev/null 2>&1; then service tomcat10 stop >/dev/null 2>&1 || true; fi
  fi
else
  echo "pretest: missing ${missing[*]}; install (Debian: sudo apt-get install ${missing[*]}) or the browser/AJP tests fail" >&2
fi
