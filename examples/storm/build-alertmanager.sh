#!/bin/sh
# build-alertmanager.sh DIR [VERSION] builds Alertmanager into
# DIR/alertmanager: the version in go.mod, from the module cache, or the
# given one (such as v0.25.0), from the Go module proxy. The benchmarks
# that run it side by side with tocsin use it. Run from the repository's
# root.
set -eu
if [ $# -gt 1 ]; then
  src=$(go mod download -json "github.com/prometheus/alertmanager@$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
else
  src=$(go list -m -f '{{.Dir}}' github.com/prometheus/alertmanager)
fi
rm -rf "$1/alertmanager-src"
cp -R "$src" "$1/alertmanager-src"
chmod -R u+w "$1/alertmanager-src"
# The module has no built web UI, which Alertmanager embeds: a stub page
# lets it build; the API does not need the UI.
mkdir -p "$1/alertmanager-src/ui/app/dist"
echo '<!doctype html><title>Alertmanager</title>' >"$1/alertmanager-src/ui/app/dist/index.html"
(cd "$1/alertmanager-src" && go build -o "$1/alertmanager" ./cmd/alertmanager)
