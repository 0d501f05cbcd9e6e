//go:build !amd64

package tracepoint

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/probe"
)

// syscallNumbers is empty where ebtrace knows no 32-bit guard: each
// syscalls tracepoint runs on its own event.
var syscallNumbers map[string]int64

func compatGuard(*probe.Env) (asm.Instructions, error) {
	return nil, fmt.Errorf("no 32-bit syscall guard for this architecture: %w", ebpf.ErrNotSupported)
}
