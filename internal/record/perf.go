package record

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cilium/ebpf's perf.Reader opens its own BPF_OUTPUT events behind a
// PERF_EVENT_ARRAY map and cannot read a ring of a tracepoint event opened
// here, so this file reads the perf ring itself.

// sampleType is what each sample carries, in the kernel's record order:
// pid and tid, time, cpu, then the raw tracepoint record.
const sampleType = unix.PERF_SAMPLE_TID | unix.PERF_SAMPLE_TIME | unix.PERF_SAMPLE_CPU | unix.PERF_SAMPLE_RAW

// openTracepoint opens tracepoint id on cpu for every task, disabled,
// timestamped with CLOCK_MONOTONIC (the clock of bpf_ktime_get_ns, so both
// paths agree). Reading it gives the number of its samples lost
// (PERF_FORMAT_LOST), exact even when the ring never had room again for
// the lost record.
func openTracepoint(id uint32, cpu int, watermark uint32) (int, error) {
	attr := unix.PerfEventAttr{
		Type:        unix.PERF_TYPE_TRACEPOINT,
		Config:      uint64(id),
		Sample:      1,
		Sample_type: sampleType,
		Read_format: unix.PERF_FORMAT_LOST,
		Bits:        unix.PerfBitDisabled | unix.PerfBitWatermark | unix.PerfBitUseClockID,
		Wakeup:      watermark,
	}
	fd, err := perfEventOpen(&attr, cpu)
	if err != nil {
		return -1, fmt.Errorf("perf_event_open tracepoint %d on CPU %d: %w", id, cpu, err)
	}
	return fd, nil
}

// openSideband opens a dummy event on cpu that reports every comm change
// (exec included) and, with them, every new thread, with their times, so
// samples name the command that ran then. It has a ring of its own: in
// the samples' rings its records would take their room and count among
// their losses.
func openSideband(cpu int) (int, error) {
	attr := unix.PerfEventAttr{
		Type:        unix.PERF_TYPE_SOFTWARE,
		Config:      unix.PERF_COUNT_SW_DUMMY,
		Sample_type: sampleType,
		Bits:        unix.PerfBitDisabled | unix.PerfBitComm | unix.PerfBitSampleIDAll | unix.PerfBitUseClockID,
		Wakeup:      1,
	}
	fd, err := perfEventOpen(&attr, cpu)
	if err != nil {
		return -1, fmt.Errorf("perf_event_open comm events on CPU %d: %w", cpu, err)
	}
	return fd, nil
}

