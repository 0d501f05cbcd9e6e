// Package plan owns resources: it turns checked Info into plain data that
// codegen and the runtime share. Every BPF map gets its kernel name and
// byte layout here, every printf/exit/print/clear/zero site its event ID and
// record layout. IDs are assigned in one place, in a deterministic order,
// and the plan can be dumped as JSON (-d plan).
package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/ebtrace/ebtrace/internal/check"
	"github.com/ebtrace/ebtrace/internal/funcs"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/printf"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// Names of the maps every program shares.
const (
	EventsMap = "ebtrace_events" // ring buffer carrying events to user space
	StatsMap  = "ebtrace_stats"  // one element of u64 counters: lost events, failed map updates
	ConfigMap = "ebtrace_config" // values fixed at load time (cpid, start time)
	// ScratchMap is a per-CPU array holding the frame of each probe that
	// needs more than the BPF stack (see codegen.ScratchSize).
	ScratchMap = "ebtrace_scratch"
)

// Config layout: offsets of the values in ConfigMap's only element.
const (
	ConfigCpid    = 0
	ConfigStartNs = 8
	ConfigStopped = 16 // non-zero once tracing ends: event programs return at once
	// ConfigTAIOffset is CLOCK_TAI minus CLOCK_BOOTTIME when tracing
	// started: nsecs(sw_tai) adds it to the boot clock.
	ConfigTAIOffset = 24
	ConfigSize      = 32
)

// StatsMap counters: events the ring buffer refused, stacks the kernel
// could not record; each script map's failed updates follow.
const (
	StatLost   = 0
	StatStacks = 1
	statMaps   = 2
)

// EventHeader is the size of the event ID that starts every record.
const EventHeader = 8

// Plan is every resource a compiled script needs.
type Plan struct {
	Maps       []*Map
	Events     []*Event
	RingSize   uint32 // bytes; a power of two multiple of the page size
	WakeupSize uint32 // the program forces a wakeup once this much is queued
	MaxEntries uint32
	Stacks     []*StackMap
	// StackBuffer is the size of the per-CPU StackBufferMap value, 0
	// when no code needs it.
	StackBuffer int `json:",omitempty"`
	// SlotStride is the size of each CPU's count slots in SlotsMap, 0
	// when no map has one; SlotCPUs is how many CPUs have them.
	SlotStride int `json:",omitempty"`
	SlotCPUs   int `json:",omitempty"`
	// Sites maps (instance index, call) to the event ID of that call.
	Sites  map[Site]int `json:"-"`
	byName map[string]*Map
}

// StackMap is a stack trace map holding every kstack or every ustack of one
// depth, by the id bpf_get_stackid returns.
type StackMap struct {
	Name  string
	User  bool
	Depth int
}

// StackMap returns the stack map of a kstack or ustack type.
func (p *Plan) StackMap(t types.Type) *StackMap {
	for _, s := range p.Stacks {
		if s.User == (t.AddrSpace == types.User) && s.Depth == t.StackDepth {
			return s
		}
	}
	return nil
}

// StatCount is the number of StatsMap counters.
func (p *Plan) StatCount() int { return statMaps + len(p.Maps) }

// Site is a call in one probe instance.
type Site struct {
	Instance int
	Call     *syntax.CallExpr
}

// Map is one script map as stored in the kernel.
type Map struct {
	Name    string // script name without @
	BPFName string // kernel object name (at most 15 bytes)
	Stat    int    // StatsMap index counting failed updates
	Kind    output.Kind
	Type    string // "hash", "percpu_hash", "lru_hash" or "lru_percpu_hash"
	// MaxEntries is the most keys it holds: the script's declaration
	// (let @m = hash(100)), or the plan's default.
	MaxEntries uint32
	Keyed      bool
	Keys       []Part // layout of the script-visible key
	KeySize    int    // bytes, bucket included for histograms
	ValueSize  int
	ValueType  types.Type // Scalar and String maps

	LMin, LMax, LStep int64
	Bits              int                `json:",omitempty"` // hist(x, Bits)
	TS                output.TSeriesSpec `json:",omitzero"`
	// Slotted maps have a count slot on each CPU, at Slot in the CPU's
	// part of SlotsMap (see slots.go).
	Slotted bool `json:",omitempty"`
	Slot    int  `json:",omitempty"`
}

// TSeries value layout: the interval's value, what its aggregation keeps
// beside it (the count of values for avg, the time of the last value
// without an aggregation), and the interval's number (the time divided by
// the interval; 0 for a slot never written).
const (
	TSeriesValue = 0
	TSeriesMeta  = 8
	TSeriesEpoch = 16
	TSeriesSize  = 24
)

// MapType returns the kernel map type.
func (m *Map) MapType() ebpf.MapType {
	switch m.Type {
	case "percpu_hash":
		return ebpf.PerCPUHash
	case "lru_hash":
		return ebpf.LRUHash
	case "lru_percpu_hash":
		return ebpf.LRUCPUHash
	}
	return ebpf.Hash
}

// PerCPU reports whether the map keeps a value per CPU for each key.
func (m *Map) PerCPU() bool { return m.Type == "percpu_hash" || m.Type == "lru_percpu_hash" }

