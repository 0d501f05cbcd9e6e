package tracer

import (
	"time"

	"github.com/cilium/ebpf"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/probe"
)

// Backend is what executes a compiled script's programs and holds its
// maps and event stream: the kernel (Kernel), or an engine that runs the
// same programs in user space. A session asks nothing else of it, so both
// print the same output from the same records and map bytes.
type Backend interface {
	// Result is the compiled script the programs come from.
	Result() *compile.Result
	// Map returns a map by its BPF name (plan.Map.BPFName,
	// plan.StatsMap, a stack map's name), nil when the script has none.
	Map(name string) Map
	// Events opens the reader of the records the programs send through
	// plan.EventsMap. A session opens it once.
	Events() (EventReader, error)
	// Programs returns the programs of a kind, in script order.
	Programs(kind probe.Kind) []*compile.Program
	// Run runs every program of a kind (BEGIN, END) once, in script order.
	Run(kind probe.Kind) error
	// RunOnce runs p once and returns what it returned.
	RunOnce(p *compile.Program) (uint32, error)
	// Benchmark runs p over and over for about d and returns the mean
	// run time of one run.
	Benchmark(p *compile.Program, d time.Duration) (time.Duration, error)
	// Stop makes the event programs return at once, from now on, so that
	// what the maps hold no longer changes but through END.
	Stop() error
}

// Map is one of a script's maps, with keys and values in the layouts the
// plan gives them. Absent keys are reported by an error wrapping
// ErrKeyNotExist.
type Map interface {
	// Dump returns every element.
	Dump() ([]Element, error)
	// NextKey returns the key after key, or the first with a nil key; at
	// the end it returns an error.
	NextKey(key []byte) ([]byte, error)
	// Lookup returns the value of key in a map that is not per-CPU.
	Lookup(key []byte) ([]byte, error)
	// Update replaces the value of an existing key, with one value per
	// CPU for a per-CPU map, as many as Dump gives.
	Update(key []byte, values [][]byte) error
	// Delete removes key.
	Delete(key []byte) error
	// MaxEntries is how many keys the map holds at most.
	MaxEntries() uint32
}

// Element is one key of a map and its value: one per CPU for a per-CPU
// map, else one.
type Element struct {
	Key    []byte
	Values [][]byte
}

// ErrKeyNotExist is the error (wrapped or not) a Map returns for an absent
// key: the kernel's own, which the kernel's maps return as they are.
var ErrKeyNotExist = ebpf.ErrKeyNotExist

// EventReader reads the records of plan.EventsMap in the order they were
// sent.
type EventReader interface {
	// Read returns the next record, which stays valid until the next
	// Read; when none comes before the deadline, an error wrapping
	// os.ErrDeadlineExceeded.
	Read() ([]byte, error)
	// SetDeadline bounds how long Read waits: a zero time, for ever; a
	// time past, not at all.
	SetDeadline(t time.Time)
	// Close releases the reader.
	Close() error
}
