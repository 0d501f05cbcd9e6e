// Package shell owns the session of `ebtrace shell`: probe blocks typed one
// at a time and attached at once to the live kernel, sharing their maps as
// one script would; statements run at once as BEGIN would run them; and the
// commands that list, detach, print, clear, save and load probes. It needs
// no terminal: the command line's line editing drives it through Do.
//
// The session keeps the script typed so far. A new block is compiled with
// the whole script, so that the checker sees every use of a map; a
// diagnostic leaves the session as it was. Only the new block's programs
// are loaded, on the maps the session holds (matched by the script's map
// names, since the kernel names follow the map's rank), and attached. The
// plan numbers events in script order, so the earlier programs' events keep
// their numbers in every later compilation and one tracer reads them all,
// reloaded with the newest compilation.
package shell

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/load"
	"github.com/ebtrace/ebtrace/internal/output"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/tracer"
)

// Options configure a session.
type Options struct {
	Registry *probe.Registry
	Env      *probe.Env
	Compile  compile.Options
	// Out receives printf output, printed maps and statement results.
	Out io.Writer
	// Warn receives the tracer's warnings.
	Warn io.Writer
	// Config holds the values the programs read (load.Config).
	Config load.Config
}

// statsRoom is how many more maps than the first compilation's the
// session's counters map holds: it is created once and shared by every
// program, so it must fit the maps typed later.
const statsRoom = 256

// Session is one shell session. Its methods are not safe for concurrent
// use; the event loop runs beside them and is paused around each.
type Session struct {
	opts     Options
	out      *gated
	preamble string   // declarations typed outside probes (config, macros, structs)
	entries  []*entry // the probe blocks, in the order typed
	nextID   int
	res      *compile.Result // the latest compilation of preamble and entries
	view     *load.Object    // res's maps and no program: what the tracer reads
	maps     map[string]*ebpf.Map
	tr       *tracer.Session
	stats    io.Closer
	stop     chan struct{}
	done     chan struct{}
	loopErr  error
	ended    chan struct{}
	endOnce  sync.Once
	closed   bool
}

// entry is one probe block of the session.
type entry struct {
	id   int
	text string
	name string     // its attach points, as typed
	kind probe.Kind // BEGIN and END blocks are kept, not attached
	ran  bool       // a BEGIN block ran without failing
	obj  *load.Object
	// hits and runtime are what the block's programs counted before they
	// were loaded again.
	hits    uint64
	runtime time.Duration
}

// New starts an empty session. BPF run time statistics stay enabled while
// it lives, for `.probes`.
func New(opts Options) (*Session, error) {
	stats, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
	if err != nil {
		return nil, fmt.Errorf("enable BPF run time statistics: %w", err)
	}
	// Every statement's view shares the ring of the first.
	opts.Compile.KeepRing = true
	return &Session{
		opts: opts, out: &gated{Writer: output.NewText(opts.Out)},
		maps: map[string]*ebpf.Map{}, stats: stats, nextID: 1, ended: make(chan struct{}),
	}, nil
}

// Ended is closed when a probe calls exit(): the session should quit.
func (s *Session) Ended() <-chan struct{} { return s.ended }

// Pause stops showing printf output, until Resume; printed maps and
// statement results still show.
func (s *Session) Pause() { s.out.mu.Lock(); s.out.paused = true; s.out.mu.Unlock() }

// Resume shows printf output again and reports how many lines were not
// shown while paused.
func (s *Session) Resume() int {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	n := s.out.dropped
	s.out.paused, s.out.dropped = false, 0
	return n
}

// script returns the session's script: its declarations and decl, then
// every block of entries, then extra.
func (s *Session) script(decl string, entries []*entry, extra string) string {
	var b strings.Builder
	b.WriteString(s.preamble)
	b.WriteString(decl)
	for _, e := range entries {
		b.WriteString(e.text)
		b.WriteString("\n")
	}
	b.WriteString(extra)
	return b.String()
}

// compile compiles the script of decl, entries and extra.
func (s *Session) compile(decl string, entries []*entry, extra string) (*compile.Result, error) {
	file := source.NewFile("shell", s.script(decl, entries, extra))
	// Each entry attaches and detaches on its own, so a carrier runs
	// only one probe's instances per program.
	opts := s.opts.Compile
	opts.CarryPerProbe = true
	res, err := compile.Compile(file, s.opts.Registry, s.opts.Env, opts)
	if err != nil {
		return nil, err
	}
	for _, d := range res.Info.Warnings {
		source.RenderOne(s.opts.Warn, res.File, d)
	}
	return res, nil
}

