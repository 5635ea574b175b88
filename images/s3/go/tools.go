//go:build tools

// Package tools pins the MinIO server binary the lab's S3 store image runs.
package tools

import _ "github.com/minio/minio"
