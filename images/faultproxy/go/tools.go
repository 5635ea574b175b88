//go:build tools

// Package tools pins the Toxiproxy server the lab's fault proxy image runs.
package tools

import _ "github.com/Shopify/toxiproxy/v2/cmd/server"
