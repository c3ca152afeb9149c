#!/bin/sh
# Builds tocsin and Alertmanager (the version in go.mod, from the module
# cache, or ALERTMANAGER_VERSION such as v0.25.0) and runs the alert storm
# against both; see README.md. Extra arguments go to the storm command
# (--alerts, --groups, --batch, --senders, --floor).
set -eu
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

go build -o "$work/tocsin" ./cmd/tocsin
examples/storm/build-alertmanager.sh "$work" ${ALERTMANAGER_VERSION:-}

go run ./examples/storm --tocsin "$work/tocsin" --alertmanager "$work/alertmanager" "$@"
