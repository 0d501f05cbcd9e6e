package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// Pointers are tagged values: the upper 32 bits name a region (hiCtx, a
// stack frame, a map value...), the lower 32 bits are the offset in it.
// Map handles and function pointers are tagged the same way but name no
// memory, so that dereferencing one is an error rather than a read.
// Tags start at tagBase, so that every tagged value is a non-canonical
// address on x86-64 and arm64: a real address that a recording carries
// (a user pointer in a tracepoint field) is never mistaken for one.
const (
	tagBase   = 0x4000_0000
	hiCtx     = 1
	hiStack   = 2 // frames 0..maxFrames-1
	hiMap     = hiStack + maxFrames
	hiFunc    = hiMap + 1
	hiStatic  = hiFunc + 1 // direct map values (LoadMapValue), then dynamic regions
	maxFrames = 8          // MAX_CALL_FRAMES
	stackSize = 512

	// DefaultBudget is the instructions a Run may execute when its Env
	// sets none: the verifier's bound on the instructions it explores.
	DefaultBudget = 1_000_000
)

// insn is an instruction decoded as the kernel receives it: the raw
// opcode, registers, offset and immediate, with lddw's 64-bit value already
// the tagged pointer of a map, map value or function, and jump and call
// targets turned into instruction indexes.
type insn struct {
	op       uint8
	dst, src uint8
	off      int16
	imm      int64
	target   int32
}

// Program is a BPF program ready to run in the engine. A Program runs one
// event at a time: Run is not safe for concurrent use, nor are the maps
// it shares with other programs.
type Program struct {
	insns  []insn
	orig   asm.Instructions
	maps   []*Map
	static int // regions before the dynamic ones: hiStatic + direct map values

	// run state
	regions []region
	dynBase uint64 // the tag of p.regions[p.static]
	regs    [maxFrames][11]uint64
	calls   []callFrame
	depth   int // the current frame
	left    int // instructions left in the budget
	env     *Env
	cur     int // index of the instruction running, for errors of helpers
	random  *rand.Rand
}

type callFrame struct {
	ret   int
	saved [4]uint64 // R6-R9
}

type region struct {
	buf      []byte
	readOnly bool
	what     string // for errors: "ctx", "stack", "ring buffer record"
	m        *Map   // the map of a value or key, for errors
	rec      *record
	ring     *ring
}

// Collection is the maps and programs of a CollectionSpec, as the engine
// runs them.
type Collection struct {
	Maps     map[string]*Map
	Programs map[string]*Program
}

// NewCollection builds spec's maps (ncpu CPUs for per-CPU ones) and
// programs. It refuses a program needing what the engine cannot provide
// (a helper such as bpf_get_stackid, a kfunc) with an *Error naming it at
// its source position, before building any map, so that a caller can tell
// the user which part of the script cannot run.
func NewCollection(spec *ebpf.CollectionSpec, ncpu int) (*Collection, error) {
	names := make([]string, 0, len(spec.Programs))
	for name := range spec.Programs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := Supported(spec.Programs[name].Instructions); err != nil {
			return nil, fmt.Errorf("program %s: %w", name, err)
		}
	}
	c := &Collection{Maps: map[string]*Map{}, Programs: map[string]*Program{}}
	for name, ms := range spec.Maps {
		m, err := NewMap(ms, ncpu)
		if err != nil {
			return nil, err
		}
		c.Maps[name] = m
	}
	for _, name := range names {
		p, err := NewProgram(spec.Programs[name].Instructions, c.Maps)
		if err != nil {
			return nil, fmt.Errorf("program %s: %w", name, err)
		}
		c.Programs[name] = p
	}
	return c, nil
}

// Supported returns an *Error wrapping ErrUnsupported for the first call
// in insns to a helper or kfunc that the engine does not provide.
func Supported(insns asm.Instructions) error {
	for i, ins := range insns {
		var err error
		switch {
		case ins.IsKfuncCall():
			err = fmt.Errorf("%w: kernel function calls (kfunc %d)", ErrUnsupported, ins.Constant)
		case ins.IsBuiltinCall() && !provided[asm.BuiltinFunc(ins.Constant)]:
			err = fmt.Errorf("%w: helper bpf_%s", ErrUnsupported, HelperName(asm.BuiltinFunc(ins.Constant)))
		}
		if err != nil {
			return &Error{Index: i, Insn: ins, Source: ins.Source(), Err: err}
		}
	}
	return nil
}

