#!/usr/bin/env bash
# The report tests open stored reports in Debian's headless chromium. Install it when missing (needs root + apt).
set -euo pipefail
command -v chromium > /dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests ..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
  command -v chromium > /dev/null && exit 0
fi
echo "error: the browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2
exit 1