// Add compiles text, one or more probe blocks (and declarations), with the
// session's script and attaches its event probes; BEGIN blocks run at once
// and END blocks wait for Close. It returns one line per probe, such as
// "attached #3: tracepoint:syscalls:sys_enter_read".
func (s *Session) Add(text string) ([]string, error) {
	added, err := s.AddProbes(text)
	var lines []string
	for _, p := range added {
		lines = append(lines, p.said())
	}
	return lines, err
}

// AddProbes is Add, returning the blocks added rather than lines about
// them. Once the blocks are in, a BEGIN block that fails returns them
// with its error.
func (s *Session) AddProbes(text string) ([]Probe, error) {
	// Declarations (config, macros, structs) come before every probe, as
	// the session's preamble holds them.
	decl, blocks, err := split(text)
	if err != nil {
		return nil, err
	}
	res, err := s.compile(decl, s.entries, strings.Join(blocks, "\n"))
	if err != nil {
		return nil, err
	}
	first := len(s.entries)
	var added []*entry
	for i, b := range blocks {
		added = append(added, &entry{text: b, name: attachName(res.AST.Probes[first+i].Attach)})
	}
	return s.apply(res, decl, added)
}

// said is what the session says of a block it added.
func (p Probe) said() string {
	switch p.Kind {
	case probe.Event:
		line := fmt.Sprintf("attached #%d: %s", p.ID, p.Name)
		if p.Programs > 1 {
			line += fmt.Sprintf(" (%d probes)", p.Programs)
		}
		return line
	case probe.Begin:
		verb := "ran"
		if !p.Ran {
			verb = "did not run"
		}
		return fmt.Sprintf("%s #%d: %s", verb, p.ID, p.Name)
	}
	return fmt.Sprintf("kept #%d: %s (runs at .quit)", p.ID, p.Name)
}

// apply makes res, which compiles the session's entries followed by added,
// the session's compilation: it loads and attaches the added probes.
func (s *Session) apply(res *compile.Result, decl string, added []*entry) ([]Probe, error) {
	s.pause()
	defer s.resume()
	view, fresh, err := s.newView(res)
	if err != nil {
		return nil, err
	}
	first := len(s.entries)
	// The BEGIN blocks' programs are loaded with the others and run once
	// everything is attached; none outlives this call.
	begins := map[*entry]*load.Object{}
	defer func() {
		for _, o := range begins {
			o.Close()
		}
	}()
	fail := func(err error) ([]Probe, error) {
		for _, e := range added {
			e.close()
		}
		view.Close()
		s.restore()
		return nil, err
	}
	lookup := s.lookup(fresh)
	for i, e := range added {
		progs := programsOf(res, first+i)
		if len(progs) == 0 {
			return fail(fmt.Errorf("%s matched no probe here", e.name))
		}
		e.kind = progs[0].Instance.Instance.Kind()
		switch e.kind {
		case probe.Event:
			obj, err := load.LoadShared(res, s.opts.Config, names(progs), lookup)
			if err != nil {
				return fail(err)
			}
			e.obj = obj
		case probe.Begin:
			obj, err := load.LoadShared(res, s.opts.Config, names(progs), lookup)
			if err != nil {
				return fail(err)
			}
			begins[e] = obj
		case probe.End:
		default:
			// test, bench and self probes run only in ebtrace's modes
			// (--test, --bench, a signal), which a shell session is not.
			return fail(fmt.Errorf("%s: the shell runs event probes, BEGIN and END, not %s probes", e.name, probeType(progs[0])))
		}
	}
	if err := s.reload(view); err != nil {
		return fail(err)
	}
	for _, e := range added {
		if e.obj == nil {
			continue
		}
		if err := e.obj.Attach(); err != nil {
			return fail(err)
		}
	}
	// The blocks are in from here on, attached: a BEGIN block that fails
	// stops those after it from running, as in a script, and the session
	// keeps them all.
	var runErr error
	for _, e := range added {
		if o := begins[e]; o != nil && runErr == nil {
			runErr = runBegin(o)
			e.ran = runErr == nil
		}
	}
	if err := s.settle(res, view, fresh, decl, added); err != nil {
		return nil, errors.Join(runErr, err)
	}
	var probes []Probe
	for _, e := range added {
		e.id = s.nextID
		s.nextID++
		probes = append(probes, e.probe())
	}
	return probes, errors.Join(runErr, s.tr.Drain())
}

