//go:build tools

// Package tools pins the vulcand binaries this image is built from.
package tools

import (
	_ "github.com/vulcand/vulcand"
	_ "github.com/vulcand/vulcand/vctl"
)
