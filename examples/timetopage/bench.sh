#!/bin/sh
# Builds tocsin and Alertmanager (the version in go.mod, from the module
# cache) and measures the time to page of both, side by side, with Debian's
# prometheus and prometheus-blackbox-exporter; see README.md. Extra
# arguments go to the timetopage command (--breaks, --shapes).
set -eu
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

go build -o "$work/tocsin" ./cmd/tocsin
src=$(go list -m -f '{{.Dir}}' github.com/prometheus/alertmanager)
cp -R "$src" "$work/alertmanager-src"
chmod -R u+w "$work/alertmanager-src"
# The module has no built web UI, which Alertmanager embeds: a stub page
# lets it build; the API does not need the UI.
mkdir -p "$work/alertmanager-src/ui/app/dist"
echo '<!doctype html><title>Alertmanager</title>' >"$work/alertmanager-src/ui/app/dist/index.html"
(cd "$work/alertmanager-src" && go build -o "$work/alertmanager" ./cmd/alertmanager)

go run ./examples/timetopage --tocsin "$work/tocsin" --alertmanager "$work/alertmanager" "$@"
