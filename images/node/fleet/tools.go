//go:build tools

// Package fleetbuild only exists to pin fleet's two main packages in go.mod
// so that `go mod tidy` keeps them and their dependencies.
package fleetbuild

import (
	_ "github.com/coreos/fleet"
	_ "github.com/coreos/fleet/fleetctl"
)
