//go:build cgo

package main

import (
	"fmt"
	"io"
)

// runServe is `ebtrace serve` in a build with cgo, which has no serve:
// Go's net package would link libc through cgo, and ebtrace is one static
// binary. It says how to get one that serves.
func runServe(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "ebtrace: this ebtrace was built with cgo, so it has no serve (Go's net package would link libc); build it with CGO_ENABLED=0 go build ./cmd/ebtrace")
	return 1
}