func perfEventOpen(attr *unix.PerfEventAttr, cpu int) (int, error) {
	attr.Size = uint32(unsafe.Sizeof(*attr))
	attr.Clockid = unix.CLOCK_MONOTONIC
	return unix.PerfEventOpen(attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
}

// readLost reads a PERF_FORMAT_LOST event's count of lost samples.
func readLost(fd int) (uint64, error) {
	var buf [16]byte // the event's value, then the lost count
	n, err := unix.Read(fd, buf[:])
	if err != nil {
		return 0, err
	}
	if n != len(buf) {
		return 0, fmt.Errorf("read %d bytes of a perf event, want %d", n, len(buf))
	}
	return binary.NativeEndian.Uint64(buf[8:]), nil
}

// ring is one CPU's mmap'd perf buffer.
type ring struct {
	cpu  int
	mem  []byte
	meta *unix.PerfEventMmapPage
	data []byte
	tail uint64
	copy []byte // a record that wraps around the end of data
}

func newRing(fd, cpu, dataPages int) (*ring, error) {
	page := os.Getpagesize()
	mem, err := unix.Mmap(fd, 0, (1+dataPages)*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap perf buffer of CPU %d: %w", cpu, err)
	}
	meta := (*unix.PerfEventMmapPage)(unsafe.Pointer(&mem[0]))
	r := &ring{cpu: cpu, mem: mem, meta: meta, data: mem[page:]}
	r.tail = atomic.LoadUint64(&meta.Data_tail)
	return r, nil
}

// record is one record read from a ring; body aliases the ring or r.copy
// and is valid until the next call to next.
type record struct {
	kind uint32
	misc uint16
	body []byte
}

// next returns the next unread record, or ok=false when the ring is empty.
func (r *ring) next() (rec record, ok bool) {
	head := atomic.LoadUint64(&r.meta.Data_head)
	if r.tail >= head {
		return record{}, false
	}
	size := uint64(len(r.data))
	var hdr [8]byte
	r.read(hdr[:], r.tail, size)
	kind := binary.NativeEndian.Uint32(hdr[0:4])
	misc := binary.NativeEndian.Uint16(hdr[4:6])
	n := uint64(binary.NativeEndian.Uint16(hdr[6:8]))
	if n < 8 || r.tail+n > head {
		// A corrupt header: drop everything written so far.
		r.tail = head
		return record{}, false
	}
	start := (r.tail + 8) % size
	var body []byte
	if start+n-8 <= size {
		body = r.data[start : start+n-8]
	} else {
		if cap(r.copy) < int(n-8) {
			r.copy = make([]byte, n-8)
		}
		r.copy = r.copy[:n-8]
		r.read(r.copy, r.tail+8, size)
		body = r.copy
	}
	r.tail += n
	return record{kind, misc, body}, true
}

// release hands the space of every record read so far back to the kernel.
func (r *ring) release() { atomic.StoreUint64(&r.meta.Data_tail, r.tail) }

func (r *ring) read(dst []byte, at, size uint64) {
	off := at % size
	n := copy(dst, r.data[off:])
	copy(dst[n:], r.data)
}

// sampleHeader is the fixed start of a PERF_RECORD_SAMPLE with sampleType,
// and also the sample_id trailer of other records (pid, tid, time, cpu).
type sampleHeader struct {
	pid, tid uint32
	time     uint64
	cpu      uint32
}

const sampleHeaderSize = 24

func parseSampleHeader(b []byte) (sampleHeader, bool) {
	if len(b) < sampleHeaderSize {
		return sampleHeader{}, false
	}
	return sampleHeader{
		pid:  binary.NativeEndian.Uint32(b[0:]),
		tid:  binary.NativeEndian.Uint32(b[4:]),
		time: binary.NativeEndian.Uint64(b[8:]),
		cpu:  binary.NativeEndian.Uint32(b[16:]),
	}, true
}

// parseSample splits a PERF_RECORD_SAMPLE into its header and raw record.
func parseSample(b []byte) (sampleHeader, []byte, bool) {
	h, ok := parseSampleHeader(b)
	if !ok || len(b) < sampleHeaderSize+4 {
		return h, nil, false
	}
	n := int(binary.NativeEndian.Uint32(b[sampleHeaderSize:]))
	raw := b[sampleHeaderSize+4:]
	if n > len(raw) {
		return h, nil, false
	}
	return h, raw[:n], true
}

// parseComm reads a PERF_RECORD_COMM: pid, tid, the NUL-padded name, and
// the sample_id trailer (whose time orders it among the samples).
func parseComm(b []byte) (tid uint32, comm string, time uint64, ok bool) {
	if len(b) < 8+sampleHeaderSize {
		return 0, "", 0, false
	}
	tid = binary.NativeEndian.Uint32(b[4:])
	name := b[8 : len(b)-sampleHeaderSize]
	h, _ := parseSampleHeader(b[len(b)-sampleHeaderSize:])
	return tid, cString(name), h.time, true
}

// parseFork reads a PERF_RECORD_FORK: the new thread, the thread that
// made it and its process, and the record's time.
func parseFork(b []byte) (tid, parentPID, parentTID uint32, time uint64, ok bool) {
	if len(b) < 24 {
		return 0, 0, 0, 0, false
	}
	return binary.NativeEndian.Uint32(b[8:]), binary.NativeEndian.Uint32(b[4:]), binary.NativeEndian.Uint32(b[12:]),
		binary.NativeEndian.Uint64(b[16:]), true
}

// parseLost reads a PERF_RECORD_LOST: the event id and the count lost.
func parseLost(b []byte) (uint64, bool) {
	if len(b) < 16 {
		return 0, false
	}
	return binary.NativeEndian.Uint64(b[8:]), true
}