// runBegin runs a BEGIN block's programs; tests make it fail.
var runBegin = func(o *load.Object) error { return o.Run(probe.Begin) }

// settle records res as the session's compilation once its programs are
// in: the maps it created join the session's, the old view closes.
func (s *Session) settle(res *compile.Result, view *load.Object, fresh map[string]*ebpf.Map, decl string, added []*entry) error {
	for key, m := range fresh {
		c, err := m.Clone()
		if err != nil {
			return err
		}
		s.maps[key] = c
	}
	if s.view != nil {
		s.view.Close()
	}
	s.view, s.res = view, res
	s.preamble += decl
	s.entries = append(s.entries, added...)
	return nil
}

// newView loads res's maps without programs, on the session's maps; it
// returns the maps it created, by session key.
func (s *Session) newView(res *compile.Result) (*load.Object, map[string]*ebpf.Map, error) {
	view, err := load.LoadShared(res, s.opts.Config, nil, s.lookup(nil))
	if err != nil {
		return nil, nil, err
	}
	fresh := map[string]*ebpf.Map{}
	for name := range view.Result.Spec().Maps {
		if key := mapKey(res.Plan, name); s.maps[key] == nil {
			fresh[key] = view.Map(name)
		}
	}
	return view, fresh, nil
}

// reload makes view the tracer's object, starting the tracer on the first.
func (s *Session) reload(view *load.Object) error {
	if s.tr == nil {
		tr, err := tracer.New(tracer.Kernel(view), s.out, s.opts.Warn)
		if err != nil {
			return err
		}
		s.tr = tr
		return nil
	}
	s.tr.Reload(tracer.Kernel(view))
	return nil
}

// lookup returns the prepare step of load.LoadShared: each map of the spec
// the session (or fresh, the maps a new view just created) already holds
// stands in for it. ebtrace's own maps may be larger than a compilation
// asks (the counters map has room for more maps); a script map must match.
func (s *Session) lookup(fresh map[string]*ebpf.Map) func(*ebpf.CollectionSpec, *plan.Plan) (map[string]*ebpf.Map, error) {
	return func(spec *ebpf.CollectionSpec, p *plan.Plan) (map[string]*ebpf.Map, error) {
		replace := map[string]*ebpf.Map{}
		for name, ms := range spec.Maps {
			key := mapKey(p, name)
			m := s.maps[key]
			if m == nil {
				m = fresh[key]
			}
			if m == nil {
				if name == plan.StatsMap {
					ms.ValueSize += 8 * statsRoom
				}
				continue
			}
			own := !strings.HasPrefix(key, "@")
			if m.Type() != ms.Type || m.KeySize() != ms.KeySize ||
				own && (m.ValueSize() < ms.ValueSize || m.MaxEntries() < ms.MaxEntries) ||
				!own && (m.ValueSize() != ms.ValueSize || m.MaxEntries() != ms.MaxEntries) {
				return nil, fmt.Errorf("%s no longer fits the map the session holds (%v, key %d, value %d bytes, %d entries); .detach the probes that use it first",
					key, m.Type(), m.KeySize(), m.ValueSize(), m.MaxEntries())
			}
			ms.ValueSize, ms.MaxEntries = m.ValueSize(), m.MaxEntries()
			replace[name] = m
		}
		return replace, nil
	}
}

// mapKey names a map of a compilation in the session: a script map by its
// script name (its kernel name follows its rank among the maps), one of
// ebtrace's own by its kernel name.
func mapKey(p *plan.Plan, name string) string {
	for _, pm := range p.Maps {
		if pm.BPFName == name {
			return "@" + pm.Name
		}
	}
	return name
}

// programsOf returns the programs of the script's probe at index idx.
func programsOf(res *compile.Result, idx int) []*compile.Program {
	var ps []*compile.Program
	for _, p := range res.Programs {
		if p.Instance.Index == idx {
			ps = append(ps, p)
		}
	}
	return ps
}

