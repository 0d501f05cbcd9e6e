package btfvalue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/output"
)

var (
	u8   = &btf.Int{Name: "unsigned char", Size: 1}
	s8   = &btf.Int{Name: "signed char", Size: 1, Encoding: btf.Signed}
	char = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	u16  = &btf.Int{Name: "unsigned short", Size: 2}
	s16  = &btf.Int{Name: "short", Size: 2, Encoding: btf.Signed}
	u32  = &btf.Int{Name: "unsigned int", Size: 4}
	s32  = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	u64  = &btf.Int{Name: "unsigned long", Size: 8}
	s64  = &btf.Int{Name: "long", Size: 8, Encoding: btf.Signed}
	u128 = &btf.Int{Name: "unsigned __int128", Size: 16}
	boo  = &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}
	byt  = &btf.Typedef{Name: "__u8", Type: u8}

	color = &btf.Enum{Name: "color", Size: 4, Signed: true, Values: []btf.EnumValue{
		{Name: "RED", Value: 0}, {Name: "GREEN", Value: 5}, {Name: "BLUE", Value: math.MaxUint64 - 1}}}
	big = &btf.Enum{Name: "big", Size: 8, Values: []btf.EnumValue{{Name: "HUGE", Value: 1 << 40}}}

	// struct task { u32 pid; char comm[4]; } and
	// union word { u32 w; u16 h; unsigned char b[4]; }.
	task = &btf.Struct{Name: "task", Size: 8, Members: []btf.Member{
		{Name: "pid", Type: u32}, {Name: "comm", Type: array(char, 4), Offset: 32}}}
	word = &btf.Union{Name: "word", Size: 4, Members: []btf.Member{
		{Name: "w", Type: u32}, {Name: "h", Type: u16}, {Name: "b", Type: array(u8, 4)}}}
	// struct flags { unsigned lo:3; int mid:4; enum color col:4; int :5; _Bool on:1; }
	flags = &btf.Struct{Name: "flags", Size: 4, Members: []btf.Member{
		{Name: "lo", Type: u32, BitfieldSize: 3},
		{Name: "mid", Type: s32, Offset: 3, BitfieldSize: 4},
		{Name: "col", Type: color, Offset: 7, BitfieldSize: 4},
		{Type: s32, Offset: 11, BitfieldSize: 5},
		{Name: "on", Type: boo, Offset: 16, BitfieldSize: 1}}}
	// struct outer { struct task t; struct { short x; }; void *p; }
	outer = &btf.Struct{Name: "outer", Size: 24, Members: []btf.Member{
		{Name: "t", Type: task},
		{Type: &btf.Struct{Size: 2, Members: []btf.Member{{Name: "x", Type: s16}}}, Offset: 64},
		{Name: "p", Type: &btf.Pointer{Target: &btf.Void{}}, Offset: 128}}}
)

func array(t btf.Type, n uint32) *btf.Array { return &btf.Array{Index: u32, Type: t, Nelems: n} }

