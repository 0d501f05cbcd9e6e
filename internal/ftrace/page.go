package ftrace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Layout is where a ring buffer page (as trace_pipe_raw hands it out) keeps
// its header fields, as the kernel's events/header_page describes them;
// ParseHeaderPage makes one, and Parse trusts it.
type Layout struct {
	TimestampOffset int // u64 time of the page's first event
	CommitOffset    int // local_t: bytes of event data, loss flags on top
	CommitSize      int // 8 on 64-bit kernels, 4 on 32-bit ones
	DataOffset      int // where the events start
	DataSize        int // room for events in a page
	Order           binary.ByteOrder
}

// Event header type_len values (include/linux/ring_buffer.h); 1..28 are
// data events whose length is type_len words.
const (
	typeLenArray      = 0 // data length in the next u32
	typeLenDataMax    = 28
	typeLenPadding    = 29
	typeLenTimeExtend = 30
	typeLenTimeStamp  = 31
)

// Flags the kernel keeps in a page's commit field above the data length.
// It adds them as ints to a long, so on 64-bit kernels bit 31 comes
// sign-extended: the length is only the low 30 bits.
const (
	missedEvents = 1 << 31 // events were lost before this page
	missedStored = 1 << 30 // their count follows the data
	lengthMask   = 1<<30 - 1
)

// tsShift is how far a time extend's upper word is shifted above the
// header's 27-bit time_delta.
const tsShift = 27

// tsMSB are the top bits of a 64-bit time an absolute time stamp event
// cannot hold (it carries 59 bits): they come from the time so far.
const tsMSB = uint64(0x1f) << 59

// ParseHeaderPage reads the layout from the text of events/header_page:
// lines like "field: local_t commit; offset:8; size:8; signed:1;". Fields
// it does not need (overwrite) are skipped; the order is the machine's.
func ParseHeaderPage(text string, order binary.ByteOrder) (Layout, error) {
	l := Layout{Order: order}
	seen := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		name, offset, size, ok := headerField(line)
		if !ok {
			continue
		}
		switch name {
		case "timestamp":
			l.TimestampOffset = offset
			if size != 8 {
				return Layout{}, fmt.Errorf("header_page: timestamp has %d bytes, want 8", size)
			}
		case "commit":
			l.CommitOffset, l.CommitSize = offset, size
			if size != 4 && size != 8 {
				return Layout{}, fmt.Errorf("header_page: commit has %d bytes, want 4 or 8", size)
			}
		case "data":
			l.DataOffset, l.DataSize = offset, size
		default:
			continue
		}
		seen[name] = true
	}
	for _, name := range []string{"timestamp", "commit", "data"} {
		if !seen[name] {
			return Layout{}, fmt.Errorf("header_page: no %s field", name)
		}
	}
	if l.DataOffset < l.CommitOffset+l.CommitSize || l.DataOffset < l.TimestampOffset+8 {
		return Layout{}, fmt.Errorf("header_page: data at %d overlaps the header", l.DataOffset)
	}
	return l, nil
}

// headerField parses one "field: TYPE NAME; offset:N; size:N; ..." line.
func headerField(line string) (name string, offset, size int, ok bool) {
	parts := strings.Split(strings.TrimSpace(line), ";")
	decl, found := strings.CutPrefix(parts[0], "field:")
	if !found || len(parts) < 3 {
		return "", 0, 0, false
	}
	words := strings.Fields(decl)
	if len(words) == 0 {
		return "", 0, 0, false
	}
	name = words[len(words)-1]
	offset, size = -1, -1
	for _, p := range parts[1:] {
		key, val, _ := strings.Cut(strings.TrimSpace(p), ":")
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || n < 0 {
			continue
		}
		switch key {
		case "offset":
			offset = n
		case "size":
			size = n
		}
	}
	return name, offset, size, offset >= 0 && size >= 0
}

// Missed is what one page says about events lost before it: Count of them
// when the kernel could store the count, else only that some were lost.
type Missed struct {
	Count     uint64
	Uncounted bool
}

// ErrBadPage is wrapped by every error about a page that does not follow
// the ring buffer's format.
var ErrBadPage = errors.New("malformed ring buffer page")

