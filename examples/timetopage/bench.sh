#!/bin/sh
# Builds tocsin and Alertmanager (the version in go.mod, from the module
# cache) and measures the time to page of both, side by side, with Debian's
# prometheus and prometheus-blackbox-exporter; see README.md. Extra
# arguments go to the timetopage command (--breaks, --shapes, --keep).
set -eu
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

go build -o "$work/tocsin" ./cmd/tocsin
examples/storm/build-alertmanager.sh "$work"

go run ./examples/timetopage --tocsin "$work/tocsin" --alertmanager "$work/alertmanager" "$@"