// le lays values out in the host's byte order, each by its Go size.
func le(values ...any) []byte {
	var b bytes.Buffer
	for _, v := range values {
		if s, ok := v.(string); ok {
			b.WriteString(s)
			continue
		}
		if err := binary.Write(&b, binary.NativeEndian, v); err != nil {
			panic(err)
		}
	}
	return b.Bytes()
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name string
		typ  btf.Type
		b    []byte
		want any
	}{
		{"u8", u8, []byte{255}, uint64(255)},
		{"s8", s8, []byte{255}, int64(-1)},
		{"u16", u16, le(uint16(65534)), uint64(65534)},
		{"s16", s16, le(int16(-2)), int64(-2)},
		{"u32", u32, le(uint32(math.MaxUint32)), uint64(math.MaxUint32)},
		{"s32", s32, le(int32(-5)), int64(-5)},
		{"u64", u64, le(uint64(math.MaxUint64)), uint64(math.MaxUint64)},
		{"s64", s64, le(int64(math.MinInt64)), int64(math.MinInt64)},
		{"longer buffer", s16, le(int16(7), int16(9)), int64(7)},
		{"u128 high", u128, le(uint64(math.MaxUint64), uint64(1)), "0x1ffffffffffffffff"},
		{"u128 low", u128, le(uint64(5), uint64(0)), "0x5"},
		{"bool true", boo, []byte{2}, true},
		{"bool false", boo, []byte{0}, false},
		{"char[8]", array(char, 8), []byte("comm\x00xyz"), "comm"},
		{"char[4] full", array(char, 4), []byte("abcd"), "abcd"},
		{"char[4] empty", array(char, 4), []byte{0, 'x', 0, 0}, ""},
		{"char[4] bytes", array(char, 4), []byte{1, 2, 0, 0}, output.Array{int64(1), int64(2), int64(0), int64(0)}},
		{"char[3] invalid utf-8", array(char, 3), []byte{0xff, 'a', 0}, output.Array{int64(-1), int64('a'), int64(0)}},
		{"unsigned char[3]", array(u8, 3), []byte("hi\x00"), "hi"},
		{"signed char[3] utf-8", array(s8, 3), []byte("é\x00"), "é"},
		{"const char[3]", array(&btf.Const{Type: char}, 3), []byte("ok\x00"), "ok"},
		{"__u8[3]", array(byt, 3), []byte("hi\x00"), output.Array{uint64('h'), uint64('i'), uint64(0)}},
		{"int[3]", array(s32, 3), le(int32(1), int32(-2), int32(3)), output.Array{int64(1), int64(-2), int64(3)}},
		{"char[2][3]", array(array(char, 3), 2), []byte("ab\x00cd\x00"), output.Array{"ab", "cd"}},
		{"empty array", array(s32, 0), nil, output.Array{}},
		{"array of empty structs", array(&btf.Struct{Name: "empty"}, math.MaxUint32), nil, output.Array{}},
		{"struct", task, le(uint32(42), "sh\x00\x00"),
			output.Record{Names: []string{"pid", "comm"}, Values: output.Tuple{uint64(42), "sh"}}},
		{"struct of struct, anonymous struct, pointer", outer, le(uint32(1), "ab\x00\x00", int16(-3), int16(0), int32(0), uint64(0xffff888000001234)),
			output.Record{Names: []string{"t", "x", "p"}, Values: output.Tuple{
				output.Record{Names: []string{"pid", "comm"}, Values: output.Tuple{uint64(1), "ab"}}, int64(-3), output.Pointer(0xffff888000001234)}}},
		{"union", word, le(uint32(0x01020304)),
			output.Record{Names: []string{"w", "h", "b"}, Values: output.Tuple{uint64(0x01020304), uint64(0x0304), output.Array{uint64(4), uint64(3), uint64(2), uint64(1)}}}},
		// lo=5, mid=-3, col=GREEN, the unnamed 5 bits set, on=1.
		{"bitfields", flags, le(uint32(5 | 13<<3 | 5<<7 | 31<<11 | 1<<16)),
			output.Record{Names: []string{"lo", "mid", "col", "on"}, Values: output.Tuple{uint64(5), int64(-3), "GREEN", true}}},
		{"enum match", color, le(int32(5)), "GREEN"},
		{"enum negative match", color, le(int32(-2)), "BLUE"},
		{"enum no match", color, le(int32(-3)), int64(-3)},
		{"enum64", big, le(uint64(1 << 40)), "HUGE"},
		{"enum64 no match", big, le(uint64(7)), uint64(7)},
		{"float", &btf.Float{Name: "float", Size: 4}, le(float32(0.75)), 0.75},
		{"double", &btf.Float{Name: "double", Size: 8}, le(-2.5), -2.5},
		{"qualifiers", &btf.Typedef{Name: "pid_t", Type: &btf.Const{Type: &btf.Volatile{Type: &btf.Restrict{Type: &btf.TypeTag{Type: s32, Value: "user"}}}}}, le(int32(-9)), int64(-9)},
		{"datasec", &btf.Datasec{Name: ".data", Size: 12, Vars: []btf.VarSecinfo{
			{Type: &btf.Var{Name: "count", Type: u64}, Size: 8},
			{Type: &btf.Var{Name: "level", Type: s16}, Offset: 8, Size: 2}}},
			le(uint64(3), int16(-1), int16(0)),
			output.Record{Names: []string{"count", "level"}, Values: output.Tuple{uint64(3), int64(-1)}}},
	}
	for _, c := range cases {
		got, err := Decode(c.typ, c.b)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		} else if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, got, c.want)
		}
	}
}

