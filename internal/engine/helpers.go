package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"

	"github.com/cilium/ebpf/asm"
)

// Env is what the helpers of one run see of the task and machine an event
// happened on.
type Env struct {
	CPU       int    // bpf_get_smp_processor_id; the per-CPU maps' slot
	TGID, PID uint32 // process and thread ids (bpf_get_current_pid_tgid)
	UID, GID  uint32
	Comm      [16]byte // the thread's name, NUL-padded
	CgroupID  uint64
	Ktime     uint64 // bpf_ktime_get_ns: CLOCK_MONOTONIC in ns
	BootTime  uint64 // bpf_ktime_get_boot_ns: CLOCK_BOOTTIME in ns
	TAI       uint64 // bpf_ktime_get_tai_ns: CLOCK_TAI in ns
	Jiffies   uint64
	// Random is bpf_get_prandom_u32's source; nil for a fixed-seed one,
	// so that runs repeat.
	Random func() uint32
	// ReadMemory, when set, reads memory outside the engine's regions
	// for bpf_probe_read_*; without it (replay has no kernel or process
	// memory) those reads fail with -EFAULT, as a fault does in the kernel.
	ReadMemory func(dst []byte, addr uint64, user bool) error
	// Printk receives each line of bpf_trace_printk and bpf_trace_vprintk.
	Printk func(line string)
	// Budget is the most instructions a run executes; 0 for DefaultBudget.
	Budget int
}

// provided holds the helpers that the engine implements; a program
// calling another is refused when it is built.
var provided = map[asm.BuiltinFunc]bool{
	asm.FnMapLookupElem: true, asm.FnMapUpdateElem: true, asm.FnMapDeleteElem: true,
	asm.FnMapLookupPercpuElem: true, asm.FnForEachMapElem: true,
	asm.FnRingbufOutput: true, asm.FnRingbufReserve: true, asm.FnRingbufSubmit: true,
	asm.FnRingbufDiscard: true, asm.FnRingbufQuery: true,
	asm.FnProbeRead: true, asm.FnProbeReadStr: true,
	asm.FnProbeReadKernel: true, asm.FnProbeReadKernelStr: true,
	asm.FnProbeReadUser: true, asm.FnProbeReadUserStr: true,
	asm.FnKtimeGetNs: true, asm.FnKtimeGetBootNs: true, asm.FnKtimeGetTaiNs: true,
	asm.FnGetCurrentPidTgid: true, asm.FnGetCurrentUidGid: true, asm.FnGetCurrentComm: true,
	asm.FnGetCurrentCgroupId: true, asm.FnGetSmpProcessorId: true, asm.FnGetPrandomU32: true,
	asm.FnJiffies64: true, asm.FnGetNumaNodeId: true,
	asm.FnTracePrintk: true, asm.FnTraceVprintk: true,
}

// errno returns a helper's negative error return.
func errno(err error) uint64 {
	e := syscall.EINVAL
	errors.As(err, &e)
	return -uint64(e)
}

// helper runs helper fn with the arguments in r1-r5 and returns r0.
func (p *Program) helper(fn int64, r *[11]uint64) (uint64, error) {
	v, err := p.helperValue(asm.BuiltinFunc(fn), r)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			err = p.fail(p.cur, fmt.Errorf("bpf_%s: %w", HelperName(asm.BuiltinFunc(fn)), err))
		}
	}
	return v, err
}

