//go:build !amd64

package tracepoint

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/probe"
)

// compatGuard knows no 32-bit guard here: each syscalls tracepoint runs on
// its own event.
func compatGuard(*probe.Env) (asm.Instructions, error) {
	return nil, fmt.Errorf("no 32-bit syscall guard for this architecture: %w", ebpf.ErrNotSupported)
}