// TestBigEndian reads integers, 16-byte integers and bitfields as a
// big-endian host lays them out.
func TestBigEndian(t *testing.T) {
	be := decoder{binary.BigEndian}
	for _, c := range []struct {
		typ  btf.Type
		b    []byte
		want any
	}{
		{s32, []byte{0xff, 0xff, 0xff, 0xfe}, int64(-2)},
		{u128, []byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2}, "0x10000000000000002"},
		// lo=5, mid=-3, col=GREEN, on=1, counted from the most significant bit.
		{flags, binary.BigEndian.AppendUint32(nil, 5<<29|13<<25|5<<21|1<<15),
			output.Record{Names: []string{"lo", "mid", "col", "on"}, Values: output.Tuple{uint64(5), int64(-3), "GREEN", true}}},
	} {
		got, err := be.decode(c.typ, c.b, 0)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v: got %#v, %v, want %#v", c.typ, got, err, c.want)
		}
	}
}

func TestErrors(t *testing.T) {
	self := &btf.Struct{Name: "self", Size: 4}
	self.Members = []btf.Member{{Name: "again", Type: self}}
	cases := []struct {
		typ  btf.Type
		b    []byte
		want error
		msg  string
	}{
		{s32, []byte{1, 2, 3}, ErrShort, "int: 3 bytes for 4: bytes shorter than their type"},
		{u128, make([]byte, 15), ErrShort, "15 bytes for a 16-byte integer: bytes shorter than their type"},
		{task, make([]byte, 7), ErrShort, "struct task: 7 bytes for 8: bytes shorter than their type"},
		{array(s32, 3), make([]byte, 11), ErrShort, "int[3]: 11 bytes for 12: bytes shorter than their type"},
		{&btf.Datasec{Name: ".bss", Size: 4, Vars: []btf.VarSecinfo{{Type: &btf.Var{Name: "v", Type: u64}, Size: 8}}}, make([]byte, 8), ErrShort,
			".bss: variable at 0 past its 4 bytes: bytes shorter than their type"},
		{&btf.Struct{Name: "lying", Size: 2, Members: []btf.Member{{Name: "v", Type: u32}}}, make([]byte, 8), ErrShort,
			"struct lying: member v: unsigned int: 2 bytes for 4: bytes shorter than their type"},
		{&btf.Func{Name: "f", Type: &btf.FuncProto{Return: s32}}, make([]byte, 8), ErrUnsupported, "function f: type without a decodable value"},
		{&btf.FuncProto{Return: s32}, make([]byte, 8), ErrUnsupported, "function type: type without a decodable value"},
		{&btf.Fwd{Name: "sk_buff"}, make([]byte, 8), ErrUnsupported, "struct sk_buff (declared only): type without a decodable value"},
		{&btf.Void{}, make([]byte, 8), ErrUnsupported, "void: type without a decodable value"},
		{nil, make([]byte, 8), ErrUnsupported, "no type: type without a decodable value"},
		{&btf.Int{Name: "odd", Size: 3}, make([]byte, 8), ErrUnsupported, "odd: type without a decodable value: 3-byte integer"},
		{&btf.Float{Name: "long double", Size: 16}, make([]byte, 16), ErrUnsupported, "long double: type without a decodable value: 16-byte float"},
		{&btf.Struct{Name: "odd", Size: 4, Members: []btf.Member{{Name: "v", Type: u8, Offset: 3}}}, make([]byte, 4), ErrUnsupported,
			"struct odd: member v: type without a decodable value: offset of 3 bits"},
		{&btf.Struct{Name: "anon", Size: 4, Members: []btf.Member{{Type: &btf.Union{Size: 8}}}}, make([]byte, 4), ErrShort,
			"struct anon: member (anonymous): union: 4 bytes for 8: bytes shorter than their type"},
		{&btf.Struct{Name: "bits", Size: 4, Members: []btf.Member{{Name: "v", Type: task, BitfieldSize: 3}}}, make([]byte, 4), ErrUnsupported,
			"struct bits: member v: type without a decodable value: bitfield of struct task"},
	}
	for _, c := range cases {
		_, err := Decode(c.typ, c.b)
		if !errors.Is(err, c.want) {
			t.Errorf("%v: got %v, want %v", c.typ, err, c.want)
		} else if err.Error() != c.msg {
			t.Errorf("%v: got %q, want %q", c.typ, err, c.msg)
		}
	}
	if _, err := Decode(self, make([]byte, 4)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("a struct that holds itself: got %v, want %v", err, ErrUnsupported)
	}
}

