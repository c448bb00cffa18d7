#!/usr/bin/env bash
# For the tests only (scripts/test.sh runs it; the tool itself never needs a browser): the HTML pages
# (leaderboard, sweep report, the server's page) are tested in headless Chromium driven by selenium through the
# distribution's chromedriver. Installs both when missing; without apt, says so and fails (the browser tests
# fail rather than skip without it).
set -euo pipefail
# The HTML pages (leaderboard, sweep report) are tested in headless Chromium driven by selenium through the
# distribution's chromedriver. Install both when chromium is missing; without apt, say so and fail (the
# browser tests fail rather than skip without it).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup.sh: the browser tests need Chromium and chromedriver (Debian: apt-get install chromium chromium-driver); apt-get is not available here, install them and rerun" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver
fi
