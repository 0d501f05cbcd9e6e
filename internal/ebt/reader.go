package ebt

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

// Reader reads a recording: NewReader reads the header and the formats,
// Next hands out the events in file order.
type Reader struct {
	r       *bufio.Reader
	file    *os.File // when Open opened it
	name    string   // for errors
	off     int64    // of the next record
	at      int64    // of the record being read, for errors
	header  Header
	formats []*kernel.Format
	byID    map[uint32]*kernel.Format
	comms   map[int]string
	lost    []uint64
	events  uint64
	stop    uint64
	done    bool
	err     error
	body    []byte
}

// Open opens the recording in the file path and reads its header.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := newReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.file = f
	return r, nil
}

// NewReader reads a recording's header and formats from r.
func NewReader(r io.Reader) (*Reader, error) { return newReader(r, "recording") }

func newReader(in io.Reader, name string) (*Reader, error) {
	r := &Reader{r: bufio.NewReaderSize(in, 64<<10), name: name, byID: map[uint32]*kernel.Format{}, comms: map[int]string{}}
	var pre [12]byte
	if n, err := io.ReadFull(r.r, pre[:]); err != nil {
		if n < len(magic) || [8]byte(pre[:8]) != magic {
			return nil, fmt.Errorf("%s: %w", name, ErrNotEBT)
		}
		return nil, r.corrupt(ErrTruncated, "in its preamble")
	}
	if [8]byte(pre[:8]) != magic {
		return nil, fmt.Errorf("%s: %w", name, ErrNotEBT)
	}
	if v := binary.LittleEndian.Uint32(pre[8:]); v != Version {
		return nil, fmt.Errorf("%s: %w %d: this ebtrace reads version %d only (a newer ebtrace wrote it?)", name, ErrVersion, v, Version)
	}
	r.off = int64(len(pre))
	typ, body, err := r.record()
	if err != nil {
		return nil, err
	}
	if typ != recHeader {
		return nil, r.corrupt(ErrCorrupt, "its first record is of type %d, not a header", typ)
	}
	nformats, err := r.readHeader(body)
	if err != nil {
		return nil, err
	}
	for len(r.formats) < nformats {
		typ, body, err := r.record()
		if err != nil {
			return nil, err
		}
		switch typ {
		case recFormat:
			if err := r.readFormat(body); err != nil {
				return nil, err
			}
		case recHeader, recEvent, recComm, recLost, recEnd:
			return nil, r.corrupt(ErrCorrupt, "a record of type %d among the formats (%d of %d read)", typ, len(r.formats), nformats)
		}
	}
	return r, nil
}

// Header is the recording's header, its format texts included.
func (r *Reader) Header() Header { return r.header }

// Formats are the recorded events' formats, parsed from their texts, in
// the header's order; they must not be modified.
func (r *Reader) Formats() []*kernel.Format { return r.formats }

// Lost returns how many events each CPU lost (lost[cpu]), as far as the
// recording has been read: all of them once Next returned io.EOF.
func (r *Reader) Lost() []uint64 { return r.lost }

// Stop is when the recording ended, in CLOCK_MONOTONIC nanoseconds, once
// Next returned io.EOF; 0 before.
func (r *Reader) Stop() uint64 { return r.stop }

// Next returns the next event, or io.EOF after the last. The event's Raw
// is valid until the next call. A recording that ends early gives every
// event it holds, then an error wrapping ErrTruncated.
func (r *Reader) Next() (Event, error) {
	for r.err == nil && !r.done {
		typ, body, err := r.record()
		if err != nil {
			r.err = err
			break
		}
		switch typ {
		case recEvent:
			return r.event(body)
		case recComm:
			if len(body) < commFixedSize {
				r.err = r.corrupt(ErrCorrupt, "a comm record of %d bytes", len(body))
				break
			}
			r.comms[int(int32(binary.LittleEndian.Uint32(body[12:])))] = string(body[commFixedSize:])
		case recLost:
			r.err = r.readLost(body)
		case recEnd:
			r.err = r.readEnd(body)
			r.done = true
		case recHeader, recFormat:
			r.err = r.corrupt(ErrCorrupt, "a record of type %d after the header and formats", typ)
		}
	}
	if r.err != nil {
		return Event{}, r.err
	}
	return Event{}, io.EOF
}