// probeType names p's probe type as typed: test, bench, self:signal.
func probeType(p *compile.Program) string {
	name := p.Instance.Instance.Name()
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		return name[:i]
	}
	return name
}

func names(ps []*compile.Program) []string {
	var ns []string
	for _, p := range ps {
		ns = append(ns, p.Name)
	}
	return ns
}

func attachName(aps []*syntax.AttachPoint) string {
	var ns []string
	for _, a := range aps {
		ns = append(ns, a.Raw)
	}
	return strings.Join(ns, ",")
}

// pause stops the event loop, if it runs, and waits for it.
func (s *Session) pause() {
	if s.stop == nil {
		return
	}
	close(s.stop)
	<-s.done
	s.stop = nil
}

// resume runs the event loop again, once there is a tracer.
func (s *Session) resume() {
	if s.tr == nil || s.closed {
		return
	}
	stop, done := make(chan struct{}), make(chan struct{})
	s.stop, s.done = stop, done
	go func() {
		defer close(done)
		err := s.tr.Loop(stop)
		select {
		case <-stop:
		default:
			// exit() or a failure, not a pause: the session is over.
			s.loopErr = err
			s.endOnce.Do(func() { close(s.ended) })
		}
	}()
}

// Exec runs stmt, statements as a BEGIN block would hold them, at once,
// against the session's maps. A bare map name prints the map.
func (s *Session) Exec(stmt string) error {
	stmt = strings.TrimSpace(stmt)
	if bareMap().MatchString(stmt) {
		stmt = "print(" + strings.TrimSuffix(stmt, ";") + ")"
	}
	res, err := s.compile("", s.entries, "BEGIN { "+stmt+" }\n")
	if err != nil {
		return err
	}
	s.pause()
	defer s.resume()
	view, fresh, err := s.newView(res)
	if err != nil {
		return err
	}
	obj, err := load.LoadShared(res, s.opts.Config, names(programsOf(res, len(s.entries))), s.lookup(fresh))
	if err != nil {
		view.Close()
		return err
	}
	defer obj.Close()
	if err := s.reload(view); err != nil {
		view.Close()
		return err
	}
	runErr := obj.Run(probe.Begin)
	drainErr := s.tr.Drain()
	// The statement's maps stay only while a probe uses them: back to the
	// session's own compilation.
	view.Close()
	s.restore()
	return errors.Join(runErr, drainErr)
}

// restore points the tracer at the session's view again after a
// compilation was tried, or drops it when the session has none.
func (s *Session) restore() {
	switch {
	case s.view != nil:
		s.tr.Reload(tracer.Kernel(s.view))
	case s.tr != nil:
		s.tr.Close()
		s.tr = nil
	}
}

