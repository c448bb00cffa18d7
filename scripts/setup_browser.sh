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
    echo "setup_browser.sh: the browser tests need Chromium and chromedriver (Debian: apt-get install chromium chromium-driver); apt-get is not available here, install them and rerun" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  for attempt in 1 2 3; do  # a mirror that hiccups once should not fail the test run
    if $SUDO apt-get update -q && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; then
      break
    fi
    if [ "$attempt" -eq 3 ]; then
      echo "setup_browser.sh: could not install chromium and chromium-driver with apt-get (3 attempts)" >&2
      exit 1
    fi
    sleep 10
  done
fi
