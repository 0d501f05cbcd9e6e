package ftrace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// headerPage64 is events/header_page as a 64-bit x86 kernel writes it.
const headerPage64 = `	field: u64 timestamp;	offset:0;	size:8;	signed:0;
	field: local_t commit;	offset:8;	size:8;	signed:1;
	field: int overwrite;	offset:8;	size:1;	signed:1;
	field: char data;	offset:16;	size:4080;	signed:0;
`

var layout64 = Layout{TimestampOffset: 0, CommitOffset: 8, CommitSize: 8, DataOffset: 16, DataSize: 4080, Order: binary.LittleEndian}

func TestParseHeaderPage(t *testing.T) {
	got, err := ParseHeaderPage(headerPage64, binary.LittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	if got != layout64 {
		t.Errorf("got %+v, want %+v", got, layout64)
	}
	// A 32-bit kernel's local_t is 4 bytes.
	text32 := strings.NewReplacer("offset:16", "offset:12", "size:4080", "size:4084", "commit;\toffset:8;\tsize:8", "commit;\toffset:8;\tsize:4").Replace(headerPage64)
	got, err = ParseHeaderPage(text32, binary.LittleEndian)
	want := Layout{CommitOffset: 8, CommitSize: 4, DataOffset: 12, DataSize: 4084, Order: binary.LittleEndian}
	if err != nil || got != want {
		t.Errorf("32-bit: got %+v, %v, want %+v", got, err, want)
	}
	for _, tc := range []struct{ text, err string }{
		{"", "header_page: no timestamp field"},
		{strings.Replace(headerPage64, "commit", "comet", 1), "header_page: no commit field"},
		{strings.Replace(headerPage64, "char data", "char payload", 1), "header_page: no data field"},
		{strings.Replace(headerPage64, "commit;\toffset:8;\tsize:8", "commit;\toffset:8;\tsize:2", 1), "header_page: commit has 2 bytes, want 4 or 8"},
		{strings.Replace(headerPage64, "u64 timestamp;\toffset:0;\tsize:8", "u64 timestamp;\toffset:0;\tsize:4", 1), "header_page: timestamp has 4 bytes, want 8"},
		{strings.Replace(headerPage64, "offset:16", "offset:12", 1), "header_page: data at 12 overlaps the header"},
	} {
		if _, err := ParseHeaderPage(tc.text, binary.LittleEndian); err == nil || err.Error() != tc.err {
			t.Errorf("ParseHeaderPage(%q): error %v, want %q", tc.text, err, tc.err)
		}
	}
}

// pageBuilder writes events the way the kernel's ring buffer lays them out
// on a little-endian machine.
type pageBuilder struct{ data []byte }

func (b *pageBuilder) u32(v uint32) { b.data = binary.LittleEndian.AppendUint32(b.data, v) }

func (b *pageBuilder) header(typeLen, delta uint32) { b.u32(typeLen | delta<<5) }

// event adds a data event; records up to 112 bytes carry their length in
// type_len, longer ones in a length word that counts itself.
func (b *pageBuilder) event(delta uint32, raw []byte) {
	if len(raw)%4 != 0 {
		panic("records are whole words")
	}
	if len(raw) <= 112 {
		b.header(uint32(len(raw)/4), delta)
	} else {
		b.header(typeLenArray, delta)
		b.u32(uint32(len(raw) + 4))
	}
	b.data = append(b.data, raw...)
}

func (b *pageBuilder) extend(delta uint64) {
	b.header(typeLenTimeExtend, uint32(delta&(1<<tsShift-1)))
	b.u32(uint32(delta >> tsShift))
}

func (b *pageBuilder) stamp(abs uint64) {
	b.header(typeLenTimeStamp, uint32(abs&(1<<tsShift-1)))
	b.u32(uint32(abs >> tsShift))
}

// discarded adds the padding a discarded event of n bytes after its header
// leaves, with the marker delta the kernel gives it.
func (b *pageBuilder) discarded(delta uint32, n int) {
	b.header(typeLenPadding, delta)
	b.u32(uint32(n))
	b.data = append(b.data, make([]byte, n-4)...)
}

// page returns a 4096-byte page of the events so far; flags go on top of
// the commit, and lost (when flags has missedStored) after the data.
func (b *pageBuilder) page(ts, flags, lost uint64) []byte {
	p := make([]byte, 4096)
	binary.LittleEndian.PutUint64(p, ts)
	binary.LittleEndian.PutUint64(p[8:], uint64(len(b.data))|flags)
	copy(p[16:], b.data)
	if flags&missedStored != 0 {
		binary.LittleEndian.PutUint64(p[16+len(b.data):], lost)
	}
	return p
}

// record is a recognisable record of n bytes.
func record(tag byte, n int) []byte { return bytes.Repeat([]byte{tag}, n) }

type seen struct {
	Time uint64
	Raw  string
}

func parse(t *testing.T, page []byte) ([]seen, Missed, error) {
	t.Helper()
	var got []seen
	missed, err := layout64.Parse(page, func(ts uint64, raw []byte) error {
		got = append(got, seen{ts, string(raw)})
		return nil
	})
	return got, missed, err
}

func TestParsePage(t *testing.T) {
	small, long := record('a', 8), record('b', 120)
	tests := []struct {
		name       string
		build      func(b *pageBuilder)
		ts         uint64
		flags      uint64
		lost       uint64
		want       []seen
		wantMissed Missed
	}{
		{
			name:  "small and long events",
			build: func(b *pageBuilder) { b.event(5, small); b.event(7, long); b.event(0, small) },
			ts:    1000,
			want:  []seen{{1005, string(small)}, {1012, string(long)}, {1012, string(small)}},
		},
		{
			name: "time extend",
			build: func(b *pageBuilder) {
				b.event(1, small)
				b.extend(3<<tsShift | 9)
				b.event(2, small)
			},
			ts:   1000,
			want: []seen{{1001, string(small)}, {1001 + 3<<tsShift + 9 + 2, string(small)}},
		},
		{
			name: "absolute time stamp",
			build: func(b *pageBuilder) {
				b.event(1, small)
				b.stamp(5 << 40)
				b.event(4, small)
			},
			ts:   1000,
			want: []seen{{1001, string(small)}, {5<<40 + 4, string(small)}},
		},
		{
			// The stamp holds 59 bits; the rest comes from the time so
			// far, carried when the low bits wrapped.
			name: "absolute time stamp above 59 bits",
			build: func(b *pageBuilder) {
				b.stamp(200)
				b.event(0, small)
				b.stamp(50)
				b.event(0, small)
			},
			ts:   1<<59 | 100,
			want: []seen{{1<<59 | 200, string(small)}, {2<<59 | 50, string(small)}},
		},
		{
			name: "discarded event",
			build: func(b *pageBuilder) {
				b.event(2, small)
				b.discarded(40, 12)
				b.event(3, small)
			},
			ts:   1000,
			want: []seen{{1002, string(small)}, {1005, string(small)}},
		},
		{
			// Zero-delta padding ends the page whatever commit says.
			name: "padding to the end",
			build: func(b *pageBuilder) {
				b.event(2, small)
				b.header(typeLenPadding, 0)
				b.event(3, record('z', 8))
			},
			ts:   1000,
			want: []seen{{1002, string(small)}},
		},
		{
			// A 64-bit kernel sign-extends the flags into the upper half.
			name:       "missed events counted",
			build:      func(b *pageBuilder) { b.event(1, small) },
			ts:         1000,
			flags:      0xffffffff<<32 | missedEvents | missedStored,
			lost:       42,
			want:       []seen{{1001, string(small)}},
			wantMissed: Missed{Count: 42},
		},
		{
			name:       "missed events uncounted",
			build:      func(b *pageBuilder) { b.event(1, small) },
			ts:         1000,
			flags:      0xffffffff<<32 | missedEvents,
			want:       []seen{{1001, string(small)}},
			wantMissed: Missed{Uncounted: true},
		},
		{
			name:  "empty page",
			build: func(b *pageBuilder) {},
			ts:    1000,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b pageBuilder
			tc.build(&b)
			got, missed, err := parse(t, b.page(tc.ts, tc.flags, tc.lost))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("events:\n got %v\nwant %v", got, tc.want)
			}
			if missed != tc.wantMissed {
				t.Errorf("missed %+v, want %+v", missed, tc.wantMissed)
			}
		})
	}
}

