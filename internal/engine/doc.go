// Package engine runs eBPF programs in user space: an interpreter with
// the kernel's semantics for every instruction ebtrace emits, the helpers
// ebtrace calls, and in-memory maps with the kernel's key and value
// layouts, so that a recording can be replayed, or a script traced where
// bpf(2) is refused, through the same compiled programs and map printing.
//
// Memory is regions: the context, each call frame's 512-byte stack, map
// values and keys, ring buffer records. A pointer is a tagged value
// naming its region and offset, and every load, store and helper argument
// is checked against its region: an access outside is an *Error naming
// the instruction and its script position, never a Go panic. A run stops
// with ErrBudget after DefaultBudget instructions (Env.Budget). Helpers
// that need the kernel (stacks, tasks, signals) are refused when a
// program is built, with ErrUnsupported naming them.
//
// The engine takes programs as cilium/ebpf asm.Instructions, with map
// references by name (asm.LoadMapPtr and LoadMapValue with a Reference)
// and jumps and calls by symbol, as a CollectionSpec holds them; it
// decodes them as cilium/ebpf marshals them for the kernel, so both run
// the same bytes.
package engine