// NewProgram decodes insns, resolving jumps and calls to their symbols and
// map references (LoadMapPtr, LoadMapValue) to maps by name, as the
// kernel would see them after cilium/ebpf links and marshals them.
func NewProgram(insns asm.Instructions, maps map[string]*Map) (*Program, error) {
	if err := Supported(insns); err != nil {
		return nil, err
	}
	p := &Program{orig: insns, regions: make([]region, hiStatic)}
	fail := func(i int, format string, args ...any) error {
		return &Error{Index: i, Insn: insns[i], Source: insns[i].Source(), Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)}
	}
	// raw[s] is the index of the instruction at raw slot s, -1 inside a
	// 64-bit load.
	var raw []int32
	symbols := map[string]int{}
	for i, ins := range insns {
		if s := ins.Symbol(); s != "" {
			symbols[s] = len(raw)
		}
		raw = append(raw, int32(i))
		if ins.OpCode.IsDWordLoad() {
			raw = append(raw, -1)
		}
	}
	mapIndex := map[*Map]int64{}
	var buf bytes.Buffer
	slot := 0
	for i, ins := range insns {
		if ref := ins.Reference(); ref != "" {
			if to, ok := symbols[ref]; ok {
				switch {
				case (ins.IsFunctionReference() && ins.Constant == -1) || (ins.OpCode == asm.OpCode(asm.Jump32Class).SetJumpOp(asm.Ja) && ins.Constant == -1):
					ins.Constant = int64(to - slot - 1)
				case ins.OpCode.Class().IsJump() && ins.Offset == -1:
					ins.Offset = int16(to - slot - 1)
				}
			}
		}
		buf.Reset()
		if _, err := ins.Marshal(&buf, binary.LittleEndian); err != nil {
			return nil, fail(i, "%v", err)
		}
		b := buf.Bytes()
		d := insn{
			op: b[0], dst: b[1] & 0xf, src: b[1] >> 4,
			off: int16(binary.LittleEndian.Uint16(b[2:])),
			imm: int64(int32(binary.LittleEndian.Uint32(b[4:]))),
		}
		if d.dst > 10 || d.src > 10 {
			return nil, fail(i, "register out of range")
		}
		jumpTo := func(rel int64) error {
			t := int64(slot) + 1 + rel
			if t < 0 || t >= int64(len(raw)) || raw[t] < 0 {
				return fail(i, "jump to raw instruction %d, outside the program", t)
			}
			d.target = raw[t]
			return nil
		}
		switch class := d.op & 7; {
		case d.op == 0x18:
			d.imm = int64(uint64(uint32(d.imm)) | uint64(binary.LittleEndian.Uint32(b[12:]))<<32)
			switch ins.Src {
			case 0:
			case asm.PseudoMapFD, asm.PseudoMapValue:
				m := maps[ins.Reference()]
				if m == nil {
					return nil, fail(i, "no map %q", ins.Reference())
				}
				if ins.Src == asm.PseudoMapFD {
					idx, ok := mapIndex[m]
					if !ok {
						idx = int64(len(p.maps))
						mapIndex[m] = idx
						p.maps = append(p.maps, m)
					}
					d.imm = (tagBase+hiMap)<<32 | idx
					break
				}
				if m.typ != ebpf.Array {
					return nil, fail(i, "direct value access to %s, which is not an array", m.name)
				}
				off := uint64(d.imm) >> 32
				d.imm = int64(uint64(tagBase+len(p.regions))<<32 | off)
				p.regions = append(p.regions, region{buf: m.arrayValue(0, 0), what: "value", m: m})
			case asm.PseudoFunc:
				if err := jumpTo(int64(int32(d.imm))); err != nil {
					return nil, err
				}
				d.imm = (tagBase+hiFunc)<<32 | int64(d.target)
			default:
				return nil, fail(i, "64-bit load of pseudo source %d", ins.Src)
			}
		case d.op == 0x85: // call
			switch d.src {
			case 0:
			case 1:
				if err := jumpTo(d.imm); err != nil {
					return nil, err
				}
			default:
				return nil, fail(i, "call of kind %d", d.src)
			}
		case d.op == 0x06: // gotol
			if err := jumpTo(d.imm); err != nil {
				return nil, err
			}
		case class == 5 || class == 6:
			if !validJump(d.op) {
				return nil, fail(i, "unknown jump opcode %#x", d.op)
			}
			if d.op != 0x95 {
				if err := jumpTo(int64(d.off)); err != nil {
					return nil, err
				}
			}
		case class == 4 || class == 7:
			if !validALU(d) {
				return nil, fail(i, "unknown ALU opcode %#x (offset %d, immediate %d)", d.op, d.off, d.imm)
			}
		case class == 1 || class == 2 || class == 3:
			if !validMem(d) {
				return nil, fail(i, "unknown load or store opcode %#x (immediate %#x)", d.op, d.imm)
			}
		default:
			return nil, fail(i, "unknown opcode %#x", d.op)
		}
		p.insns = append(p.insns, d)
		slot += len(b) / asm.InstructionSize
	}
	if len(p.insns) == 0 {
		return nil, fmt.Errorf("%w: no instructions", ErrInvalid)
	}
	// As the verifier demands, so that execution never runs off the end.
	if last := p.insns[len(p.insns)-1].op; last != 0x95 && last != 0x05 && last != 0x06 {
		return nil, fail(len(insns)-1, "the last instruction is neither an exit nor a jump")
	}
	p.static = len(p.regions)
	p.dynBase = uint64(p.static)
	p.regions[hiCtx] = region{readOnly: true, what: "ctx"}
	for f := range maxFrames {
		p.regions[hiStack+f] = region{buf: make([]byte, stackSize), what: "stack"}
	}
	return p, nil
}

