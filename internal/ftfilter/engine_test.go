package ftfilter_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/engine"
	"github.com/ebtrace/ebtrace/internal/filter"
	"github.com/ebtrace/ebtrace/internal/ftfilter"
	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

// The differential test runs both sides in the user-space engine: the
// script's compiled predicate (`/PRED/ { @ = count(); }`, kept when @
// grows) and the translated filter as internal/filter compiles it with
// the kernel's filter semantics (its parity test holds it to the kernel's).

// events are the fake tracefs events the test draws from: syscall slots
// read narrower than they are, signed and unsigned fields of every width,
// char arrays and a __data_loc string.
var events = []kernel.Tracepoint{
	{Category: "syscalls", Name: "sys_enter_write"},
	{Category: "syscalls", Name: "sys_enter_openat"},
	{Category: "sched", Name: "sched_switch"},
	{Category: "sched", Name: "sched_process_exec"},
	{Category: "task", Name: "task_rename"},
	{Category: "kmem", Name: "kmalloc"},
}

// typedefs is a kernel BTF holding the typedefs the syscall events'
// arguments are declared with, as on x86-64, so that compiling with it
// reads them at their declared width.
func typedefs() *btf.Spec {
	u16 := &btf.Int{Name: "unsigned short", Size: 2}
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	u64 := &btf.Int{Name: "unsigned long", Size: 8}
	b, err := btf.NewBuilder([]btf.Type{
		&btf.Typedef{Name: "size_t", Type: u64},
		&btf.Typedef{Name: "umode_t", Type: u16},
		&btf.Typedef{Name: "pid_t", Type: i32},
	}, nil)
	if err != nil {
		panic(err)
	}
	spec, err := b.Spec()
	if err != nil {
		panic(err)
	}
	return spec
}

// gen draws predicates and events for one format.
type gen struct {
	r      *rand.Rand
	f      *kernel.Format
	nums   []kernel.Field
	strs   []kernel.Field
	consts []uint64 // every constant a predicate used, for records near them
	lits   []string // every string literal a predicate used
}

func newGen(r *rand.Rand, f *kernel.Format) *gen {
	g := &gen{r: r, f: f}
	for _, fl := range f.ArgFields() {
		switch {
		case fl.IsString && strings.Contains(fl.Type, "char") && (fl.DataLoc || fl.ArrayLen > 0):
			g.strs = append(g.strs, fl)
		case !fl.Pointer && !fl.DataLoc && fl.ArrayLen == 0:
			g.nums = append(g.nums, fl)
		}
	}
	return g
}

// boundaries are integers where readings and comparisons change.
var boundaries = []uint64{
	0, 1, 2, 3, 5, 100, 127, 128, 255, 256, 0x7fff, 0x8000, 0xffff, 0x10000,
	1<<31 - 1, 1 << 31, 1<<32 - 1, 1 << 32, 1<<63 - 1, 1 << 63, 1<<64 - 1,
	1<<64 - 2, 1<<64 - 100, 1<<64 - 1<<31, 1<<64 - 1<<31 - 1, // -2, -100, -2^31, -2^31-1
}

// strPool are strings of the lengths that matter: empty, short, the
// longest that fit comm and char[16], and around a __data_loc buffer.
var strPool = []string{
	"", "a", "ab", "bash", "x'y", `x"y`, "a b",
	"0123456789abcd", "0123456789abcde", "0123456789abcdef",
	strings.Repeat("p", 61), strings.Repeat("p", 62), strings.Repeat("p", 63), strings.Repeat("p", 64),
}

func (g *gen) pick(n int) int { return g.r.IntN(n) }

func (g *gen) constant() string {
	v := boundaries[g.pick(len(boundaries))]
	if g.pick(3) == 0 {
		v += uint64(g.pick(3)) - 1
	}
	g.consts = append(g.consts, v)
	switch g.pick(4) {
	case 0:
		return "0x" + strconv.FormatUint(v, 16)
	case 1:
		if int64(v) < 0 && v != 1<<63 {
			return "-" + strconv.FormatUint(-v, 10)
		}
	}
	return strconv.FormatUint(v, 10)
}

func (g *gen) literal() string {
	s := strPool[g.pick(len(strPool))]
	g.lits = append(g.lits, s)
	return strconv.Quote(s)
}

var cmpOps = []string{"==", "!=", "<", "<=", ">", ">="}

// numeric is an integer operand: a field or tid/cpu.
func (g *gen) numeric() string {
	if len(g.nums) == 0 || g.pick(4) == 0 {
		return []string{"tid", "cpu"}[g.pick(2)]
	}
	fl := g.nums[g.pick(len(g.nums))]
	return []string{"args.", "args->"}[g.pick(2)] + fl.Name
}

