package engine

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"github.com/cilium/ebpf"
)

// Update flags, as bpf(2) and bpf_map_update_elem take them.
const (
	UpdateAny     = 0 // BPF_ANY: create or replace
	UpdateNoExist = 1 // BPF_NOEXIST: create only
	UpdateExist   = 2 // BPF_EXIST: replace only
)

// AllCPUs, as the cpu of Update, says that value holds every CPU's value of
// a per-CPU map one after the other, as bpf(2) takes it from user space.
const AllCPUs = -1

// Map is an in-memory BPF map with the kernel's key and value layouts and
// the kernel's answers to updates (E2BIG when full, EEXIST, ENOENT). Hash
// maps iterate in insertion order (a deletion moves the last key into the
// deleted one's place); LRU maps evict the least recently used key, exactly
// rather than by the kernel's per-CPU approximation. A Map is not safe for
// concurrent use.
type Map struct {
	name       string
	typ        ebpf.MapType
	keySize    int
	valueSize  int
	maxEntries int
	ncpu       int
	perCPU     bool
	stride     int // bytes between two CPUs' values: valueSize rounded up to 8

	// hash maps
	index   map[string]*entry
	entries []*entry
	lru     entry // sentinel of the recency list: lru.next is the most recent

	// arrays: element i of CPU c at (i*ncpu+c)*stride
	array []byte

	ring *ring
}

type entry struct {
	key        string
	value      []byte
	pos        int // in Map.entries
	prev, next *entry
}

// NewMap returns an empty map as spec describes it, with ncpu CPUs for the
// per-CPU types. It supports hash, LRU hash, array, their per-CPU forms,
// and ring buffers.
func NewMap(spec *ebpf.MapSpec, ncpu int) (*Map, error) {
	if ncpu < 1 {
		return nil, fmt.Errorf("map %s: %d CPUs", spec.Name, ncpu)
	}
	m := &Map{
		name: spec.Name, typ: spec.Type, keySize: int(spec.KeySize), valueSize: int(spec.ValueSize),
		maxEntries: int(spec.MaxEntries), ncpu: ncpu,
	}
	m.stride = (m.valueSize + 7) &^ 7
	switch spec.Type {
	case ebpf.Hash, ebpf.LRUHash, ebpf.PerCPUHash, ebpf.LRUCPUHash:
		m.perCPU = spec.Type == ebpf.PerCPUHash || spec.Type == ebpf.LRUCPUHash
		if m.keySize == 0 || m.valueSize == 0 || m.maxEntries == 0 {
			return nil, fmt.Errorf("map %s: %w: a hash needs keys, values and entries", spec.Name, syscall.EINVAL)
		}
		m.index = make(map[string]*entry)
		m.lru.prev, m.lru.next = &m.lru, &m.lru
	case ebpf.Array, ebpf.PerCPUArray:
		m.perCPU = spec.Type == ebpf.PerCPUArray
		if m.keySize != 4 || m.valueSize == 0 || m.maxEntries == 0 {
			return nil, fmt.Errorf("map %s: %w: an array needs 4-byte keys, values and entries", spec.Name, syscall.EINVAL)
		}
		cpus := 1
		if m.perCPU {
			cpus = ncpu
		}
		m.array = make([]byte, m.maxEntries*cpus*m.stride)
	case ebpf.RingBuf:
		size := m.maxEntries
		if size == 0 || size&(size-1) != 0 || m.keySize != 0 || m.valueSize != 0 {
			return nil, fmt.Errorf("map %s: %w: a ring buffer's size is a power of two", spec.Name, syscall.EINVAL)
		}
		m.ring = &ring{size: uint64(size)}
	default:
		return nil, fmt.Errorf("map %s: %w: the engine has no %s maps", spec.Name, ErrUnsupported, spec.Type)
	}
	return m, nil
}

// Name returns the map's name as its spec gave it.
func (m *Map) Name() string { return m.name }

// Type returns the map's type.
func (m *Map) Type() ebpf.MapType { return m.typ }

// KeySize returns the size of a key in bytes.
func (m *Map) KeySize() int { return m.keySize }

// ValueSize returns the size of one value (one CPU's, in a per-CPU map).
func (m *Map) ValueSize() int { return m.valueSize }

// MaxEntries returns the most keys the map holds (a ring buffer's size).
func (m *Map) MaxEntries() int { return m.maxEntries }

// NumCPU returns the number of CPUs of the map's per-CPU values.
func (m *Map) NumCPU() int { return m.ncpu }

// PerCPU reports whether the map keeps one value per CPU for each key.
func (m *Map) PerCPU() bool { return m.perCPU }

// Len returns the number of keys: all of an array's, none for a ring.
func (m *Map) Len() int {
	switch {
	case m.index != nil:
		return len(m.entries)
	case m.array != nil:
		return m.maxEntries
	}
	return 0
}

// Lookup returns the value of key on cpu (any cpu for maps not per-CPU),
// or nil when the key is absent. The slice is the map's own memory: it
// sees later updates, and writing it changes the map.
func (m *Map) Lookup(key []byte, cpu int) []byte {
	if len(key) != m.keySize || cpu < 0 || cpu >= m.ncpu {
		return nil
	}
	return m.lookup(key, cpu)
}

func (m *Map) lookup(key []byte, cpu int) []byte {
	if !m.perCPU {
		cpu = 0
	}
	if m.index != nil {
		e := m.index[string(key)]
		if e == nil {
			return nil
		}
		m.touch(e)
		off := cpu * m.stride
		return e.value[off : off+m.valueSize : off+m.valueSize]
	}
	if m.array != nil {
		i := int(binary.LittleEndian.Uint32(key))
		if i >= m.maxEntries {
			return nil
		}
		return m.arrayValue(i, cpu)
	}
	return nil
}

