package tracer_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/tracer"
	"github.com/ebtrace/ebtrace/internal/tracetest"
)

// fakeBackend runs no program: its maps hold what a test put in them and
// its event stream what the test queued; running END queues atEnd.
type fakeBackend struct {
	res    *compile.Result
	maps   map[string]*fakeMap
	events *fakeReader
	atEnd  [][]byte
	// calls lists Stop and Run as they came.
	calls []string
}

func (f *fakeBackend) Result() *compile.Result { return f.res }

func (f *fakeBackend) Map(name string) tracer.Map {
	if m, ok := f.maps[name]; ok {
		return m
	}
	return nil
}

func (f *fakeBackend) Events() (tracer.EventReader, error) { return f.events, nil }

func (f *fakeBackend) Programs(kind probe.Kind) []*compile.Program {
	var out []*compile.Program
	for _, p := range f.res.Programs {
		if p.Instance.Instance.Kind() == kind {
			out = append(out, p)
		}
	}
	return out
}

func (f *fakeBackend) Run(kind probe.Kind) error {
	if kind != probe.End {
		return fmt.Errorf("the fake runs only END, not kind %d", kind)
	}
	f.calls = append(f.calls, "run END")
	f.events.queue = append(f.events.queue, f.atEnd...)
	return nil
}

func (f *fakeBackend) RunOnce(p *compile.Program) (uint32, error) {
	return 0, errors.New("the fake runs no program")
}

func (f *fakeBackend) Benchmark(p *compile.Program, d time.Duration) (time.Duration, error) {
	return 0, errors.New("the fake runs no program")
}

func (f *fakeBackend) Stop() error {
	f.calls = append(f.calls, "stop")
	return nil
}

// fakeMap is a map in memory, its elements in insertion order.
type fakeMap struct {
	elems []tracer.Element
}

func (m *fakeMap) find(key []byte) int {
	return slices.IndexFunc(m.elems, func(e tracer.Element) bool { return bytes.Equal(e.Key, key) })
}

func (m *fakeMap) Dump() ([]tracer.Element, error) { return slices.Clone(m.elems), nil }

func (m *fakeMap) NextKey(key []byte) ([]byte, error) {
	i := 0
	if key != nil {
		i = m.find(key) + 1
	}
	if i >= len(m.elems) {
		return nil, tracer.ErrKeyNotExist
	}
	return m.elems[i].Key, nil
}

func (m *fakeMap) Lookup(key []byte) ([]byte, error) {
	i := m.find(key)
	if i < 0 {
		return nil, tracer.ErrKeyNotExist
	}
	return m.elems[i].Values[0], nil
}

func (m *fakeMap) Update(key []byte, values [][]byte) error {
	i := m.find(key)
	if i < 0 {
		return tracer.ErrKeyNotExist
	}
	m.elems[i].Values = values
	return nil
}

func (m *fakeMap) Delete(key []byte) error {
	i := m.find(key)
	if i < 0 {
		return tracer.ErrKeyNotExist
	}
	m.elems = slices.Delete(m.elems, i, i+1)
	return nil
}

func (m *fakeMap) MaxEntries() uint32 { return 16 }

// fakeReader hands out the queued records, then reports the deadline
// passed, as an empty ring does.
type fakeReader struct {
	queue  [][]byte
	closed bool
}

func (r *fakeReader) Read() ([]byte, error) {
	if len(r.queue) == 0 {
		return nil, os.ErrDeadlineExceeded
	}
	rec := r.queue[0]
	r.queue = r.queue[1:]
	return rec, nil
}

func (r *fakeReader) SetDeadline(time.Time) {}

func (r *fakeReader) Close() error {
	r.closed = true
	return nil
}

// record lays out an event record of ev with its arguments' bytes.
func record(ev *plan.Event, args ...[]byte) []byte {
	rec := make([]byte, ev.Size)
	binary.LittleEndian.PutUint64(rec, uint64(ev.ID))
	for i, a := range args {
		copy(rec[ev.Args[i].Offset:], a)
	}
	return rec
}

