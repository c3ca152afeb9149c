package configs

import "embed"

// Defaults holds the shipped default files: tocsin.yml and rules/liveness.yml
// (with its unit tests), so that `tocsin` can print or install them anywhere.
//
//go:embed tocsin.yml rules/*.yml
var Defaults embed.FS