// Part is one piece of a record: an integer (8 bytes) or a string buffer.
type Part struct {
	Offset int
	Type   types.Type
}

// EventKind is what an event record asks user space to do.
type EventKind string

const (
	Printf EventKind = "printf"
	Exit   EventKind = "exit"
	Print  EventKind = "print"
	Clear  EventKind = "clear"
	Zero   EventKind = "zero"
	Join   EventKind = "join"
	// Heatmap draws a hist() map as heatmap rows (heatmap()).
	Heatmap EventKind = "heatmap"
)

// The events of the functions that reach user space with a formatted
// message; their layouts are in sysevents.go.
const (
	Errorf      EventKind = "errorf"
	Assert      EventKind = "assert" // an errorf, then exit(1)
	Warnf       EventKind = "warnf"
	System      EventKind = "system"
	Cat         EventKind = "cat"
	Time        EventKind = "time"
	HelperError EventKind = "helper_error"
)

// PrintValue is print() of a value rather than a map: Args holds it.
const PrintValue EventKind = "value"

// Event is one event-producing site.
type Event struct {
	ID     int
	Kind   EventKind
	Format string `json:",omitempty"` // printf
	// Printf is Format as check parsed it, for rendering records.
	Printf *printf.Format `json:"-"`
	Args   []Part         `json:",omitempty"` // printf arguments after the header
	Size   int            // record size in bytes
	Map    string         `json:",omitempty"` // print, clear, zero: the map's name
	// Top and Div, for print(@map, TOP, DIV): print only the TOP greatest
	// entries (all when 0), their values divided by DIV (when not 0).
	Top, Div int64  `json:",omitempty"`
	Sep      string `json:",omitempty"` // join: the separator
	// Text, for heatmap(), shades cells in text instead of ANSI greys.
	Text bool `json:",omitempty"`
	// Where, for errorf and warnf, is the call's position as messages
	// show it: "FILE:LINE:COL-COL".
	Where string `json:",omitempty"`
}

// Map returns the map named name (without @).
func (p *Plan) Map(name string) *Map { return p.byName[name] }

// Options tune resource sizes.
type Options struct {
	RingSize   uint32
	MaxEntries uint32
	// HelperErrors reports failed probe reads and map updates at run
	// time (-k): one HelperError event serves every site.
	HelperErrors bool
	// CountSlots gives the maps that may have them count slots (see
	// slots.go), for programs in a kernel that runs FlushProgram on a
	// chosen CPU.
	CountSlots bool
}

// DefaultOptions are bpftrace-like defaults.
var DefaultOptions = Options{RingSize: 1 << 20, MaxEntries: 4096}

// New plans info's resources.
func New(info *check.Info, opts Options) *Plan {
	p := &Plan{
		RingSize:   opts.RingSize,
		MaxEntries: opts.MaxEntries,
		Sites:      map[Site]int{},
		byName:     map[string]*Map{},
	}
	for i, name := range info.MapNames() {
		p.addMap(i, info.Maps[name], opts.MaxEntries)
	}
	if opts.CountSlots {
		p.planSlots(info)
	}
	for _, in := range info.Instances {
		for _, t := range in.Types {
			if t.Kind == types.Stack && p.StackMap(t) == nil {
				p.addStackMap(t)
			}
		}
	}
	slices.SortFunc(p.Stacks, func(a, b *StackMap) int { return strings.Compare(a.Name, b.Name) })
	p.StackBuffer = stackBufferSize(info)
	if opts.HelperErrors {
		p.Events = append(p.Events, &Event{ID: len(p.Events), Kind: HelperError, Size: HelperErrorSize})
	}
	for idx, in := range info.Instances {
		syntax.Inspect(in.Probe.Body, func(n syntax.Node) bool {
			if call, ok := n.(*syntax.CallExpr); ok {
				p.addEvent(info, idx, in, call)
			}
			return true
		})
	}
	p.fitRing()
	return p
}

// ringRecordHeader is what the kernel adds to each ring buffer record.
const ringRecordHeader = 8

// fitRing grows the ring buffer, by doubling (it stays a power of two
// pages), until it holds two of the largest record, such as a join()'s
// 16 KB: perf_rb_pages = 1 would otherwise lose every one.
func (p *Plan) fitRing() {
	largest := 0
	for _, ev := range p.Events {
		largest = max(largest, ev.Size+ringRecordHeader)
	}
	for p.RingSize > 0 && int(p.RingSize) < 2*largest {
		p.RingSize *= 2
	}
	p.WakeupSize = p.RingSize / 4
}

func (p *Plan) addStackMap(t types.Type) {
	s := &StackMap{User: t.AddrSpace == types.User, Depth: t.StackDepth}
	space := 'k'
	if s.User {
		space = 'u'
	}
	s.Name = fmt.Sprintf("ebtrace_%cs%d", space, s.Depth)
	p.Stacks = append(p.Stacks, s)
}