func (p *Program) helperValue(fn asm.BuiltinFunc, r *[11]uint64) (uint64, error) {
	env := p.env
	switch fn {
	case asm.FnMapLookupElem, asm.FnMapLookupPercpuElem:
		m, key, err := p.mapKey(r[1], r[2])
		if err != nil {
			return 0, err
		}
		cpu := env.CPU
		if fn == asm.FnMapLookupPercpuElem {
			if !m.perCPU {
				return 0, fmt.Errorf("%w: map %s is not per-CPU", ErrInvalid, m.name)
			}
			if r[3] >= uint64(m.ncpu) {
				return 0, nil
			}
			cpu = int(r[3])
		} else if err := p.checkCPU(m); err != nil {
			return 0, err
		}
		v := m.lookup(key, cpu)
		if v == nil {
			return 0, nil
		}
		return p.addRegion(region{buf: v, what: "value", m: m}), nil
	case asm.FnMapUpdateElem:
		m, key, err := p.mapKey(r[1], r[2])
		if err != nil {
			return 0, err
		}
		value, err := p.access(r[3], m.valueSize, false)
		if err != nil {
			return 0, err
		}
		if err := p.checkCPU(m); err != nil {
			return 0, err
		}
		if err := m.Update(key, value, p.env.CPU, r[4]); err != nil {
			return errno(err), nil
		}
		return 0, nil
	case asm.FnMapDeleteElem:
		m, key, err := p.mapKey(r[1], r[2])
		if err != nil {
			return 0, err
		}
		if err := m.Delete(key); err != nil {
			return errno(err), nil
		}
		return 0, nil
	case asm.FnForEachMapElem:
		return p.forEach(r)
	case asm.FnRingbufOutput:
		rb, err := p.ring(r[1])
		if err != nil {
			return 0, err
		}
		data, err := p.access(r[2], int(uint32(r[3])), false)
		if err != nil {
			return 0, err
		}
		if r[4]&^(ringNoWakeup|ringForceWakeup) != 0 {
			return errno(syscall.EINVAL), nil
		}
		rec := rb.reserve(uint64(len(data)))
		if rec == nil {
			return errno(syscall.EAGAIN), nil
		}
		copy(rec.data, data)
		rb.commit(rec, false)
		return 0, nil
	case asm.FnRingbufReserve:
		rb, err := p.ring(r[1])
		if err != nil {
			return 0, err
		}
		if r[3] != 0 {
			return 0, nil
		}
		rec := rb.reserve(r[2])
		if rec == nil {
			return 0, nil
		}
		return p.addRegion(region{buf: rec.data, what: "ring buffer record", rec: rec, ring: rb}), nil
	case asm.FnRingbufSubmit, asm.FnRingbufDiscard:
		reg := p.region(r[1])
		if reg == nil || reg.rec == nil || uint32(r[1]) != 0 || !reg.rec.busy {
			return 0, fmt.Errorf("%w: %#x is not a reserved ring buffer record", ErrInvalid, r[1])
		}
		reg.ring.commit(reg.rec, fn == asm.FnRingbufDiscard)
		return 0, nil
	case asm.FnRingbufQuery:
		rb, err := p.ring(r[1])
		if err != nil {
			return 0, err
		}
		return rb.query(r[2]), nil
	case asm.FnProbeRead, asm.FnProbeReadKernel, asm.FnProbeReadUser:
		dst, err := p.access(r[1], int(uint32(r[2])), true)
		if err != nil {
			return 0, err
		}
		if err := p.read(dst, r[3], fn == asm.FnProbeReadUser); err != nil {
			clear(dst)
			return errno(syscall.EFAULT), nil
		}
		return 0, nil
	case asm.FnProbeReadStr, asm.FnProbeReadKernelStr, asm.FnProbeReadUserStr:
		dst, err := p.access(r[1], int(uint32(r[2])), true)
		if err != nil {
			return 0, err
		}
		n, err := p.readString(dst, r[3], fn == asm.FnProbeReadUserStr)
		if err != nil {
			clear(dst)
			return errno(syscall.EFAULT), nil
		}
		return uint64(n), nil
	case asm.FnKtimeGetNs:
		return env.Ktime, nil
	case asm.FnKtimeGetBootNs:
		return env.BootTime, nil
	case asm.FnKtimeGetTaiNs:
		return env.TAI, nil
	case asm.FnJiffies64:
		return env.Jiffies, nil
	case asm.FnGetCurrentPidTgid:
		return uint64(env.TGID)<<32 | uint64(env.PID), nil
	case asm.FnGetCurrentUidGid:
		return uint64(env.GID)<<32 | uint64(env.UID), nil
	case asm.FnGetCurrentCgroupId:
		return env.CgroupID, nil
	case asm.FnGetSmpProcessorId:
		return uint64(env.CPU), nil
	case asm.FnGetNumaNodeId:
		return 0, nil
	case asm.FnGetPrandomU32:
		if env.Random != nil {
			return uint64(env.Random()), nil
		}
		if p.random == nil {
			p.random = rand.New(rand.NewPCG(1, 2))
		}
		return uint64(p.random.Uint32()), nil
	case asm.FnGetCurrentComm:
		dst, err := p.access(r[1], int(uint32(r[2])), true)
		if err != nil {
			return 0, err
		}
		if len(dst) == 0 {
			return errno(syscall.EINVAL), nil
		}
		comm := env.Comm[:]
		if i := bytes.IndexByte(comm, 0); i >= 0 {
			comm = comm[:i]
		}
		clear(dst[copy(dst[:len(dst)-1], comm):])
		return 0, nil
	case asm.FnTracePrintk, asm.FnTraceVprintk:
		return p.printk(fn, r)
	}
	return 0, fmt.Errorf("%w: helper %d", ErrUnsupported, fn)
}