func (m *Map) arrayValue(i, cpu int) []byte {
	off := i * m.stride
	if m.perCPU {
		off = (i*m.ncpu + cpu) * m.stride
	}
	return m.array[off : off+m.valueSize : off+m.valueSize]
}

// Values returns key's value on every CPU (one value for maps not
// per-CPU), or nil when the key is absent.
func (m *Map) Values(key []byte) [][]byte {
	if len(key) != m.keySize || m.lookup(key, 0) == nil {
		return nil
	}
	n := 1
	if m.perCPU {
		n = m.ncpu
	}
	out := make([][]byte, n)
	for c := range out {
		out[c] = m.lookup(key, c)
	}
	return out
}

// Update sets key's value as bpf_map_update_elem does. From a program, cpu
// is the CPU it runs on: a per-CPU map's new key starts with the other
// CPUs' values zeroed. From user space, cpu may be AllCPUs, value then
// holding NumCPU values of ValueSize bytes. Errors are the kernel's errnos:
// EINVAL for bad sizes or flags, EEXIST and ENOENT against the flags,
// E2BIG when a hash is full or an array index is out of range.
func (m *Map) Update(key, value []byte, cpu int, flags uint64) error {
	all := cpu == AllCPUs && m.perCPU
	switch {
	case len(key) != m.keySize, m.ring != nil:
		return syscall.EINVAL
	case all && len(value) != m.ncpu*m.valueSize, !all && len(value) != m.valueSize:
		return syscall.EINVAL
	case !all && (cpu < 0 || cpu >= m.ncpu) && m.perCPU:
		return syscall.EINVAL
	case flags > UpdateExist:
		return syscall.EINVAL
	}
	if m.array != nil {
		i := int(binary.LittleEndian.Uint32(key))
		if i >= m.maxEntries {
			return syscall.E2BIG
		}
		if flags == UpdateNoExist {
			return syscall.EEXIST
		}
		m.store(func(c int) []byte { return m.arrayValue(i, c) }, value, cpu, all)
		return nil
	}
	e := m.index[string(key)]
	switch {
	case e != nil && flags == UpdateNoExist:
		return syscall.EEXIST
	case e == nil && flags == UpdateExist:
		return syscall.ENOENT
	case e == nil:
		if len(m.entries) >= m.maxEntries {
			if m.typ != ebpf.LRUHash && m.typ != ebpf.LRUCPUHash {
				return syscall.E2BIG
			}
			m.remove(m.lru.prev)
		}
		e = &entry{key: string(key), pos: len(m.entries)}
		if m.perCPU {
			e.value = make([]byte, m.ncpu*m.stride)
		} else {
			e.value = make([]byte, m.valueSize)
		}
		m.index[e.key] = e
		m.entries = append(m.entries, e)
		e.prev, e.next = &m.lru, m.lru.next
		e.prev.next, e.next.prev = e, e
	default:
		m.touch(e)
	}
	m.store(func(c int) []byte {
		off := c * m.stride
		if !m.perCPU {
			off = 0
		}
		return e.value[off : off+m.valueSize]
	}, value, cpu, all)
	return nil
}

// store writes value into the CPU values that at returns.
func (m *Map) store(at func(cpu int) []byte, value []byte, cpu int, all bool) {
	switch {
	case !m.perCPU:
		copy(at(0), value)
	case all:
		for c := range m.ncpu {
			copy(at(c), value[c*m.valueSize:])
		}
	default:
		copy(at(cpu), value)
	}
}

// touch makes e the most recently used key.
func (m *Map) touch(e *entry) {
	if m.lru.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = &m.lru, m.lru.next
	e.prev.next, e.next.prev = e, e
}

// Delete removes key: ENOENT when absent, EINVAL for arrays, whose keys
// always exist.
func (m *Map) Delete(key []byte) error {
	if m.index == nil || len(key) != m.keySize {
		return syscall.EINVAL
	}
	e := m.index[string(key)]
	if e == nil {
		return syscall.ENOENT
	}
	m.remove(e)
	return nil
}

func (m *Map) remove(e *entry) {
	delete(m.index, e.key)
	last := m.entries[len(m.entries)-1]
	m.entries[e.pos], last.pos = last, e.pos
	m.entries = m.entries[:len(m.entries)-1]
	e.prev.next, e.next.prev = e.next, e.prev
}

// Iterate calls fn with each key and its per-CPU values (one value for
// maps not per-CPU) until fn returns false. fn must not add or delete keys.
func (m *Map) Iterate(fn func(key []byte, perCPU [][]byte) bool) {
	n := 1
	if m.perCPU {
		n = m.ncpu
	}
	values := make([][]byte, n)
	switch {
	case m.index != nil:
		for _, e := range m.entries {
			for c := range values {
				off := c * m.stride
				values[c] = e.value[off : off+m.valueSize]
			}
			if !fn([]byte(e.key), values) {
				return
			}
		}
	case m.array != nil:
		key := make([]byte, 4)
		for i := range m.maxEntries {
			binary.LittleEndian.PutUint32(key, uint32(i))
			for c := range values {
				values[c] = m.arrayValue(i, c)
			}
			if !fn(key, values) {
				return
			}
		}
	}
}

// Keys returns a copy of every key, in iteration order.
func (m *Map) Keys() [][]byte {
	var keys [][]byte
	m.Iterate(func(key []byte, _ [][]byte) bool {
		keys = append(keys, append([]byte(nil), key...))
		return true
	})
	return keys
}
