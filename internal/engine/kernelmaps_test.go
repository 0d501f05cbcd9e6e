package engine_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/engine"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// errnos are the answers of map operations compared with the kernel's.
var errnos = []syscall.Errno{syscall.E2BIG, syscall.EEXIST, syscall.ENOENT, syscall.EINVAL}

func errnoOf(err error) string {
	if err == nil {
		return "ok"
	}
	for _, e := range errnos {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return err.Error()
}

// TestKernelMapUpdates applies the same updates and deletes from user
// space to kernel maps and engine maps, and compares each answer and the
// keys left. LRU hashes are left out: the kernel's eviction is
// approximate, the engine's exact (TestLRU).
func TestKernelMapUpdates(t *testing.T) {
	testutil.RequireRoot(t)
	type op struct {
		del   bool
		key   uint32
		flags uint64
	}
	ops := []op{
		{key: 1}, {key: 2, flags: engine.UpdateNoExist}, {key: 1, flags: engine.UpdateNoExist},
		{key: 3, flags: engine.UpdateExist}, {key: 2, flags: engine.UpdateExist}, {key: 3}, {key: 4},
		{key: 5}, {key: 6, flags: engine.UpdateNoExist}, {key: 2, flags: 7}, {del: true, key: 9},
		{del: true, key: 2}, {key: 5}, {key: 3},
	}
	for _, typ := range []ebpf.MapType{ebpf.Hash, ebpf.PerCPUHash, ebpf.Array, ebpf.PerCPUArray} {
		t.Run(typ.String(), func(t *testing.T) {
			spec := &ebpf.MapSpec{Name: "m", Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: 4}
			km, err := ebpf.NewMap(spec)
			if err != nil {
				t.Fatal(err)
			}
			defer km.Close()
			perCPU := typ == ebpf.PerCPUHash || typ == ebpf.PerCPUArray
			ncpu := 1
			if perCPU {
				ncpu, err = ebpf.PossibleCPU()
				if err != nil {
					t.Fatal(err)
				}
			}
			em, err := engine.NewMap(spec, ncpu)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range ops {
				key := binary.LittleEndian.AppendUint32(nil, o.key)
				value := make([]byte, 8*ncpu)
				for c := range ncpu {
					binary.LittleEndian.PutUint64(value[8*c:], uint64(o.key)<<8|uint64(c))
				}
				var kerr, eerr error
				if o.del {
					kerr, eerr = km.Delete(o.key), em.Delete(key)
				} else {
					var kvalue any = value
					if perCPU {
						values := make([]uint64, ncpu)
						for c := range values {
							values[c] = binary.LittleEndian.Uint64(value[8*c:])
						}
						kvalue = values
					}
					kerr = km.Update(o.key, kvalue, ebpf.MapUpdateFlags(o.flags))
					cpu := 0
					if perCPU {
						cpu = engine.AllCPUs
					}
					eerr = em.Update(key, value, cpu, o.flags)
				}
				if k, e := errnoOf(kerr), errnoOf(eerr); k != e {
					t.Errorf("%+v: kernel %s, engine %s", o, k, e)
				}
			}
			var kkeys []uint32
			var k uint32
			for err := km.NextKey(nil, &k); err == nil; err = km.NextKey(k, &k) {
				kkeys = append(kkeys, k)
			}
			kset := fmt.Sprint(sorted(kkeys))
			var ekeys []uint32
			for _, key := range em.Keys() {
				ekeys = append(ekeys, binary.LittleEndian.Uint32(key))
			}
			if eset := fmt.Sprint(sorted(ekeys)); kset != eset {
				t.Errorf("keys: kernel %s, engine %s", kset, eset)
			}
		})
	}
}

func sorted(s []uint32) []uint32 {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// TestKernelMapHelpers runs map helpers from a program in both: updates
// past a full hash, lookups, deletes and for_each_map_elem, each return
// value a result.
func TestKernelMapHelpers(t *testing.T) {
	c := cases{maps: []*ebpf.MapSpec{{Name: "h", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 3}}}
	callHelper := func(name string, setup ...asm.Instruction) {
		c.add(name, append(setup, asm.Mov.Reg(asm.R1, asm.R0))...)
	}
	keyAt := func(k int32) []asm.Instruction {
		return []asm.Instruction{stImm(asm.R10, -4, int64(k), asm.Word), stImm(asm.R10, -16, int64(k)*10, asm.DWord)}
	}
	update := func(k int32, flags int32) {
		callHelper(fmt.Sprintf("update %d flags %d", k, flags), append(keyAt(k),
			asm.LoadMapPtr(asm.R1, 0).WithReference("h"),
			asm.Mov.Reg(asm.R2, asm.R10), asm.Add.Imm(asm.R2, -4),
			asm.Mov.Reg(asm.R3, asm.R10), asm.Add.Imm(asm.R3, -16),
			asm.Mov.Imm(asm.R4, flags), asm.FnMapUpdateElem.Call())...)
	}
	lookup := func(k int32) {
		c.add(fmt.Sprintf("lookup %d", k), append(keyAt(k),
			asm.LoadMapPtr(asm.R1, 0).WithReference("h"),
			asm.Mov.Reg(asm.R2, asm.R10), asm.Add.Imm(asm.R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.Mov.Imm(asm.R1, -1),
			asm.JEq.Imm(asm.R0, 0, "absent"+fmt.Sprint(len(c.names))),
			asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
			asm.Add.Imm(asm.R1, 1),
			asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord), // written through the pointer: the next lookup sees it
			asm.Mov.Reg(asm.R1, asm.R1).WithSymbol("absent"+fmt.Sprint(len(c.names))))...)
	}
	del := func(k int32) {
		callHelper(fmt.Sprintf("delete %d", k), append(keyAt(k),
			asm.LoadMapPtr(asm.R1, 0).WithReference("h"),
			asm.Mov.Reg(asm.R2, asm.R10), asm.Add.Imm(asm.R2, -4),
			asm.FnMapDeleteElem.Call())...)
	}
	forEach := func() {
		callHelper("for_each",
			asm.LoadMapPtr(asm.R1, 0).WithReference("h"),
			asm.Instruction{OpCode: asm.LoadImmOp(asm.DWord), Dst: asm.R2, Src: asm.PseudoFunc, Constant: -1}.WithReference("visit"),
			asm.Mov.Imm(asm.R3, 0), asm.Mov.Imm(asm.R4, 0),
			asm.FnForEachMapElem.Call())
	}
	update(1, 0)
	update(2, 1)
	update(2, 1)
	update(3, 2)
	update(3, 0)
	update(4, 0)
	update(4, 2)
	lookup(1)
	lookup(1)
	lookup(4)
	forEach()
	del(2)
	del(2)
	forEach()
	lookup(1)
	c.funcs = asm.Instructions{
		// visit doubles each value and goes on
		btf.WithFuncMetadata(asm.LoadMem(asm.R1, asm.R3, 0, asm.DWord).WithSymbol("visit"), callback("visit")),
		asm.Add.Reg(asm.R1, asm.R1),
		asm.StoreMem(asm.R3, 0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
	}
	compare(t, &c)
}

// callback is the BTF of a for_each_map_elem callback, which the verifier
// asks for.
func callback(name string) *btf.Func {
	u64 := &btf.Int{Name: "u64", Size: 8}
	ptr := &btf.Pointer{Target: &btf.Void{}}
	return &btf.Func{Name: name, Linkage: btf.StaticFunc, Type: &btf.FuncProto{
		Return: u64,
		Params: []btf.FuncParam{{Name: "map", Type: ptr}, {Name: "key", Type: ptr}, {Name: "value", Type: ptr}, {Name: "ctx", Type: ptr}},
	}}
}

// TestKernelRingbuf fills a ring buffer nobody reads with outputs and
// reservations of several sizes, each answer a result, then queries it.
func TestKernelRingbuf(t *testing.T) {
	c := cases{maps: []*ebpf.MapSpec{{Name: "rb", Type: ebpf.RingBuf, MaxEntries: 4096}}}
	n := 0
	for _, size := range []int32{8, 24, 100, 120} {
		for range 16 {
			c.add(fmt.Sprintf("output #%d of %d bytes", n, size),
				asm.LoadMapPtr(asm.R1, 0).WithReference("rb"),
				asm.Mov.Reg(asm.R2, asm.R10), asm.Add.Imm(asm.R2, -128),
				asm.Mov.Imm(asm.R3, size), asm.Mov.Imm(asm.R4, 0),
				asm.FnRingbufOutput.Call(),
				asm.Mov.Reg(asm.R1, asm.R0))
			n++
		}
	}
	for i, size := range []int32{8, 16, 2000} {
		label := fmt.Sprint("none", i)
		c.add(fmt.Sprintf("reserve %d bytes", size),
			asm.LoadMapPtr(asm.R1, 0).WithReference("rb"),
			asm.Mov.Imm(asm.R2, size), asm.Mov.Imm(asm.R3, 0),
			asm.FnRingbufReserve.Call(),
			asm.Mov.Imm(asm.R1, 0),
			asm.JEq.Imm(asm.R0, 0, label),
			asm.Mov.Reg(asm.R1, asm.R0), asm.Mov.Imm(asm.R2, 0),
			asm.FnRingbufSubmit.Call(),
			asm.Mov.Imm(asm.R1, 1),
			asm.Mov.Reg(asm.R1, asm.R1).WithSymbol(label))
	}
	for q := int32(0); q < 4; q++ {
		c.add(fmt.Sprintf("query %d", q),
			asm.LoadMapPtr(asm.R1, 0).WithReference("rb"),
			asm.Mov.Imm(asm.R2, q),
			asm.FnRingbufQuery.Call(),
			asm.Mov.Reg(asm.R1, asm.R0))
	}
	stack := make([]asm.Instruction, 0, 16)
	for off := int16(-128); off < 0; off += 8 {
		stack = append(stack, stImm(asm.R10, off, int64(off), asm.DWord))
	}
	c.insns = append(stack, c.insns...)
	compare(t, &c)
}