func (p *Program) checkCPU(m *Map) error {
	if m.perCPU && (p.env.CPU < 0 || p.env.CPU >= m.ncpu) {
		return fmt.Errorf("%w: CPU %d of a map of %d CPUs", ErrInvalid, p.env.CPU, m.ncpu)
	}
	return nil
}

// mapOf returns the map of a map handle.
func (p *Program) mapOf(v uint64) (*Map, error) {
	if v>>32 != tagBase+hiMap || uint32(v) >= uint32(len(p.maps)) {
		return nil, fmt.Errorf("%w: %#x is not a map", ErrInvalid, v)
	}
	return p.maps[uint32(v)], nil
}

// mapKey returns the map of a handle and the key at addr.
func (p *Program) mapKey(handle, addr uint64) (*Map, []byte, error) {
	m, err := p.mapOf(handle)
	if err != nil {
		return nil, nil, err
	}
	if m.ring != nil {
		return nil, nil, fmt.Errorf("%w: ring buffer %s has no keys", ErrInvalid, m.name)
	}
	key, err := p.access(addr, m.keySize, false)
	return m, key, err
}

func (p *Program) ring(handle uint64) (*ring, error) {
	m, err := p.mapOf(handle)
	if err != nil {
		return nil, err
	}
	if m.ring == nil {
		return nil, fmt.Errorf("%w: map %s is not a ring buffer", ErrInvalid, m.name)
	}
	return m.ring, nil
}

// forEach is bpf_for_each_map_elem(map, callback, ctx, flags): it calls
// the callback with each key (read-only) and value (this CPU's) until it
// returns 1, and returns how many elements it visited.
func (p *Program) forEach(r *[11]uint64) (uint64, error) {
	m, err := p.mapOf(r[1])
	if err != nil {
		return 0, err
	}
	if r[2]>>32 != tagBase+hiFunc || uint32(r[2]) >= uint32(len(p.insns)) {
		return 0, fmt.Errorf("%w: %#x is not a function", ErrInvalid, r[2])
	}
	if r[4] != 0 {
		return errno(syscall.EINVAL), nil
	}
	if err := p.checkCPU(m); err != nil {
		return 0, err
	}
	handle, cb, ctx := r[1], int(uint32(r[2])), r[3]
	var keys [][]byte
	m.Iterate(func(key []byte, _ [][]byte) bool {
		keys = append(keys, append([]byte(nil), key...))
		return true
	})
	n := uint64(0)
	for _, key := range keys {
		value := m.lookup(key, p.env.CPU)
		if value == nil { // deleted by an earlier callback
			continue
		}
		n++
		k := p.addRegion(region{buf: key, readOnly: true, what: "key", m: m})
		v := p.addRegion(region{buf: value, what: "value", m: m})
		ret, err := p.call(cb, handle, k, v, ctx)
		if err != nil {
			return 0, err
		}
		if ret != 0 {
			break
		}
	}
	return n, nil
}

// read copies the memory at addr into dst: from the engine's regions, or
// through Env.ReadMemory.
func (p *Program) read(dst []byte, addr uint64, user bool) error {
	if reg := p.region(addr); reg != nil && reg.buf != nil {
		off := uint64(uint32(addr))
		if off+uint64(len(dst)) > uint64(len(reg.buf)) {
			return syscall.EFAULT
		}
		copy(dst, reg.buf[off:])
		return nil
	}
	if p.env.ReadMemory == nil {
		return syscall.EFAULT
	}
	return p.env.ReadMemory(dst, addr, user)
}

