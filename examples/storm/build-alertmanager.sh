#!/bin/sh
# build-alertmanager.sh DIR builds Alertmanager (the version in go.mod, from
# the module cache) into DIR/alertmanager; the benchmarks that run it side
# by side with tocsin use it. Run from the repository's root.
set -eu
src=$(go list -m -f '{{.Dir}}' github.com/prometheus/alertmanager)
cp -R "$src" "$1/alertmanager-src"
chmod -R u+w "$1/alertmanager-src"
# The module has no built web UI, which Alertmanager embeds: a stub page
# lets it build; the API does not need the UI.
mkdir -p "$1/alertmanager-src/ui/app/dist"
echo '<!doctype html><title>Alertmanager</title>' >"$1/alertmanager-src/ui/app/dist/index.html"
(cd "$1/alertmanager-src" && go build -o "$1/alertmanager" ./cmd/alertmanager)