func (g *gen) atom() string {
	switch g.pick(9) {
	case 0, 1, 2:
		x, c := g.numeric(), g.constant()
		op := cmpOps[g.pick(len(cmpOps))]
		if g.pick(2) == 0 {
			return c + " " + op + " " + x
		}
		return x + " " + op + " " + c
	case 3:
		return g.numeric()
	case 4:
		x, c := g.numeric(), g.constant()
		switch g.pick(3) {
		case 0:
			return x + " & " + c
		case 1:
			return "(" + c + " & " + x + ") == 0"
		}
		return "(" + x + " & " + c + ") != 0"
	case 5, 6:
		x := "comm"
		if len(g.strs) > 0 && g.pick(3) > 0 {
			x = "args." + g.strs[g.pick(len(g.strs))].Name
		}
		op := []string{"==", "!="}[g.pick(2)]
		if g.pick(2) == 0 {
			return g.literal() + " " + op + " " + x
		}
		return x + " " + op + " " + g.literal()
	}
	// Untranslatable: pid, arithmetic, two fields.
	switch g.pick(3) {
	case 0:
		return "pid == " + g.constant()
	case 1:
		return g.numeric() + " + 1 > " + g.constant()
	}
	return "comm == comm"
}

func (g *gen) expr(depth int) string {
	if depth == 0 || g.pick(3) == 0 {
		return g.atom()
	}
	switch g.pick(4) {
	case 0:
		return "!(" + g.expr(depth-1) + ")"
	case 1:
		return "(" + g.expr(depth-1) + " || " + g.expr(depth-1) + ")"
	}
	return g.expr(depth-1) + " && " + g.expr(depth-1)
}

// event is one record of the format, with the task and CPU it ran on.
type event struct {
	raw []byte
	env *engine.Env
}

func (g *gen) integer() uint64 {
	var v uint64
	switch g.pick(4) {
	case 0:
		v = g.r.Uint64()
	case 1:
		v = boundaries[g.pick(len(boundaries))]
	default:
		if len(g.consts) > 0 {
			v = g.consts[g.pick(len(g.consts))] + uint64(g.pick(3)) - 1
		}
	}
	if g.pick(4) == 0 {
		// A syscall slot's high half, which a narrower type drops.
		v ^= uint64(g.r.Uint32()) << 32
	}
	return v
}

func (g *gen) text() string {
	if len(g.lits) > 0 && g.pick(3) > 0 {
		s := g.lits[g.pick(len(g.lits))]
		if g.pick(3) == 0 {
			s += "z"
		}
		return s
	}
	return strPool[g.pick(len(strPool))]
}

func (g *gen) event() event {
	size := 0
	for _, fl := range g.f.Fields {
		size = max(size, fl.Offset+fl.Size)
	}
	raw := make([]byte, size)
	// A thread id is below the kernel's PID_MAX_LIMIT, 2^22.
	tid := uint32(1 + g.pick(200))
	if c := g.integer(); c < 1<<22 {
		tid = uint32(c)
	}
	binary.LittleEndian.PutUint16(raw, uint16(g.f.ID))
	binary.LittleEndian.PutUint32(raw[4:], tid)
	for _, fl := range g.f.ArgFields() {
		switch {
		case fl.DataLoc:
			s := g.text()
			binary.LittleEndian.PutUint32(raw[fl.Offset:], uint32(len(s)+1)<<16|uint32(len(raw)))
			raw = append(append(raw, s...), 0)
		case fl.ArrayLen > 0:
			s := g.text()
			field := raw[fl.Offset : fl.Offset+fl.Size]
			copy(field, s)
			if len(s) < len(field)-1 && g.pick(3) == 0 {
				field[len(s)+1] = 'G' // bytes after the NUL
			}
		default:
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], g.integer())
			copy(raw[fl.Offset:fl.Offset+fl.Size], b[:])
		}
	}
	env := &engine.Env{CPU: g.pick(4), PID: tid, TGID: tid + uint32(g.pick(2))}
	comm := g.text()
	copy(env.Comm[:15], comm)
	return event{raw: raw, env: env}
}

// predicateRun compiles `/pred/ { @ = count(); }` on the event and returns
// a function that reports whether the predicate keeps an event, or nil
// when the script does not compile (a generated predicate may not check).
func predicateRun(t *testing.T, env *probe.Env, tp kernel.Tracepoint, pred string) func(event) bool {
	script := fmt.Sprintf("tracepoint:%s:%s /%s/ { @ = count(); }", tp.Category, tp.Name, pred)
	res, err := compile.Compile(source.NewFile("test.bt", script), all.Registry(), env, compile.Options{Plan: plan.DefaultOptions})
	if err != nil {
		return nil
	}
	coll, err := engine.NewCollection(res.Spec(), 4)
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	prog := coll.Programs[res.Programs[0].Name]
	counter := coll.Maps[res.Plan.Maps[0].BPFName]
	key := make([]byte, counter.KeySize())
	total := func() uint64 {
		n := uint64(0)
		for _, v := range counter.Values(key) {
			n += binary.LittleEndian.Uint64(v)
		}
		return n
	}
	return func(e event) bool {
		before := total()
		if _, err := prog.Run(e.raw, e.env); err != nil {
			t.Fatalf("%s: %v", script, err)
		}
		return total() > before
	}
}

