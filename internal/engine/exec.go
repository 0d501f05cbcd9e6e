package engine

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Run runs the program once on ctx (the context the kernel would pass: a
// tracepoint's raw record, for one) and returns r0. A failure is an *Error
// naming the instruction; the maps keep what the program did before it.
func (p *Program) Run(ctx []byte, env *Env) (uint64, error) {
	if env == nil {
		env = &Env{}
	}
	p.env = env
	p.left = env.Budget
	if p.left == 0 {
		p.left = DefaultBudget
	}
	// Tags of this run's regions follow the last run's, so that a
	// pointer kept from an earlier run is stale rather than valid.
	p.dynBase += uint64(len(p.regions) - p.static)
	if p.dynBase > 1<<29 {
		p.dynBase = uint64(p.static)
	}
	p.regions = p.regions[:p.static]
	p.regions[hiCtx].buf = ctx
	p.calls = p.calls[:0]
	p.depth = 0
	clear(p.regions[hiStack].buf)
	r := &p.regs[0]
	*r = [11]uint64{1: pointer(hiCtx, 0), 10: pointer(hiStack, stackSize)}
	r0, err := p.exec(0, r)
	if err == nil {
		for _, reg := range p.regions[p.static:] {
			if reg.rec != nil && reg.rec.busy {
				reg.rec.busy = false
				reg.rec.discarded = true
				err = fmt.Errorf("%w: a ring buffer record was reserved and never submitted", ErrInvalid)
			}
		}
	}
	return r0, err
}

// fail returns an *Error for the instruction at i.
func (p *Program) fail(i int, err error) error {
	return &Error{Index: i, Insn: p.orig[i], Source: p.orig[i].Source(), Err: err}
}

// exec runs from pc in the current frame with registers r until that
// frame exits, and returns r0. Calls to BPF functions push frames onto
// p.calls and reuse r, saving R6-R9; callbacks recurse with their own r.
func (p *Program) exec(pc int, r *[11]uint64) (uint64, error) {
	base := len(p.calls)
	insns := p.insns
	for {
		if p.left--; p.left < 0 {
			return 0, p.fail(pc, fmt.Errorf("%w: more than %d instructions", ErrBudget, p.budget()))
		}
		in := &insns[pc]
		pc++
		switch in.op & 7 {
		case 7: // ALU64
			s := uint64(in.imm)
			if in.op&8 != 0 {
				s = r[in.src]
			}
			r[in.dst] = alu64(in, r[in.dst], s)
		case 4: // ALU
			s := uint64(in.imm)
			if in.op&8 != 0 {
				s = r[in.src]
			}
			r[in.dst] = alu32(in, r[in.dst], s)
		case 5, 6:
			switch in.op {
			case 0x05, 0x06: // ja, gotol
				pc = int(in.target)
				continue
			case 0x85:
				if in.src == 1 {
					if p.depth+1 >= maxFrames {
						return 0, p.fail(pc-1, fmt.Errorf("%w: calls nest deeper than %d frames", ErrInvalid, maxFrames))
					}
					p.calls = append(p.calls, callFrame{ret: pc, saved: [4]uint64{r[6], r[7], r[8], r[9]}})
					r[10] = p.enter()
					pc = int(in.target)
					continue
				}
				p.cur = pc - 1
				v, err := p.helper(in.imm, r)
				if err != nil {
					return 0, err
				}
				r[0] = v
				continue
			case 0x95:
				if len(p.calls) == base {
					return r[0], nil
				}
				f := p.calls[len(p.calls)-1]
				p.calls = p.calls[:len(p.calls)-1]
				p.depth--
				r[6], r[7], r[8], r[9] = f.saved[0], f.saved[1], f.saved[2], f.saved[3]
				r[10] = pointer(hiStack+p.depth, stackSize)
				pc = f.ret
				continue
			}
			s := uint64(in.imm)
			if in.op&8 != 0 {
				s = r[in.src]
			}
			if jump(in.op, r[in.dst], s) {
				pc = int(in.target)
			}
		case 1: // LDX
			size := sizeOf(in.op)
			b, err := p.access(r[in.src]+uint64(int64(in.off)), size, false)
			if err != nil {
				return 0, p.fail(pc-1, err)
			}
			v := load(b)
			if in.op&0xe0 == 0x80 {
				v = signExtend(v, size)
			}
			r[in.dst] = v
		case 2: // ST
			b, err := p.access(r[in.dst]+uint64(int64(in.off)), sizeOf(in.op), true)
			if err != nil {
				return 0, p.fail(pc-1, err)
			}
			store(b, uint64(in.imm))
		case 3: // STX
			if in.op&0xe0 == 0xc0 {
				if err := p.atomic(in, r); err != nil {
					return 0, p.fail(pc-1, err)
				}
				continue
			}
			b, err := p.access(r[in.dst]+uint64(int64(in.off)), sizeOf(in.op), true)
			if err != nil {
				return 0, p.fail(pc-1, err)
			}
			store(b, r[in.src])
		case 0: // lddw: decoding validated it
			r[in.dst] = uint64(in.imm)
		}
	}
}

func (p *Program) budget() int {
	if p.env.Budget != 0 {
		return p.env.Budget
	}
	return DefaultBudget
}

// enter opens a new, zeroed stack frame and returns its R10.
func (p *Program) enter() uint64 {
	p.depth++
	clear(p.regions[hiStack+p.depth].buf)
	return pointer(hiStack+p.depth, stackSize)
}

// pointer returns the address of off in the region with tag hi.
func pointer(hi int, off uint32) uint64 { return uint64(tagBase+hi)<<32 | uint64(off) }

// call runs the BPF function at pc (a callback) in a new frame with
// arguments args and returns its r0.
func (p *Program) call(pc int, args ...uint64) (uint64, error) {
	if p.depth+1 >= maxFrames {
		return 0, fmt.Errorf("%w: calls nest deeper than %d frames", ErrInvalid, maxFrames)
	}
	r10 := p.enter()
	defer func() { p.depth-- }()
	r := &p.regs[p.depth]
	*r = [11]uint64{10: r10}
	copy(r[1:], args)
	return p.exec(pc, r)
}

// region returns the region a pointer's tag names, or nil.
func (p *Program) region(addr uint64) *region {
	hi := addr>>32 - tagBase
	if hi < uint64(p.static) {
		return &p.regions[hi]
	}
	if hi < p.dynBase {
		return nil
	}
	i := hi - p.dynBase + uint64(p.static)
	if i >= uint64(len(p.regions)) {
		return nil
	}
	return &p.regions[i]
}

// access returns the size bytes at addr, an error when they are not all
// inside one region, or when writing to a read-only one.
func (p *Program) access(addr uint64, size int, write bool) ([]byte, error) {
	reg := p.region(addr)
	off := uint64(uint32(addr))
	if reg == nil || reg.buf == nil || off+uint64(size) > uint64(len(reg.buf)) {
		return nil, p.badAccess(addr, size, write)
	}
	if write && reg.readOnly {
		return nil, fmt.Errorf("%w: write of %d bytes to read-only %s", ErrMemory, size, reg.what)
	}
	return reg.buf[off : off+uint64(size)], nil
}

func (p *Program) badAccess(addr uint64, size int, write bool) error {
	verb := "read"
	if write {
		verb = "write"
	}
	// A pointer moved below its region's start has borrowed from its
	// tag: name the region by the nearest tag, regions being under 2 GiB.
	hi := (addr+1<<31)>>32 - tagBase
	reg := p.region(addr + 1<<31)
	off := int64(addr - (tagBase+hi)<<32)
	switch {
	case reg == nil:
		return fmt.Errorf("%w: %s of %d bytes at %#x, not a pointer of this run", ErrMemory, verb, size, addr)
	case hi == hiMap, hi == hiFunc, hi == 0:
		return fmt.Errorf("%w: %s of %d bytes through a map or function handle", ErrMemory, verb, size)
	case hi >= hiStack && hi < hiStack+maxFrames:
		return fmt.Errorf("%w: %s of %d bytes at stack offset %d, outside its %d bytes", ErrMemory, verb, size, off-stackSize, stackSize)
	}
	what := reg.what
	if reg.m != nil {
		what += " of map " + reg.m.name
	}
	return fmt.Errorf("%w: %s of %d bytes at offset %d of the %s, outside its %d bytes", ErrMemory, verb, size, off, what, len(reg.buf))
}

// addRegion makes buf addressable for the rest of the run and returns its
// address.
func (p *Program) addRegion(reg region) uint64 {
	p.regions = append(p.regions, reg)
	return (tagBase + p.dynBase + uint64(len(p.regions)-1-p.static)) << 32
}

func sizeOf(op uint8) int {
	switch op & 0x18 {
	case 0x00:
		return 4
	case 0x08:
		return 2
	case 0x10:
		return 1
	}
	return 8
}

func load(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

func store(b []byte, v uint64) {
	switch len(b) {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	default:
		binary.LittleEndian.PutUint64(b, v)
	}
}

func signExtend(v uint64, size int) uint64 {
	switch size {
	case 1:
		return uint64(int64(int8(v)))
	case 2:
		return uint64(int64(int16(v)))
	case 4:
		return uint64(int64(int32(v)))
	}
	return v
}

// atomic runs an atomic store: read-modify-write, exchange, compare and
// exchange, load-acquire or store-release.
func (p *Program) atomic(in *insn, r *[11]uint64) error {
	size := sizeOf(in.op)
	if in.imm == loadAcquire {
		b, err := p.access(r[in.src]+uint64(int64(in.off)), size, false)
		if err != nil {
			return err
		}
		r[in.dst] = load(b)
		return nil
	}
	b, err := p.access(r[in.dst]+uint64(int64(in.off)), size, true)
	if err != nil {
		return err
	}
	if in.imm == storeRelease {
		store(b, r[in.src])
		return nil
	}
	old, s := load(b), r[in.src]
	mask := ^uint64(0)
	if size == 4 {
		mask = 0xffffffff
	}
	switch in.imm {
	case atomicXchg:
		store(b, s)
		r[in.src] = old
		return nil
	case atomicCmpXchg:
		if old == r[0]&mask {
			store(b, s)
		}
		r[0] = old
		return nil
	}
	var v uint64
	switch in.imm &^ atomicFetch {
	case 0x00:
		v = old + s
	case 0x40:
		v = old | s
	case 0x50:
		v = old & s
	case 0xa0:
		v = old ^ s
	}
	store(b, v)
	if in.imm&atomicFetch != 0 {
		r[in.src] = old
	}
	return nil
}

// alu64 returns the result of a 64-bit ALU instruction on d and s (the
// source register, or the immediate sign-extended). Division by zero gives
// 0 and modulo by zero leaves d, as the kernel defines them.
func alu64(in *insn, d, s uint64) uint64 {
	switch in.op & 0xf0 {
	case 0x00:
		return d + s
	case 0x10:
		return d - s
	case 0x20:
		return d * s
	case 0x30:
		switch {
		case s == 0:
			return 0
		case in.off == 1:
			return uint64(int64(d) / int64(s))
		}
		return d / s
	case 0x40:
		return d | s
	case 0x50:
		return d & s
	case 0x60:
		return d << (s & 63)
	case 0x70:
		return d >> (s & 63)
	case 0x80:
		return -d
	case 0x90:
		switch {
		case s == 0:
			return d
		case in.off == 1:
			return uint64(int64(d) % int64(s))
		}
		return d % s
	case 0xa0:
		return d ^ s
	case 0xb0:
		switch in.off {
		case 8:
			return uint64(int64(int8(s)))
		case 16:
			return uint64(int64(int16(s)))
		case 32:
			return uint64(int64(int32(s)))
		}
		return s
	case 0xc0:
		return uint64(int64(d) >> (s & 63))
	}
	return bswap(d, in.imm) // 0xd0: bswap, always
}

func bswap(d uint64, width int64) uint64 {
	switch width {
	case 16:
		return uint64(bits.ReverseBytes16(uint16(d)))
	case 32:
		return uint64(bits.ReverseBytes32(uint32(d)))
	}
	return bits.ReverseBytes64(d)
}

// alu32 returns the result of a 32-bit ALU instruction, zero-extended.
func alu32(in *insn, d64, s64 uint64) uint64 {
	d, s := uint32(d64), uint32(s64)
	var v uint32
	switch in.op & 0xf0 {
	case 0x00:
		v = d + s
	case 0x10:
		v = d - s
	case 0x20:
		v = d * s
	case 0x30:
		switch {
		case s == 0:
			v = 0
		case in.off == 1:
			v = uint32(int32(d) / int32(s))
		default:
			v = d / s
		}
	case 0x40:
		v = d | s
	case 0x50:
		v = d & s
	case 0x60:
		v = d << (s & 31)
	case 0x70:
		v = d >> (s & 31)
	case 0x80:
		v = -d
	case 0x90:
		switch {
		case s == 0:
			v = d
		case in.off == 1:
			v = uint32(int32(d) % int32(s))
		default:
			v = d % s
		}
	case 0xa0:
		v = d ^ s
	case 0xb0:
		switch in.off {
		case 8:
			v = uint32(int32(int8(s)))
		case 16:
			v = uint32(int32(int16(s)))
		default:
			v = s
		}
	case 0xc0:
		v = uint32(int32(d) >> (s & 31))
	case 0xd0: // byte order: to little endian truncates on this host
		if in.op&8 != 0 {
			return bswap(d64, in.imm)
		}
		switch in.imm {
		case 16:
			return d64 & 0xffff
		case 32:
			return d64 & 0xffffffff
		}
		return d64
	}
	return uint64(v)
}

// jump reports whether a conditional jump is taken; JMP32 compares the
// lower halves.
func jump(op uint8, d, s uint64) bool {
	if op&7 == 6 {
		d, s = uint64(uint32(d)), uint64(uint32(s))
		if c := op & 0xf0; c == 0x60 || c == 0x70 || c == 0xc0 || c == 0xd0 {
			d, s = uint64(int64(int32(d))), uint64(int64(int32(s)))
		}
	}
	switch op & 0xf0 {
	case 0x10:
		return d == s
	case 0x20:
		return d > s
	case 0x30:
		return d >= s
	case 0x40:
		return d&s != 0
	case 0x50:
		return d != s
	case 0x60:
		return int64(d) > int64(s)
	case 0x70:
		return int64(d) >= int64(s)
	case 0xa0:
		return d < s
	case 0xb0:
		return d <= s
	case 0xc0:
		return int64(d) < int64(s)
	}
	return int64(d) <= int64(s) // 0xd0
}