// printed is m as the text writer prints it.
func printed(t *testing.T, m *output.Map) string {
	t.Helper()
	var b bytes.Buffer
	w := output.NewText(&b)
	w.Print(m)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestMap(t *testing.T) {
	m, err := Map("tasks", task, u64, []Elem{
		{Key: le(uint32(7), "sh\x00\x00"), Values: [][]byte{le(uint64(3))}},
		{Key: le(uint32(1), "bash"), Values: [][]byte{le(uint64(3))}},
		{Key: le(uint32(2), "\x01\x02\x00\x00"), Values: [][]byte{le(uint64(1))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `@tasks[{ .pid = 2, .comm = [1,2,0,0] }]: 1` + "\n" +
		`@tasks[{ .pid = 1, .comm = "bash" }]: 3` + "\n" +
		`@tasks[{ .pid = 7, .comm = "sh" }]: 3` + "\n"
	if got := printed(t, m); got != want {
		t.Errorf("got:\n%swant:\n%s", got, want)
	}

	// Per-CPU integers are summed, other per-CPU values listed; values
	// are padded to 8 bytes per CPU.
	m, err = Map("percpu", s32, s32, []Elem{{Key: le(int32(1)), Values: [][]byte{le(int32(-3), int32(0)), le(int32(10), int32(0))}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := printed(t, m), "@percpu[1]: 7\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	m, err = Map("percpu", u32, task, []Elem{{Key: le(uint32(0)), Values: [][]byte{le(uint32(1), "a\x00\x00\x00"), le(uint32(2), "b\x00\x00\x00")}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := printed(t, m), `@percpu[0]: [{ .pid = 1, .comm = "a" },{ .pid = 2, .comm = "b" }]`+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	for _, c := range []struct {
		elem Elem
		msg  string
	}{
		{Elem{Key: le(uint16(1)), Values: [][]byte{le(uint64(0))}}, "map bad: element 0: key: unsigned int: 2 bytes for 4: bytes shorter than their type"},
		{Elem{Key: le(uint32(1)), Values: [][]byte{le(uint64(0)), le(uint16(0))}}, "map bad: element 0: value of CPU 1: unsigned long: 2 bytes for 8: bytes shorter than their type"},
		{Elem{Key: le(uint32(1))}, "map bad: element 0: no value"},
	} {
		if _, err := Map("bad", u32, u64, []Elem{c.elem}); err == nil || err.Error() != c.msg {
			t.Errorf("got %v, want %s", err, c.msg)
		}
	}
}

func TestSlots(t *testing.T) {
	// Slots 0, 3 and 10 of a per-CPU array: 1, 2+3 and 0+1 values.
	h, err := Slots(u32, u64, []Elem{
		{Key: le(uint32(0)), Values: [][]byte{le(uint64(1)), le(uint64(0))}},
		{Key: le(uint32(3)), Values: [][]byte{le(uint64(2)), le(uint64(3))}},
		{Key: le(uint32(10)), Values: [][]byte{le(uint64(0)), le(uint64(1))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := (output.HistValue{2: 1, 5: 5, 12: 1}); !reflect.DeepEqual(h, want) {
		t.Errorf("got %v, want %v", h, want)
	}
	m := &output.Map{Name: "@sizes", Kind: output.Hist, Entries: []output.Entry{{Value: h}}}
	want := "@sizes:\n" +
		"[1]                    1 |@@@@@@@@@@                                          |\n" +
		"[2, 4)                 0 |                                                    |\n" +
		"[4, 8)                 0 |                                                    |\n" +
		"[8, 16)                5 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n" +
		"[16, 32)               0 |                                                    |\n" +
		"[32, 64)               0 |                                                    |\n" +
		"[64, 128)              0 |                                                    |\n" +
		"[128, 256)             0 |                                                    |\n" +
		"[256, 512)             0 |                                                    |\n" +
		"[512, 1K)              0 |                                                    |\n" +
		"[1K, 2K)               1 |@@@@@@@@@@                                          |\n" +
		"\n"
	if got := printed(t, m); got != want {
		t.Errorf("got:\n%swant:\n%s", got, want)
	}

	// Any integer width; signed counts.
	h, err = Slots(u8, s32, []Elem{{Key: []byte{63}, Values: [][]byte{le(int32(4))}}})
	if want := (output.HistValue{65: 4}); err != nil || !reflect.DeepEqual(h, want) {
		t.Errorf("got %v, %v, want %v", h, err, want)
	}

	for _, c := range []struct {
		key, value btf.Type
		elem       Elem
		msg        string
	}{
		{s64, u64, Elem{Key: le(int64(-1)), Values: [][]byte{le(uint64(1))}}, "slot key: -1 is negative"},
		{u32, u64, Elem{Key: le(uint32(64)), Values: [][]byte{le(uint64(1))}}, "slot 64 is past 63"},
		{task, u64, Elem{Key: le(uint32(1), "a\x00\x00\x00"), Values: [][]byte{le(uint64(1))}}, "its keys are struct task, not log2 slots (integers)"},
		{u32, s64, Elem{Key: le(uint32(2)), Values: [][]byte{le(int64(-4))}}, "slot 2: count: -4 is negative"},
		{u32, task, Elem{Key: le(uint32(2)), Values: [][]byte{le(uint64(1))}}, "its values are struct task, not counts (integers)"},
		{u32, u64, Elem{Key: le(uint16(2)), Values: [][]byte{le(uint64(1))}}, "slot key: unsigned int: 2 bytes for 4: bytes shorter than their type"},
		{u32, u64, Elem{Key: le(uint32(2)), Values: [][]byte{le(uint32(1))}}, "slot 2: unsigned long: 4 bytes for 8: bytes shorter than their type"},
	} {
		if _, err := Slots(c.key, c.value, []Elem{c.elem}); err == nil || err.Error() != c.msg {
			t.Errorf("got %v, want %s", err, c.msg)
		}
	}
}

// FuzzDecode decodes random bytes as every kind of type: it may fail,
// with ErrShort exactly when the bytes are shorter than the type, but it
// never panics.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add(le(uint32(0x1feed), "sh\x00\x00", int16(-3), int16(0), int32(0), uint64(1)))
	f.Add([]byte("comm\x00\xff\xfe\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09"))
	types := []btf.Type{u8, s16, u32, s64, u128, boo, color, big, task, word, flags, outer,
		array(char, 8), array(byt, 3), array(array(char, 3), 2), array(task, 2),
		&btf.Float{Name: "float", Size: 4}, &btf.Float{Name: "double", Size: 8}}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, typ := range types {
			size, err := btf.Sizeof(typ)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Decode(typ, b)
			if short := len(b) < size; short != errors.Is(err, ErrShort) || !short && err != nil {
				t.Errorf("%v on %d bytes: %v", typ, len(b), err)
			}
		}
	})
}