// filterRun compiles an ftrace filter with internal/filter for the engine.
func filterRun(t *testing.T, f *kernel.Format, text string) func(event) bool {
	expr, err := filter.Parse(text)
	if err != nil {
		t.Fatalf("filter %q does not parse: %v", text, err)
	}
	insns, err := filter.Compile(expr, f, filter.Options{})
	if err != nil {
		t.Fatalf("filter %q does not compile: %v", text, err)
	}
	prog, err := engine.NewProgram(insns, nil)
	if err != nil {
		t.Fatalf("filter %q: %v", text, err)
	}
	return func(e event) bool {
		r0, err := prog.Run(e.raw, e.env)
		if err != nil {
			t.Fatalf("filter %q: %v", text, err)
		}
		return r0 == 1
	}
}

// outcome tallies what one seed tested.
type outcome struct {
	compiled, translated, exact bool
	kept, dropped               int // events the predicate kept and dropped
}

// checkSeed draws a predicate and events from seed and checks that the
// translated filter keeps every event the predicate keeps, and exactly
// those when Translate says it is exact.
func checkSeed(t *testing.T, seed uint64) outcome {
	r := rand.New(rand.NewPCG(seed, seed>>32^0x9e3779b97f4a7c15))
	tp := events[r.IntN(len(events))]
	env := &probe.Env{Events: func() (*kernel.Events, error) { return kerneltest.Fake(), nil }}
	if r.IntN(2) == 0 {
		env.KernelTypes = func() (*btf.Spec, error) { return typedefs(), nil }
	}
	f, err := kerneltest.Fake().Format(tp.Category, tp.Name)
	if err != nil {
		t.Fatal(err)
	}
	g := newGen(r, f)
	text := g.expr(3)
	var out outcome
	keeps := predicateRun(t, env, tp, text)
	if keeps == nil {
		return out
	}
	out.compiled = true
	prog, err := syntax.Parse(source.NewFile("test.bt", fmt.Sprintf("tracepoint:%s:%s /%s/ { }", tp.Category, tp.Name, text)))
	if err != nil {
		t.Fatal(err)
	}
	ft, exact := ftfilter.Translate(prog.Probes[0].Pred, f)
	if ft == "" {
		return out
	}
	out.translated, out.exact = true, exact
	passes := filterRun(t, f, ft)
	for range 200 {
		e := g.event()
		k, p := keeps(e), passes(e)
		if k {
			out.kept++
		} else {
			out.dropped++
		}
		switch {
		case k && !p:
			t.Fatalf("seed %d, %s /%s/: filter %q drops an event the predicate keeps: %x, tid %d, cpu %d, comm %q",
				seed, tp, text, ft, e.raw, e.env.PID, e.env.CPU, e.env.Comm)
		case exact && !k && p:
			t.Fatalf("seed %d, %s /%s/: exact filter %q keeps an event the predicate drops: %x, tid %d, cpu %d, comm %q",
				seed, tp, text, ft, e.raw, e.env.PID, e.env.CPU, e.env.Comm)
		}
	}
	return out
}

// TestAgreesWithPredicate runs 600 seeds and checks that they test
// something: most predicates compile, many translate exactly, and the
// events of translated ones are both kept and dropped.
func TestAgreesWithPredicate(t *testing.T) {
	var compiled, translated, exact, mixed int
	for seed := range uint64(600) {
		out := checkSeed(t, seed)
		if out.compiled {
			compiled++
		}
		if out.translated {
			translated++
		}
		if out.exact {
			exact++
		}
		if out.kept > 0 && out.dropped > 0 {
			mixed++
		}
	}
	t.Logf("600 predicates: %d compiled, %d translated, %d exactly; %d saw events both kept and dropped", compiled, translated, exact, mixed)
	if compiled < 500 || translated < 200 || exact < 100 || mixed < 100 {
		t.Errorf("the generator tests too little: want at least 500 compiled, 200 translated, 100 exactly, 100 with events kept and dropped")
	}
}

// FuzzTranslate draws a predicate, a format and events from its input.
func FuzzTranslate(f *testing.F) {
	for seed := range uint64(10) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { checkSeed(t, seed) })
}