// Close closes the file Open opened.
func (r *Reader) Close() error {
	if r.file == nil {
		return nil
	}
	return r.file.Close()
}

func (r *Reader) event(body []byte) (Event, error) {
	if len(body) < eventFixedSize {
		r.err = r.corrupt(ErrCorrupt, "an event record of %d bytes", len(body))
		return Event{}, r.err
	}
	id := binary.LittleEndian.Uint32(body[8:])
	f := r.byID[id]
	if f == nil {
		r.err = r.corrupt(ErrCorrupt, "an event of ID %d, which no format has", id)
		return Event{}, r.err
	}
	r.events++
	tid := int(int32(binary.LittleEndian.Uint32(body[20:])))
	return Event{
		Format: f,
		Time:   binary.LittleEndian.Uint64(body),
		CPU:    int(binary.LittleEndian.Uint32(body[12:])),
		PID:    int(int32(binary.LittleEndian.Uint32(body[16:]))),
		TID:    tid,
		Comm:   r.comms[tid],
		Raw:    body[eventFixedSize:],
	}, nil
}

func (r *Reader) readHeader(body []byte) (nformats int, err error) {
	if len(body) < headerFixedSize {
		return 0, r.corrupt(ErrCorrupt, "a header of %d bytes", len(body))
	}
	h := &r.header
	h.Start = binary.LittleEndian.Uint64(body)
	h.RealtimeOffset = int64(binary.LittleEndian.Uint64(body[8:]))
	h.CPUs = int(binary.LittleEndian.Uint32(body[16:]))
	nformats = int(binary.LittleEndian.Uint32(body[20:]))
	switch body[24] {
	case littleEndian:
	case bigEndian:
		h.BigEndian = true
	default:
		return 0, r.corrupt(ErrCorrupt, "byte order %d in the header", body[24])
	}
	if nformats > maxFormats {
		return 0, r.corrupt(ErrCorrupt, "%d formats in the header", nformats)
	}
	rest := body[headerFixedSize:]
	for _, s := range []*string{&h.Release, &h.Machine, &h.Hostname, &h.BTF} {
		if *s, rest, err = r.str(rest, "header"); err != nil {
			return 0, err
		}
	}
	// Lost counts are per CPU; a CPU beyond the header's grows the slice.
	r.lost = make([]uint64, min(h.CPUs, 4096))
	return nformats, nil
}

func (r *Reader) readFormat(body []byte) error {
	if len(body) < 4 {
		return r.corrupt(ErrCorrupt, "a format record of %d bytes", len(body))
	}
	id := binary.LittleEndian.Uint32(body)
	var ft FormatText
	rest := body[4:]
	var err error
	for _, s := range []*string{&ft.Category, &ft.Name, &ft.Text} {
		if *s, rest, err = r.str(rest, "format"); err != nil {
			return err
		}
	}
	f, err := kernel.ParseFormat(ft.Text)
	switch {
	case err != nil:
		return r.corrupt(ErrCorrupt, "the format of %s: %v", ft.Tracepoint, err)
	case f.ID != id || f.Name != ft.Name:
		return r.corrupt(ErrCorrupt, "the format stored for %s (ID %d) is %s's (ID %d)", ft.Tracepoint, id, f.Name, f.ID)
	case r.byID[id] != nil:
		return r.corrupt(ErrCorrupt, "event ID %d has two formats", id)
	}
	f.Tracepoint = ft.Tracepoint
	r.byID[id] = f
	r.formats = append(r.formats, f)
	r.header.Formats = append(r.header.Formats, ft)
	return nil
}

