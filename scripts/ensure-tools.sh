#!/usr/bin/env bash
# Makes sure the tools that obtain the local infrastructure are present: Python >= 3.11 (the
# virtualenv), a JDK and Maven (Kafka's jars from Maven Central), Go >= 1.24 (FerretDB from the Go
# module proxy; not needed when mongod is on PATH). Missing ones are installed with apt-get when we
# are root on Debian; otherwise it says what to install and fails.
set -euo pipefail

missing=()
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || missing+=(python3)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
if ! command -v mongod >/dev/null && ! command -v go >/dev/null; then missing+=(golang-go); fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing with apt-get: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" python3-venv >/dev/null
else
  echo "missing tools: ${missing[*]} — install them (Debian/Ubuntu: apt-get install ${missing[*]})" >&2
  exit 1
fi
