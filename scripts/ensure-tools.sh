#!/usr/bin/env bash
# Makes sure the tools that obtain the local infrastructure are present: Python >= 3.11 (the
# virtualenv), a JDK and Maven (Kafka's jars from Maven Central), Go >= 1.24 (FerretDB from the Go
# module proxy, and the operations tests' promtool, kustomize and tools/composecheck, built once into
# ~/.cache/pasokh by the tests themselves), PostgreSQL >= 15 (the opt-in FerretDB backend,
# PASOKH_LOCAL_MONGO=ferretdb-postgresql, which the test suite also exercises), Chromium (browser tests). Missing ones are
# installed with apt-get when we are root on Debian; otherwise it says what to install and fails.
set -euo pipefail

missing=()
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || missing+=(python3)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v go >/dev/null || missing+=(golang-go)
# Where pasokh/infra/postgres.py looks: pg_config --bindir, then Debian's /usr/lib/postgresql/<major>/bin.
has_postgres() {
  local bindir
  if command -v pg_config >/dev/null; then
    bindir=$(pg_config --bindir 2>/dev/null) && [ -x "$bindir/postgres" ] && [ -x "$bindir/initdb" ] && return 0
  fi
  for bindir in /usr/lib/postgresql/*/bin; do
    [ -x "$bindir/postgres" ] && [ -x "$bindir/initdb" ] && return 0
  done
  return 1
}
has_postgres || missing+=(postgresql)
# The browser tests (tests/browser) drive Debian's Chromium through Playwright; no browser is downloaded.
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing with apt-get: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" python3-venv >/dev/null
else
  echo "missing tools: ${missing[*]} — install them (Debian/Ubuntu: apt-get install ${missing[*]})" >&2
  exit 1
fi