func (p *Plan) addMap(i int, cm *check.Map, maxEntries uint32) {
	m := &Map{
		Name: cm.Name, Stat: statMaps + i, Kind: cm.Kind, Keyed: cm.Keyed, ValueType: cm.Value,
		LMin: cm.LMin, LMax: cm.LMax, LStep: cm.LStep, Bits: cm.Bits, TS: cm.TS, Type: "hash", MaxEntries: maxEntries,
	}
	m.BPFName = fmt.Sprintf("m%d_%s", i, cm.Name)
	if len(m.BPFName) > 15 {
		m.BPFName = m.BPFName[:15]
	}
	off := 0
	for _, k := range cm.Keys {
		m.Keys = append(m.Keys, Part{Offset: off, Type: k})
		off += PartSize(k)
	}
	if off == 0 {
		off = 8 // an unkeyed map has the single key 0
	}
	if cm.Kind.Bucketed() {
		off += 8 // bucket or interval index
	}
	m.KeySize = off
	switch cm.Kind {
	case output.Scalar:
		m.ValueSize = 8
	case output.String:
		m.ValueSize = PartSize(cm.Value)
	case output.Min, output.Max, output.Avg, output.Stats:
		m.ValueSize = 16 // value and "set" flag, or count and total
		m.Type = "percpu_hash"
	case output.TSeries:
		m.ValueSize = TSeriesSize
		m.Type = "percpu_hash"
	default:
		m.ValueSize = 8
		m.Type = "percpu_hash"
	}
	if !cm.Keyed && !cm.Kind.Bucketed() {
		// The single key 0: room for more would only be preallocated,
		// which for a thousand maps costs seconds of map creation.
		m.MaxEntries = 1
	}
	if d := cm.Decl; d != nil {
		m.MaxEntries = uint32(d.Max)
		switch d.Kind {
		case "lruhash", "percpulruhash":
			m.Type = "lru_" + m.Type
		}
	}
	p.Maps = append(p.Maps, m)
	p.byName[m.Name] = m
}

// PartSize is the room a value of type t takes in a key, a map value, an
// event record or a stack slot: its types.SlotSize, and a buffer's length
// before its bytes.
func PartSize(t types.Type) int {
	if t.Kind == types.Buf {
		return 8 + types.SlotSize(t)
	}
	return types.SlotSize(t)
}

func (p *Plan) addEvent(info *check.Info, idx int, in *check.Instance, call *syntax.CallExpr) {
	ev := &Event{ID: len(p.Events), Size: EventHeader}
	switch call.Fun {
	case "printf", "errorf", "warnf", "system", "cat":
		f, ok := info.Printfs[call]
		if !ok {
			return
		}
		ev.Kind, ev.Printf = printfKinds[call.Fun], f
		if ev.Kind == Errorf || ev.Kind == Warnf {
			ev.Where = Where(info.Program.File, call.Sp)
		}
		ev.Format = call.Args[0].(*syntax.StringLit).Value
		for _, a := range call.Args[1:] {
			t := in.Types[a]
			if t.Kind == types.Ptr {
				t = types.UInt64
			}
			ev.Args = append(ev.Args, Part{Offset: ev.Size, Type: t})
			ev.Size += PartSize(t)
		}
	case "time":
		ev.Kind, ev.Format = Time, funcs.DefaultTimeFormat
		if len(call.Args) == 1 {
			ev.Format = call.Args[0].(*syntax.StringLit).Value
		}
	case "assert":
		f, ok := info.Printfs[call]
		if !ok {
			return
		}
		ev.Kind, ev.Printf, ev.Format = Assert, f, check.AssertFormat
		ev.Where = Where(info.Program.File, call.Sp)
		ev.Args = []Part{{Offset: ev.Size, Type: in.Types[call.Args[1]]}}
		ev.Size += PartSize(in.Types[call.Args[1]])
	case "exit":
		ev.Kind = Exit
		if len(call.Args) == 1 {
			ev.Args = []Part{{Offset: ev.Size, Type: types.Int64}}
			ev.Size += 8
		}
	case "print", "clear", "zero":
		if m, ok := call.Args[0].(*syntax.MapExpr); call.Fun == "print" && (!ok || m.Keys != nil) {
			t := in.Types[call.Args[0]] // a pointer prints in hex
			ev.Kind = PrintValue
			ev.Args = []Part{{Offset: ev.Size, Type: t}}
			ev.Size += PartSize(t)
			break
		}
		ev.Kind = EventKind(call.Fun)
		ev.Map = call.Args[0].(*syntax.MapExpr).Name
		if len(call.Args) > 1 {
			ev.Top = int64(call.Args[1].(*syntax.IntLit).Value)
		}
		if len(call.Args) > 2 {
			ev.Div = int64(call.Args[2].(*syntax.IntLit).Value)
		}
	case "join":
		joinEvent(ev, call)
	case "heatmap":
		ev.Kind, ev.Map = Heatmap, call.Args[0].(*syntax.MapExpr).Name
		ev.Text = len(call.Args) == 2 && in.Consts[call.Args[1]] != 0
	default:
		return
	}
	p.Events = append(p.Events, ev)
	p.Sites[Site{idx, call}] = ev.ID
}