func validJump(op uint8) bool {
	switch op & 0xf0 {
	case 0x00: // ja
		return op == 0x05
	case 0x80: // call
		return op == 0x85
	case 0x90: // exit
		return op == 0x95
	case 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0:
		return true
	}
	return false
}

func validALU(d insn) bool {
	alu64 := d.op&7 == 7
	switch d.op & 0xf0 {
	case 0x30, 0x90: // div, mod: off 1 is signed
		return d.off == 0 || d.off == 1
	case 0xb0: // mov, movsx
		return d.off == 0 || d.off == 8 || d.off == 16 || d.off == 32 && alu64
	case 0xd0: // end (ALU), bswap (ALU64, from the immediate only)
		return d.off == 0 && (d.imm == 16 || d.imm == 32 || d.imm == 64) && (!alu64 || d.op&8 == 0)
	case 0x80: // neg
		return d.off == 0 && d.op&8 == 0
	case 0x00, 0x10, 0x20, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xc0:
		return d.off == 0
	}
	return false
}

// Atomic operations, in the immediate of an atomic store.
const (
	atomicFetch   = 0x01
	atomicXchg    = 0xe0 | atomicFetch
	atomicCmpXchg = 0xf0 | atomicFetch
	loadAcquire   = 0x100
	storeRelease  = 0x110
)

func validMem(d insn) bool {
	mode, class := d.op&0xe0, d.op&7
	switch {
	case class == 1:
		return mode == 0x60 || mode == 0x80 && d.op&0x18 != 0x18
	case class == 2 || mode == 0x60:
		return mode == 0x60
	case mode != 0xc0:
		return false
	case d.imm == loadAcquire || d.imm == storeRelease:
		return true
	}
	if d.op&0x18 != 0x00 && d.op&0x18 != 0x18 { // only words and double words
		return false
	}
	switch d.imm &^ atomicFetch {
	case 0x00, 0x40, 0x50, 0xa0:
		return true
	}
	return d.imm == atomicXchg || d.imm == atomicCmpXchg
}