func TestParseBadPage(t *testing.T) {
	small := record('a', 8)
	tests := []struct {
		name string
		page func() []byte
		want []seen // delivered before the fault
		err  string
	}{
		{
			name: "short page",
			page: func() []byte { return make([]byte, 10) },
			err:  "malformed ring buffer page: 10 bytes, shorter than its 16-byte header",
		},
		{
			name: "commit past the page",
			page: func() []byte {
				var b pageBuilder
				p := b.page(0, 0, 0)
				binary.LittleEndian.PutUint64(p[8:], 5000)
				return p
			},
			err: "malformed ring buffer page: commit says 5000 bytes of events, the page holds 4080",
		},
		{
			name: "event past the data",
			page: func() []byte {
				var b pageBuilder
				b.event(1, small)
				b.header(20, 1) // says 80 bytes, has none
				return b.page(0, 0, 0)
			},
			want: []seen{{1, string(small)}},
			err:  "malformed ring buffer page: event of 80 bytes at offset 12 runs past the data",
		},
		{
			name: "length word below itself",
			page: func() []byte {
				var b pageBuilder
				b.header(typeLenArray, 1)
				b.u32(3)
				return b.page(0, 0, 0)
			},
			err: "malformed ring buffer page: event at offset 0 has length word 3, below its own 4 bytes",
		},
		{
			name: "missing length word",
			page: func() []byte {
				var b pageBuilder
				b.header(typeLenTimeExtend, 1)
				return b.page(0, 0, 0)
			},
			err: "malformed ring buffer page: event at offset 0 lacks its length word",
		},
		{
			name: "padding past the data",
			page: func() []byte {
				var b pageBuilder
				b.header(typeLenPadding, 1)
				b.u32(64)
				return b.page(0, 0, 0)
			},
			err: "malformed ring buffer page: padding of 64 bytes at offset 0 runs past the data",
		},
		{
			name: "stray bytes",
			page: func() []byte {
				var b pageBuilder
				b.event(1, small)
				b.data = append(b.data, 0, 0)
				return b.page(0, 0, 0)
			},
			want: []seen{{1, string(small)}},
			err:  "malformed ring buffer page: 2 stray bytes at offset 12",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := parse(t, tc.page())
			if !errors.Is(err, ErrBadPage) || err.Error() != tc.err {
				t.Errorf("error %v, want %q wrapping ErrBadPage", err, tc.err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("events before the fault:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestParseStopsOnCallbackError(t *testing.T) {
	var b pageBuilder
	for i := range 5 {
		b.event(1, record(byte('a'+i), 8))
	}
	stop := errors.New("stop")
	calls := 0
	_, err := layout64.Parse(b.page(0, 0, 0), func(uint64, []byte) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Errorf("error %v after %d calls, want %v after 2", err, calls, stop)
	}
}

// FuzzParse feeds arbitrary pages to the parser: it must never panic, every
// record it hands out must lie inside the page's data, and every error
// but the callback's must wrap ErrBadPage.
func FuzzParse(f *testing.F) {
	var b pageBuilder
	b.event(5, record('a', 8))
	b.event(7, record('b', 120))
	b.extend(3<<tsShift | 9)
	b.stamp(5 << 40)
	b.discarded(40, 12)
	b.event(1, record('c', 4))
	f.Add(b.page(1000, 0, 0)[:16+len(b.data)])
	f.Add(b.page(1000, missedEvents|missedStored, 42)[:16+len(b.data)+8])
	f.Add(b.page(1000, missedEvents|missedStored, 42)[:16+len(b.data)+3])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, page []byte) {
		_, err := layout64.Parse(page, func(ts uint64, raw []byte) error {
			if len(raw) > 0 && !inside(raw, page[16:]) {
				return fmt.Errorf("record %x outside the page's data", raw)
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrBadPage) {
			t.Fatal(err)
		}
	})
}

// inside reports whether sub is a slice of buf's memory.
func inside(sub, buf []byte) bool {
	if len(buf) == 0 {
		return false
	}
	s, e := &sub[0], &sub[len(sub)-1]
	for i := range buf {
		if &buf[i] == s {
			return len(buf)-i >= len(sub) && &buf[i+len(sub)-1] == e
		}
	}
	return false
}