// readString copies the NUL-terminated string at addr into dst, as the
// kernel's *_str helpers do: at most len(dst)-1 bytes and a NUL, the rest
// of dst untouched; it returns the bytes written with the NUL.
func (p *Program) readString(dst []byte, addr uint64, user bool) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	var src []byte
	if reg := p.region(addr); reg != nil && reg.buf != nil {
		off := uint64(uint32(addr))
		if off >= uint64(len(reg.buf)) {
			return 0, syscall.EFAULT
		}
		src = reg.buf[off:]
		if len(src) > len(dst) {
			src = src[:len(dst)]
		}
	} else {
		if p.env.ReadMemory == nil {
			return 0, syscall.EFAULT
		}
		src = make([]byte, len(dst))
		if err := p.env.ReadMemory(src, addr, user); err != nil {
			return 0, err
		}
	}
	if i := bytes.IndexByte(src, 0); i >= 0 {
		copy(dst, src[:i+1])
		return i + 1, nil
	}
	if len(src) < len(dst) { // the string runs past the end of its region
		return 0, syscall.EFAULT
	}
	copy(dst, src[:len(dst)-1])
	dst[len(dst)-1] = 0
	return len(dst), nil
}

// printk formats bpf_trace_printk(fmt, size, a, b, c) or
// bpf_trace_vprintk(fmt, size, data, len) and hands the line to
// Env.Printk; it returns the line's length, as the kernel does.
func (p *Program) printk(fn asm.BuiltinFunc, r *[11]uint64) (uint64, error) {
	format, err := p.access(r[1], int(uint32(r[2])), false)
	if err != nil {
		return 0, err
	}
	if len(format) == 0 || format[len(format)-1] != 0 {
		return errno(syscall.EINVAL), nil
	}
	args := []uint64{r[3], r[4], r[5]}
	if fn == asm.FnTraceVprintk {
		n := int(uint32(r[4]))
		if n%8 != 0 || n > 8*maxPrintkArgs {
			return errno(syscall.EINVAL), nil
		}
		args = nil
		if n > 0 {
			data, err := p.access(r[3], n, false)
			if err != nil {
				return 0, err
			}
			for i := 0; i < n; i += 8 {
				args = append(args, load(data[i:i+8]))
			}
		}
	}
	line, ok := p.formatPrintk(string(format[:bytes.IndexByte(format, 0)]), args)
	if !ok {
		return errno(syscall.EINVAL), nil
	}
	if p.env.Printk != nil {
		p.env.Printk(line)
	}
	return uint64(len(line)), nil
}

const maxPrintkArgs = 12 // MAX_BPRINTF_VARARGS

// formatPrintk renders the kernel's printf subset: %d %i %u %x %X %c %s
// %p and %%, with flags, a width, and the l and ll lengths. A %s argument
// is a pointer whose string is read as bpf_probe_read_kernel_str would;
// an unreadable one prints empty.
func (p *Program) formatPrintk(format string, args []uint64) (string, bool) {
	var b strings.Builder
	n := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("-+ 0#", format[j]) >= 0 {
			j++
		}
		for j < len(format) && format[j] >= '0' && format[j] <= '9' {
			j++
		}
		spec := format[i:j]
		long := 0
		for j < len(format) && format[j] == 'l' && long < 2 {
			long++
			j++
		}
		if j >= len(format) {
			return "", false
		}
		verb := format[j]
		i = j
		if verb == '%' {
			b.WriteByte('%')
			continue
		}
		if n >= len(args) {
			return "", false
		}
		v := args[n]
		n++
		switch verb {
		case 'd', 'i':
			if long == 0 {
				fmt.Fprintf(&b, spec+"d", int32(v))
			} else {
				fmt.Fprintf(&b, spec+"d", int64(v))
			}
		case 'u', 'x', 'X':
			if verb == 'u' {
				verb = 'd'
			}
			if long == 0 {
				v = uint64(uint32(v))
			}
			fmt.Fprintf(&b, spec+string(verb), v)
		case 'c':
			fmt.Fprintf(&b, spec+"c", rune(byte(v)))
		case 'p':
			fmt.Fprintf(&b, spec+"s", fmt.Sprintf("0x%x", v))
		case 's':
			buf := make([]byte, 512)
			s := ""
			if k, err := p.readString(buf, v, false); err == nil && k > 0 {
				s = string(buf[:k-1])
			}
			fmt.Fprintf(&b, spec+"s", s)
		default:
			return "", false
		}
	}
	return b.String(), true
}
