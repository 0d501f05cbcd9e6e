package ebt

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/ebtrace/ebtrace/internal/kernel"
)

// Writer writes a recording: Header once, then Event and Lost in any
// number, then Close. The first error sticks: every later call returns
// it.
type Writer struct {
	w       *bufio.Writer
	err     error
	started bool
	closed  bool
	ids     map[uint32]bool
	comms   map[int]string // by thread id, the comm last written
	events  uint64
	lost    uint64
	body    []byte
}

// NewWriter returns a Writer to w, which it buffers; Close flushes it.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 64<<10), ids: map[uint32]bool{}, comms: map[int]string{}}
}

// Header writes the preamble, the header and the format files. Each
// format text must parse and name its event; no two may share an ID.
func (w *Writer) Header(h Header) error {
	if w.err != nil {
		return w.err
	}
	if w.started {
		return w.fail(errors.New("ebt: Header called twice"))
	}
	w.started = true
	if len(h.Formats) > maxFormats {
		return w.fail(fmt.Errorf("ebt: %d formats, at most %d", len(h.Formats), maxFormats))
	}
	if h.CPUs < 0 || uint64(h.CPUs) > math.MaxUint32 {
		return w.fail(fmt.Errorf("ebt: %d CPUs", h.CPUs))
	}
	ids := make([]uint32, len(h.Formats))
	for i, ft := range h.Formats {
		f, err := kernel.ParseFormat(ft.Text)
		switch {
		case err != nil:
			return w.fail(fmt.Errorf("ebt: format of %s: %w", ft.Tracepoint, err))
		case f.Name != ft.Name:
			return w.fail(fmt.Errorf("ebt: the format given for %s is %s's", ft.Tracepoint, f.Name))
		case w.ids[f.ID]:
			return w.fail(fmt.Errorf("ebt: event ID %d given twice (%s)", f.ID, ft.Tracepoint))
		}
		w.ids[f.ID] = true
		ids[i] = f.ID
	}
	if _, err := w.w.Write(binary.LittleEndian.AppendUint32(magic[:], Version)); err != nil {
		return w.fail(err)
	}
	order := byte(littleEndian)
	if h.BigEndian {
		order = bigEndian
	}
	b := w.body[:0]
	b = binary.LittleEndian.AppendUint64(b, h.Start)
	b = binary.LittleEndian.AppendUint64(b, uint64(h.RealtimeOffset))
	b = binary.LittleEndian.AppendUint32(b, uint32(h.CPUs))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(h.Formats)))
	b = append(b, order)
	for _, s := range []string{h.Release, h.Machine, h.Hostname, h.BTF} {
		b = appendStr(b, s)
	}
	w.record(recHeader, b)
	for i, ft := range h.Formats {
		b = binary.LittleEndian.AppendUint32(b[:0], ids[i])
		b = appendStr(b, ft.Category)
		b = appendStr(b, ft.Name)
		b = appendStr(b, ft.Text)
		w.record(recFormat, b)
	}
	w.body = b
	return w.err
}

// Event writes one event, preceded by a comm record when its thread is
// new or renamed. Its format must be one of the header's.
func (w *Writer) Event(e *Event) error {
	if err := w.ready(); err != nil {
		return err
	}
	switch {
	case e.Format == nil || !w.ids[e.Format.ID]:
		return w.fail(errors.New("ebt: an event whose format is not in the header"))
	case len(e.Raw) > maxBody-eventFixedSize:
		return w.fail(fmt.Errorf("ebt: a raw record of %d bytes", len(e.Raw)))
	case e.CPU < 0 || uint64(e.CPU) > math.MaxUint32:
		return w.fail(fmt.Errorf("ebt: CPU %d", e.CPU))
	}
	// A thread never named reads as "", so it needs no record for that.
	if w.comms[e.TID] != e.Comm {
		w.comms[e.TID] = e.Comm
		b := binary.LittleEndian.AppendUint64(w.body[:0], e.Time)
		b = binary.LittleEndian.AppendUint32(b, uint32(int32(e.PID)))
		b = binary.LittleEndian.AppendUint32(b, uint32(int32(e.TID)))
		w.body = append(b, e.Comm...)
		w.record(recComm, w.body)
	}
	b := binary.LittleEndian.AppendUint64(w.body[:0], e.Time)
	b = binary.LittleEndian.AppendUint32(b, e.Format.ID)
	b = binary.LittleEndian.AppendUint32(b, uint32(e.CPU))
	b = binary.LittleEndian.AppendUint32(b, uint32(int32(e.PID)))
	b = binary.LittleEndian.AppendUint32(b, uint32(int32(e.TID)))
	w.body = append(b, e.Raw...)
	w.record(recEvent, w.body)
	w.events++
	return w.err
}

// Lost records that cpu's buffer had no room for n more events.
func (w *Writer) Lost(cpu int, n uint64) error {
	if err := w.ready(); err != nil {
		return err
	}
	if cpu < 0 || uint64(cpu) > math.MaxUint32 {
		return w.fail(fmt.Errorf("ebt: CPU %d", cpu))
	}
	b := binary.LittleEndian.AppendUint32(w.body[:0], uint32(cpu))
	w.body = binary.LittleEndian.AppendUint64(b, n)
	w.record(recLost, w.body)
	w.lost += n
	return w.err
}

// Close writes the end record, stop being when the recording ended in
// CLOCK_MONOTONIC nanoseconds, and flushes. It does not close the
// underlying writer.
func (w *Writer) Close(stop uint64) error {
	if err := w.ready(); err != nil {
		return err
	}
	w.closed = true
	b := binary.LittleEndian.AppendUint64(w.body[:0], stop)
	b = binary.LittleEndian.AppendUint64(b, w.events)
	w.body = binary.LittleEndian.AppendUint64(b, w.lost)
	w.record(recEnd, w.body)
	if w.err == nil {
		w.err = w.w.Flush()
	}
	return w.err
}

// ready is the error of writing a record now.
func (w *Writer) ready() error {
	switch {
	case w.err != nil:
		return w.err
	case !w.started:
		return w.fail(errors.New("ebt: a record before the header"))
	case w.closed:
		return w.fail(errors.New("ebt: a record after Close"))
	}
	return nil
}

func (w *Writer) fail(err error) error {
	w.err = err
	return err
}

// record writes one record; a failed write sticks in w.err.
func (w *Writer) record(typ uint32, body []byte) {
	if w.err != nil {
		return
	}
	if len(body) > maxBody {
		w.err = fmt.Errorf("ebt: a record of %d bytes, at most %d", len(body), maxBody)
		return
	}
	var head [headSize]byte
	binary.LittleEndian.PutUint32(head[0:], typ)
	binary.LittleEndian.PutUint32(head[4:], uint32(len(body)))
	if _, err := w.w.Write(head[:]); err != nil {
		w.err = err
		return
	}
	if _, err := w.w.Write(body); err != nil {
		w.err = err
	}
}

func appendStr(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