var bareMap = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^@[A-Za-z0-9_]*\s*;?$`) })

// Detach detaches probe block id and removes it from the session's
// script. When the block made events (printf, print, ...), the blocks
// after it are loaded again, since their events are numbered anew. Maps no
// block uses any more are released.
func (s *Session) Detach(id int) error {
	i := slices.IndexFunc(s.entries, func(e *entry) bool { return e.id == id })
	if i < 0 {
		return fmt.Errorf("no probe #%d; .probes lists them", id)
	}
	rest := slices.Concat(s.entries[:i], s.entries[i+1:])
	s.pause()
	defer s.resume()
	gone := s.entries[i]
	if len(rest) == 0 && strings.TrimSpace(s.preamble) == "" {
		gone.close()
		// What the block sent before it was closed is read with the
		// numbering it was sent under.
		drainErr := s.tr.Drain()
		s.entries = nil
		return errors.Join(drainErr, s.reset())
	}
	// The session stays as it is until the script without the block
	// compiles and its maps load: a later block may read a map only this
	// one writes.
	res, err := s.compile("", rest, "")
	if err != nil {
		return err
	}
	view, _, err := s.newView(res)
	if err != nil {
		return err
	}
	renumbered := len(res.Plan.Events) != len(s.res.Plan.Events)
	var errs []error
	gone.close()
	var again []int
	for j := i; j < len(rest) && renumbered; j++ {
		e := rest[j]
		if e.obj == nil {
			continue
		}
		if err := e.count(&e.hits, &e.runtime); err != nil {
			errs = append(errs, err)
		}
		e.close()
		again = append(again, j)
	}
	// Every program that sends events under the old numbering is closed:
	// what they queued is read before the tracer numbers them anew.
	errs = append(errs, s.tr.Drain())
	s.tr.Reload(tracer.Kernel(view))
	s.view.Close()
	s.view, s.res, s.entries = view, res, rest
	for _, j := range again {
		e := rest[j]
		obj, err := load.LoadShared(res, s.opts.Config, names(programsOf(res, j)), s.lookup(nil))
		if err == nil {
			err = obj.Attach()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("#%d could not be attached again: %w", e.id, err))
			continue
		}
		e.obj = obj
	}
	s.release(res)
	return errors.Join(errs...)
}

// release closes the session's maps that res no longer has.
func (s *Session) release(res *compile.Result) {
	keep := map[string]bool{}
	for name := range res.Spec().Maps {
		keep[mapKey(res.Plan, name)] = true
	}
	for key, m := range s.maps {
		if !keep[key] {
			m.Close()
			delete(s.maps, key)
		}
	}
}

// reset returns an emptied session to its start: no tracer, no map.
func (s *Session) reset() error {
	err := s.tr.Close()
	s.tr = nil
	s.view.Close()
	s.view, s.res = nil, nil
	for key, m := range s.maps {
		m.Close()
		delete(s.maps, key)
	}
	return err
}

// Probe is one probe block of the session: a line of `.probes`.
type Probe struct {
	ID   int
	Name string
	Kind probe.Kind
	// Ran says a BEGIN block ran without failing.
	Ran bool
	// Programs counts an event block's attached programs: one per probe
	// its attach points matched.
	Programs int
	// Hits and Runtime add up the kernel's statistics of the block's
	// programs since they were loaded.
	Hits    uint64
	Runtime time.Duration
}

// Probes lists the session's probe blocks.
func (s *Session) Probes() ([]Probe, error) {
	var ps []Probe
	for _, e := range s.entries {
		p := e.probe()
		if err := e.count(&p.Hits, &p.Runtime); err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// probe describes e, with the statistics of its programs before they
// were last loaded.
func (e *entry) probe() Probe {
	p := Probe{ID: e.id, Name: e.name, Kind: e.kind, Ran: e.ran, Hits: e.hits, Runtime: e.runtime}
	if e.obj != nil {
		p.Programs = len(e.obj.Programs(probe.Event))
	}
	return p
}

// close detaches and releases e's programs.
func (e *entry) close() {
	if e.obj != nil {
		e.obj.Close()
		e.obj = nil
	}
}

// count adds the kernel's statistics of e's programs to hits and runtime.
func (e *entry) count(hits *uint64, runtime *time.Duration) error {
	if e.obj == nil {
		return nil
	}
	for _, prog := range e.obj.Programs(probe.Event) {
		st, err := e.obj.Program(prog).Stats()
		if err != nil {
			return err
		}
		*hits += st.RunCount
		*runtime += st.Runtime
	}
	return nil
}

// Print prints map name (with its @), or every map when name is empty.
func (s *Session) Print(name string) error {
	if s.res == nil {
		return errors.New("no maps yet: type a probe block first")
	}
	s.pause()
	defer s.resume()
	maps := s.tr.Maps()
	var pms []*plan.Map
	if name == "" {
		pms = s.res.Plan.Maps
	} else {
		pm, err := s.planMap(name)
		if err != nil {
			return err
		}
		pms = []*plan.Map{pm}
	}
	for _, pm := range pms {
		m, err := maps.Read(pm)
		if err != nil {
			return err
		}
		s.out.Print(m)
	}
	return s.out.Flush()
}

// Read reads map name (with its @ or without) now, its stacks as frames
// rather than as the text they print as.
func (s *Session) Read(name string) (*output.Map, error) {
	if s.res == nil {
		return nil, errors.New("no maps yet: type a probe block first")
	}
	pm, err := s.planMap(name)
	if err != nil {
		return nil, err
	}
	// The event loop, which prints stacks as text, is paused meanwhile.
	s.pause()
	defer s.resume()
	maps := s.tr.Maps()
	maps.Frames = true
	defer func() { maps.Frames = false }()
	return maps.Read(pm)
}

// Clear deletes every element of map name; with zero it sets their
// values to zero, keeping the keys.
func (s *Session) Clear(name string, zero bool) error {
	if s.res == nil {
		return errors.New("no maps yet: type a probe block first")
	}
	pm, err := s.planMap(name)
	if err != nil {
		return err
	}
	// The tracer's reader is the event loop's too.
	s.pause()
	defer s.resume()
	maps := s.tr.Maps()
	if zero {
		return maps.Zero(pm)
	}
	return maps.Clear(pm)
}

func (s *Session) planMap(name string) (*plan.Map, error) {
	pm := s.res.Plan.Map(strings.TrimPrefix(name, "@"))
	if pm == nil {
		var names []string
		for _, m := range s.res.Plan.Maps {
			names = append(names, "@"+m.Name)
		}
		return nil, fmt.Errorf("no map %s; the session has %s", name, strings.Join(names, ", "))
	}
	return pm, nil
}

// MapNames returns the session's map names, with their @.
func (s *Session) MapNames() []string {
	if s.res == nil {
		return nil
	}
	var ns []string
	for _, m := range s.res.Plan.Maps {
		ns = append(ns, "@"+m.Name)
	}
	return ns
}

// Script returns the session's probes as a script that runs as is.
func (s *Session) Script() string {
	var b strings.Builder
	b.WriteString(s.preamble)
	for i, e := range s.entries {
		if i > 0 || s.preamble != "" {
			b.WriteString("\n")
		}
		b.WriteString(e.text)
		b.WriteString("\n")
	}
	return b.String()
}

// Save writes the session's probes to path as a script.
func (s *Session) Save(path string) error {
	return os.WriteFile(path, []byte(s.Script()), 0o644)
}

// Load adds the probe blocks of the script file path.
func (s *Session) Load(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return s.Add(string(b))
}

// Close ends the session as a script ends: END blocks run, the maps are
// printed, everything is detached and released.
func (s *Session) Close() error {
	if s.closed {
		return nil
	}
	s.pause()
	s.closed = true
	defer s.stats.Close()
	var errs []error
	if s.tr != nil {
		var ends []string
		for i, e := range s.entries {
			if e.kind == probe.End {
				ends = append(ends, names(programsOf(s.res, i))...)
			}
		}
		final, err := load.LoadShared(s.res, s.opts.Config, ends, s.lookup(nil))
		if err == nil {
			s.tr.Reload(tracer.Kernel(final))
			err = s.tr.Finish()
			final.Close()
		}
		errs = append(errs, err, s.loopErr)
	}
	for _, e := range s.entries {
		if e.obj != nil {
			errs = append(errs, e.obj.Close())
		}
	}
	if s.view != nil {
		s.view.Close()
	}
	for _, m := range s.maps {
		m.Close()
	}
	return errors.Join(errs...)
}

// gated is the session's output: printf output may be paused.
type gated struct {
	output.Writer
	mu      sync.Mutex
	paused  bool
	dropped int
}

func (g *gated) Printf(text string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		g.dropped += strings.Count(text, "\n")
		return
	}
	g.Writer.Printf(text)
}

// split parses text, typed in the session, into its probe blocks, each as
// written, and the declarations around them. Declarations alone (a config
// block typed after the probes) are no script, but they are an input.
func split(text string) (decl string, blocks []string, err error) {
	ast, err := syntax.Parse(source.NewFile("input", text))
	if err != nil {
		if parses(text + "\nBEGIN {}") {
			return strings.TrimSpace(text) + "\n", nil, nil
		}
		return "", nil, err
	}
	var rest strings.Builder
	at := 0
	for _, p := range ast.Probes {
		rest.WriteString(text[at:p.Sp.Start])
		blocks = append(blocks, text[p.Sp.Start:p.Sp.End])
		at = int(p.Sp.End)
	}
	rest.WriteString(text[at:])
	if strings.TrimSpace(rest.String()) != "" {
		decl = strings.TrimSpace(rest.String()) + "\n"
	}
	return decl, blocks, nil
}

// atoi parses a probe number as `.detach` takes it: 3 or #3.
func atoi(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "#"))
	if err != nil {
		return 0, fmt.Errorf("%q is not a probe number; .probes lists them", s)
	}
	return n, nil
}
