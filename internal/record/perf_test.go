package record

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeRing is a ring over memory the test writes records into as the
// kernel would: each at data_head, wrapping at the end.
type fakeRing struct {
	*ring
	head uint64
}

func newFakeRing(size int) *fakeRing {
	return &fakeRing{ring: &ring{meta: &unix.PerfEventMmapPage{}, data: make([]byte, size)}}
}

func (f *fakeRing) put(kind uint32, body []byte) {
	rec := make([]byte, 8+len(body))
	binary.NativeEndian.PutUint32(rec, kind)
	binary.NativeEndian.PutUint16(rec[6:], uint16(len(rec)))
	copy(rec[8:], body)
	for i, b := range rec {
		f.data[(f.head+uint64(i))%uint64(len(f.data))] = b
	}
	f.head += uint64(len(rec))
	f.meta.Data_head = f.head
}

func TestRingWraps(t *testing.T) {
	f := newFakeRing(64)
	bodies := [][]byte{
		bytes.Repeat([]byte{1}, 24), // 0..32
		bytes.Repeat([]byte{2}, 16), // 32..56
	}
	for i, b := range bodies {
		f.put(uint32(i+1), b)
	}
	for i, want := range bodies {
		rec, ok := f.next()
		if !ok || rec.kind != uint32(i+1) || !bytes.Equal(rec.body, want) {
			t.Fatalf("record %d: %v %v, want kind %d body %v", i, ok, rec, i+1, want)
		}
	}
	if _, ok := f.next(); ok {
		t.Fatal("a record past the head")
	}
	f.release()
	if f.meta.Data_tail != 56 {
		t.Errorf("tail %d after two records, want 56", f.meta.Data_tail)
	}
	// The next record's header fits before the end, its body wraps; the
	// one after it starts wrapped.
	third := []byte("abcdefghijklmnop")
	fourth := []byte("0123456789abcdef")
	f.put(7, third)
	f.put(8, fourth)
	for _, want := range []struct {
		kind uint32
		body []byte
	}{{7, third}, {8, fourth}} {
		rec, ok := f.next()
		if !ok || rec.kind != want.kind || !bytes.Equal(rec.body, want.body) {
			t.Fatalf("%v %v, want kind %d body %q", ok, rec, want.kind, want.body)
		}
	}
	// A header claiming more than was written drops what is left.
	f.put(9, []byte("12345678"))
	f.data[(f.head-16+6)%64] = 200
	if _, ok := f.next(); ok || f.tail != f.head {
		t.Errorf("a corrupt header was read, or not skipped (tail %d, head %d)", f.tail, f.head)
	}
}

func TestParseRecords(t *testing.T) {
	b := make([]byte, 24+4+12)
	binary.NativeEndian.PutUint32(b[0:], 10)   // pid
	binary.NativeEndian.PutUint32(b[4:], 11)   // tid
	binary.NativeEndian.PutUint64(b[8:], 1234) // time
	binary.NativeEndian.PutUint32(b[16:], 1)   // cpu
	binary.NativeEndian.PutUint32(b[24:], 10)  // raw size, padded to 12
	copy(b[28:], "0123456789")
	h, raw, ok := parseSample(b)
	if !ok || h != (sampleHeader{pid: 10, tid: 11, time: 1234, cpu: 1}) || string(raw) != "0123456789" {
		t.Errorf("sample: %v %+v %q", ok, h, raw)
	}
	binary.NativeEndian.PutUint32(b[24:], 13)
	if _, _, ok := parseSample(b); ok {
		t.Error("a raw size past the record was accepted")
	}

	comm := make([]byte, 8+8+24)
	binary.NativeEndian.PutUint32(comm[4:], 77)
	copy(comm[8:], "bash\x00")
	binary.NativeEndian.PutUint64(comm[16+8:], 99) // the trailer's time
	if tid, name, at, ok := parseComm(comm); !ok || tid != 77 || name != "bash" || at != 99 {
		t.Errorf("comm: %v %d %q %d", ok, tid, name, at)
	}

	fork := make([]byte, 24+24)
	for i, v := range []uint32{20, 10, 21, 11} { // pid, ppid, tid, ptid
		binary.NativeEndian.PutUint32(fork[4*i:], v)
	}
	binary.NativeEndian.PutUint64(fork[16:], 5)
	if tid, ppid, ptid, at, ok := parseFork(fork); !ok || tid != 21 || ppid != 10 || ptid != 11 || at != 5 {
		t.Errorf("fork: %v %d %d %d %d", ok, tid, ppid, ptid, at)
	}
}