// u64 is the bytes of the integers vs, one after the other.
func u64(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

// str is s in a buffer of n bytes.
func str(s string, n int) []byte {
	b := make([]byte, n)
	copy(b, s)
	return b
}

// eventsOf returns the events of p of a kind, in ID order.
func eventsOf(p *plan.Plan, kind plan.EventKind) []*plan.Event {
	var out []*plan.Event
	for _, ev := range p.Events {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// A session asks its backend for everything it prints: events come from
// the backend's reader, maps from its maps (per-CPU values combined,
// histogram buckets grouped), END from its Run after Stop, lost events
// from its stats map; clear() and zero() change the backend's maps. With
// a fake backend the output is exact, and no kernel is needed.
func TestFakeBackend(t *testing.T) {
	res := tracetest.Compile(t, all.Registry(), tracetest.FakeEnv(false), `BEGIN {
	printf("%s is %d\n", comm, pid);
	@c[comm] = count();
	@h = hist(pid);
	@gone[pid] = sum(pid);
	@z[3] = sum(9);
	print(@c);
	clear(@gone);
	zero(@z);
	exit();
}
END { printf("end %d\n", @c["sh"]); }`, compile.Options{Plan: plan.DefaultOptions})
	p := res.Plan
	printfs := eventsOf(p, plan.Printf)
	if len(printfs) != 2 {
		t.Fatalf("plan has %d printf events, want 2", len(printfs))
	}
	c, h, gone, z := p.Map("c"), p.Map("h"), p.Map("gone"), p.Map("z")
	if !c.PerCPU() {
		t.Fatalf("@c is a %s map, want a per-CPU one", c.Type)
	}
	countKey := func(comm string) []byte { return str(comm, c.KeySize) }
	// A histogram's key ends in its bucket's number.
	bucket := func(i uint64) []byte {
		key := make([]byte, h.KeySize)
		binary.LittleEndian.PutUint64(key[h.KeySize-8:], i)
		return key
	}
	stats := make([]uint64, p.StatCount())
	stats[plan.StatLost] = 3
	fake := &fakeBackend{
		res: res,
		maps: map[string]*fakeMap{
			c.BPFName: {elems: []tracer.Element{
				{Key: countKey("bash"), Values: [][]byte{u64(2), u64(3)}},
				{Key: countKey("sh"), Values: [][]byte{u64(1), u64(0)}},
			}},
			// Rows 2 and 4: the value 1 and the values 4 to 7 (row 0
			// is below zero).
			h.BPFName: {elems: []tracer.Element{
				{Key: bucket(2), Values: [][]byte{u64(1), u64(1)}},
				{Key: bucket(4), Values: [][]byte{u64(0), u64(1)}},
			}},
			gone.BPFName: {elems: []tracer.Element{
				{Key: u64(42), Values: [][]byte{u64(42), u64(0)}},
			}},
			z.BPFName: {elems: []tracer.Element{
				{Key: u64(3), Values: [][]byte{u64(4), u64(5)}},
			}},
			plan.StatsMap: {elems: []tracer.Element{{Key: make([]byte, 4), Values: [][]byte{u64(stats...)}}}},
		},
		atEnd: [][]byte{record(printfs[1], u64(1))},
	}
	fake.events = &fakeReader{queue: [][]byte{
		record(printfs[0], str("bash", 16), u64(42)),
		record(eventsOf(p, plan.Print)[0]),
		record(eventsOf(p, plan.Clear)[0]),
		record(eventsOf(p, plan.Zero)[0]),
		record(eventsOf(p, plan.Exit)[0]),
		// Sent while tracing stopped, after exit(): not printed.
		record(printfs[0], str("late", 16), u64(7)),
	}}
	var out, warn bytes.Buffer
	sess, err := tracer.New(fake, output.NewText(&out), &warn)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Loop(make(chan struct{})); err != nil {
		t.Fatal(err)
	}
	if !sess.Exited() {
		t.Error("the session did not see exit()")
	}
	if err := sess.Finish(); err != nil {
		t.Fatal(err)
	}
	// What ebtrace prints for the same values in the kernel (BEGIN
	// counting as the fake's maps hold), lost events aside.
	want := `bash is 42
@c[sh]: 1
@c[bash]: 5
end 1


@c[sh]: 1
@c[bash]: 5

@h:
[1]                    2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[2, 4)                 0 |                                                    |
[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |

@z[3]: 0
Lost 3 events
`
	if got := out.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if warn.Len() > 0 {
		t.Errorf("warnings: %s", warn.String())
	}
	if want := []string{"stop", "run END"}; !slices.Equal(fake.calls, want) {
		t.Errorf("backend calls %q, want %q", fake.calls, want)
	}
	if n := len(fake.maps[gone.BPFName].elems); n != 0 {
		t.Errorf("clear(@gone) left %d elements", n)
	}
	if got, want := fake.maps[z.BPFName].elems[0].Values, [][]byte{u64(0), u64(0)}; !slices.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("zero(@z) left the values %v, want %v", got, want)
	}
	if !fake.events.closed {
		t.Error("Finish left the event reader open")
	}
}