// Parse walks one page and calls each with every data event's time (the
// page's time stamp plus the deltas and time extends up to it, in the
// trace clock's nanoseconds) and its record: the bytes the event's format
// file describes, common_type first, rounded up to 4 bytes. raw aliases
// page. A page that breaks the format yields an error wrapping ErrBadPage,
// after the events before the break; an error from each stops the walk and
// is returned as is.
func (l Layout) Parse(page []byte, each func(time uint64, raw []byte) error) (Missed, error) {
	if len(page) < l.DataOffset {
		return Missed{}, fmt.Errorf("%w: %d bytes, shorter than its %d-byte header", ErrBadPage, len(page), l.DataOffset)
	}
	ts := l.Order.Uint64(page[l.TimestampOffset:])
	commit := l.uint(page[l.CommitOffset:], l.CommitSize)
	length := commit & lengthMask
	data := page[l.DataOffset:]
	if length > uint64(len(data)) {
		return Missed{}, fmt.Errorf("%w: commit says %d bytes of events, the page holds %d", ErrBadPage, length, len(data))
	}
	var missed Missed
	if commit&missedEvents != 0 {
		missed.Uncounted = true
		if commit&missedStored != 0 && length+uint64(l.CommitSize) <= uint64(len(data)) {
			missed = Missed{Count: l.uint(data[length:], l.CommitSize)}
		}
	}
	events := data[:length]
	for off := 0; off < len(events); {
		if len(events)-off < 4 {
			return missed, fmt.Errorf("%w: %d stray bytes at offset %d", ErrBadPage, len(events)-off, off)
		}
		hdr := l.Order.Uint32(events[off:])
		typeLen, delta := l.header(hdr)
		body := events[off+4:]
		switch {
		case typeLen == typeLenPadding && delta == 0:
			// The rest of the page is unused.
			return missed, nil
		case typeLen == typeLenPadding:
			// A discarded event: its delta is a marker, not time.
			n, err := l.word(body, off)
			if err != nil {
				return missed, err
			}
			if uint64(n) > uint64(len(body)) {
				return missed, fmt.Errorf("%w: padding of %d bytes at offset %d runs past the data", ErrBadPage, n, off)
			}
			off += 4 + int(n)
		case typeLen == typeLenTimeExtend, typeLen == typeLenTimeStamp:
			n, err := l.word(body, off)
			if err != nil {
				return missed, err
			}
			t := uint64(n)<<tsShift | uint64(delta)
			if typeLen == typeLenTimeExtend {
				ts += t
			} else {
				ts = absolute(t, ts)
			}
			off += 8
		default:
			size, start := int(typeLen)*4, 4
			if typeLen == typeLenArray {
				n, err := l.word(body, off)
				if err != nil {
					return missed, err
				}
				if n < 4 {
					return missed, fmt.Errorf("%w: event at offset %d has length word %d, below its own 4 bytes", ErrBadPage, off, n)
				}
				// The length counts the length word itself.
				size, start = int(n)-4, 8
			}
			if size > len(events)-off-start {
				return missed, fmt.Errorf("%w: event of %d bytes at offset %d runs past the data", ErrBadPage, size, off)
			}
			ts += uint64(delta)
			if err := each(ts, events[off+start:off+start+size]); err != nil {
				return missed, err
			}
			off += start + size
		}
	}
	return missed, nil
}

// absolute completes an absolute time stamp's 59 bits with the top bits
// of the time so far, carrying into them when the low bits wrapped.
func absolute(t, now uint64) uint64 {
	if now&tsMSB == 0 {
		return t
	}
	t |= now & tsMSB
	if t < now {
		t += 1 << 59
	}
	return t
}

// header splits an event header into type_len (the low 5 bits of the
// bitfield) and time_delta (the other 27); a big-endian kernel allocates
// the bitfield from the top.
func (l Layout) header(h uint32) (typeLen, delta uint32) {
	if l.Order == binary.ByteOrder(binary.BigEndian) {
		return h >> tsShift, h & (1<<tsShift - 1)
	}
	return h & 0x1f, h >> 5
}

// word reads the u32 after an event header at offset off.
func (l Layout) word(body []byte, off int) (uint32, error) {
	if len(body) < 4 {
		return 0, fmt.Errorf("%w: event at offset %d lacks its length word", ErrBadPage, off)
	}
	return l.Order.Uint32(body), nil
}

func (l Layout) uint(b []byte, size int) uint64 {
	if size == 4 {
		return uint64(l.Order.Uint32(b))
	}
	return l.Order.Uint64(b)
}