func (r *Reader) readLost(body []byte) error {
	if len(body) < lostSize {
		return r.corrupt(ErrCorrupt, "a lost record of %d bytes", len(body))
	}
	cpu := binary.LittleEndian.Uint32(body)
	if cpu >= 1<<16 {
		return r.corrupt(ErrCorrupt, "lost events of CPU %d", cpu)
	}
	for int(cpu) >= len(r.lost) {
		r.lost = append(r.lost, 0)
	}
	r.lost[cpu] += binary.LittleEndian.Uint64(body[4:])
	return nil
}

func (r *Reader) readEnd(body []byte) error {
	if len(body) < endSize {
		return r.corrupt(ErrCorrupt, "an end record of %d bytes", len(body))
	}
	var lost uint64
	for _, n := range r.lost {
		lost += n
	}
	events, wantLost := binary.LittleEndian.Uint64(body[8:]), binary.LittleEndian.Uint64(body[16:])
	if events != r.events || wantLost != lost {
		return r.corrupt(ErrCorrupt, "its end counts %d events and %d lost, its records %d and %d", events, wantLost, r.events, lost)
	}
	r.stop = binary.LittleEndian.Uint64(body)
	return nil
}

// record reads the next record of a known type whole, skipping others;
// the body is valid until the next call.
func (r *Reader) record() (typ uint32, body []byte, err error) {
	for {
		r.at = r.off
		var head [headSize]byte
		n, err := io.ReadFull(r.r, head[:])
		switch {
		case err == io.EOF:
			return 0, nil, r.corrupt(ErrTruncated, "no end record follows: the recording stopped before it was closed (%d events read)", r.events)
		case err != nil:
			return 0, nil, r.ioError(err, n, "a record head")
		}
		typ, size := binary.LittleEndian.Uint32(head[:]), binary.LittleEndian.Uint32(head[4:])
		if size > maxBody {
			return 0, nil, r.corrupt(ErrCorrupt, "a record of %d bytes", size)
		}
		if typ >= recHeader && typ <= recEnd {
			body, err = r.read(int(size))
			if err != nil {
				return 0, nil, r.ioError(err, len(body), fmt.Sprintf("a record of type %d", typ))
			}
			r.off += headSize + int64(size)
			return typ, body, nil
		}
		// A type a later version added.
		skipped, err := r.r.Discard(int(size))
		if err != nil {
			return 0, nil, r.ioError(err, skipped, fmt.Sprintf("a record of type %d", typ))
		}
		r.off += headSize + int64(size)
	}
}

// read reads n bytes into r.body, growing it as the bytes arrive, so that
// a corrupt size does not allocate more than the file holds.
func (r *Reader) read(n int) ([]byte, error) {
	b := r.body[:0]
	for len(b) < n {
		chunk := min(n-len(b), 1<<20)
		if cap(b)-len(b) < chunk {
			b = append(b[:cap(b)], make([]byte, chunk)...)[:len(b)]
		}
		got, err := io.ReadFull(r.r, b[len(b):len(b)+chunk])
		b = b[:len(b)+got]
		if err != nil {
			r.body = b
			return b, err
		}
	}
	r.body = b
	return b, nil
}

// ioError describes a failure to read what, got bytes into it.
func (r *Reader) ioError(err error, got int, what string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return r.corrupt(ErrTruncated, "in %s (%d bytes of it there)", what, got)
	}
	return fmt.Errorf("%s: at byte %d: %w", r.name, r.at, err)
}

// corrupt is an error wrapping kind about the record at r.at.
func (r *Reader) corrupt(kind error, format string, args ...any) error {
	return fmt.Errorf("%s: %w at byte %d: %s", r.name, kind, r.at, fmt.Sprintf(format, args...))
}

// str reads a str field of a what record from b.
func (r *Reader) str(b []byte, what string) (string, []byte, error) {
	if len(b) < 4 {
		return "", nil, r.corrupt(ErrCorrupt, "a %s record cut short", what)
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return "", nil, r.corrupt(ErrCorrupt, "a string of %d bytes in a %s record of %d", n, what, len(b))
	}
	return string(b[4 : 4+n]), b[4+n:], nil
}
