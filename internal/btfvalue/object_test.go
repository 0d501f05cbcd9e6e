package btfvalue

import (
	"reflect"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// TestObject decodes the initialised global of testdata/types.bpf.c, as
// clang laid it out and described it in BTF, three ways: as the variable,
// as its .data section, and as the value of the map declared with its
// type; each must hold what the C initialisers say.
func TestObject(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec(testutil.BuildBPF(t, "testdata/types.bpf.c"))
	if err != nil {
		t.Fatal(err)
	}
	every := spec.Variables["every"]
	// clang 14 marks no enum signed (the flag came with clang 15), which
	// decides how `other`, an enum color that names no enumerator, reads.
	var other any = uint64(3)
	for _, m := range spec.Maps["seen"].Value.(*btf.Struct).Members {
		if e, ok := m.Type.(*btf.Enum); ok && m.Name == "other" && e.Signed {
			other = int64(3)
		}
	}
	inner := func(x int64, tag string) output.Record {
		return output.Record{Names: []string{"x", "tag"}, Values: output.Tuple{x, tag}}
	}
	want := output.Record{
		Names: []string{"u8v", "s8v", "u16v", "s16v", "u32v", "s32v", "u64v", "s64v", "flag", "name", "raw", "mac", "nums",
			"in", "pair", "word", "half", "u", "color", "other", "lo", "mid", "col", "on", "ptr", "d", "f", "cv", "big", "anon_a"},
		Values: output.Tuple{uint64(250), int64(-7), uint64(65000), int64(-300), uint64(4000000000), int64(-70000),
			uint64(18000000000000000000), int64(-5000000000), true, "hello",
			output.Array{uint64(1), uint64(2), uint64(250), uint64(0)},
			output.Array{uint64('a'), uint64('b'), uint64(0)},
			output.Array{int64(1), int64(-2), int64(3)},
			inner(-1, "ab"), output.Array{inner(10, "p"), inner(20, "q")},
			uint64(0x00010002), uint64(2),
			output.Record{Names: []string{"i", "b"}, Values: output.Tuple{int64(-1), output.Array{uint64(255), uint64(255), uint64(255), uint64(255)}}},
			"BLUE", other, uint64(5), int64(-3), "GREEN", true, output.Pointer(0xffff888000001234), -2.5, 0.75, int64(42),
			"0x100000000000000ff", int64(9)},
	}

	got, err := Decode(every.Type, every.Value)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("every:\n got %#v\nwant %#v", got, want)
	}

	data := spec.Maps[".data"]
	got, err = Decode(data.Value, data.Contents[0].Value.([]byte))
	if err != nil {
		t.Fatal(err)
	}
	if w := (output.Record{Names: []string{"every"}, Values: output.Tuple{want}}); !reflect.DeepEqual(got, w) {
		t.Errorf(".data:\n got %#v\nwant %#v", got, w)
	}

	seen := spec.Maps["seen"]
	m, err := Map("seen", seen.Key, seen.Value, []Elem{{Key: le(int16(-1), "ab\x00\x00"), Values: [][]byte{every.Value}}})
	if err != nil {
		t.Fatal(err)
	}
	text := `@seen[{ .x = -1, .tag = "ab" }]: { .u8v = 250, .s8v = -7, .u16v = 65000, .s16v = -300, .u32v = 4000000000, .s32v = -70000, ` +
		`.u64v = 18000000000000000000, .s64v = -5000000000, .flag = true, .name = "hello", .raw = [1,2,250,0], .mac = [97,98,0], .nums = [1,-2,3], ` +
		`.in = { .x = -1, .tag = "ab" }, .pair = [{ .x = 10, .tag = "p" },{ .x = 20, .tag = "q" }], .word = 65538, .half = 2, ` +
		`.u = { .i = -1, .b = [255,255,255,255] }, .color = "BLUE", .other = 3, .lo = 5, .mid = -3, .col = "GREEN", .on = true, ` +
		`.ptr = 0xffff888000001234, .d = -2.5, .f = 0.75, .cv = 42, .big = "0x100000000000000ff", .anon_a = 9 }` + "\n"
	if got := printed(t, m); got != text {
		t.Errorf("got:\n%swant:\n%s", got, text)
	}
}
