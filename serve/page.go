package serve

import (
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ebtrace/ebtrace"
)

// webFiles holds the page's files; they are in the binary, so the page needs
// no network.
//
//go:embed web
var webFiles embed.FS

// pageEntries is how many entries of one map the page gets, largest
// first: a table of ten thousand rows helps nobody.
const pageEntries = 500

// State is what the page shows, sent as JSON each second over
// Server-Sent Events (/events) and on request (/api/state).
type State struct {
	Time    time.Time     `json:"time"`
	Scripts []ScriptState `json:"scripts"`
}

// ScriptState is one script on the page.
type ScriptState struct {
	Name    string `json:"name"` // as in metric names
	Path    string `json:"path"`
	Running bool   `json:"running"`
	// Output is the last lines of printf output, oldest first;
	// OutputTotal counts every line ever written.
	Output       []string          `json:"output"`
	OutputTotal  uint64            `json:"outputTotal"`
	Lost         uint64            `json:"lost"`
	MapFull      map[string]uint64 `json:"mapFull"`
	HelperErrors uint64            `json:"helperErrors"`
	Probes       []ProbeState      `json:"probes"`
	Maps         []MapState        `json:"maps"`
	// Stacks names the maps keyed by a stack; /flamegraph.svg?script=NAME
	// draws them.
	Stacks []string `json:"stacks"`
}

// ProbeState is one probe's cost, from the kernel's BPF statistics.
type ProbeState struct {
	Probe      string  `json:"probe"`
	Runs       uint64  `json:"runs"`
	NsPerEvent float64 `json:"nsPerEvent"`
}

// MapState is one map on the page.
type MapState struct {
	Name     string   `json:"name"`
	Kind     string   `json:"kind"`
	KeyNames []string `json:"keyNames"`
	Counter  bool     `json:"counter"`
	// Entries are the largest pageEntries entries, largest first; Total
	// counts them all.
	Entries []EntryState `json:"entries"`
	Total   int          `json:"total"`
	// History is, for a histogram, what each of the last seconds added
	// to it (summed over its keys), oldest first: the heatmap's columns.
	History []HistoryRow `json:"history,omitempty"`
}

// EntryState is one key and its value: Value for numbers, Text for
// strings, Stats for stats(), Buckets for histograms, Intervals for time
// series.
type EntryState struct {
	Key       []string        `json:"key"`
	Value     float64         `json:"value"`
	Text      string          `json:"text,omitempty"`
	Stats     *ebtrace.Stats  `json:"stats,omitempty"`
	Buckets   []BucketState   `json:"buckets,omitempty"`
	Intervals []IntervalState `json:"intervals,omitempty"`
}

// BucketState is one histogram bucket, labelled as bpftrace prints it.
type BucketState struct {
	Label string `json:"label"`
	Low   int64  `json:"low"`
	Count uint64 `json:"count"`
}

// IntervalState is one interval of a time series.
type IntervalState struct {
	Start time.Time `json:"start"`
	Value int64     `json:"value"`
	Set   bool      `json:"set"`
}

// HistoryRow is what one second added to a histogram.
type HistoryRow struct {
	Time    time.Time     `json:"time"`
	Buckets []BucketState `json:"buckets"`
}

// page reads the scripts each second and pushes the state to the open
// pages.
type page struct {
	s *Server

	mu   sync.Mutex
	subs map[chan []byte]bool
}

func newPage(s *Server) *page { return &page{s: s, subs: map[chan []byte]bool{}} }

// run reads the state each tick until ctx ends.
func (p *page) run(ctx context.Context) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		p.update()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// update records what each histogram gained in the last second, and
// while pages watch, reads the state and sends it to each; a page still
// busy with the last one gets this one instead. Without a page, nothing
// else is read: the state of maps of many keys is no small read.
func (p *page) update() {
	now := time.Now()
	for _, sc := range p.s.current() {
		sc.sampleHistories(now)
	}
	p.mu.Lock()
	watched := len(p.subs) > 0
	p.mu.Unlock()
	if !watched {
		return
	}
	b, err := json.Marshal(p.s.state(now))
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for ch := range p.subs {
		select {
		case <-ch:
		default:
		}
		ch <- b
	}
}

func (p *page) subscribe() chan []byte {
	ch := make(chan []byte, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.subs[ch] = true
	return ch
}

func (p *page) unsubscribe(ch chan []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.subs, ch)
}

// serveEvents streams the state as Server-Sent Events.
func (p *page) serveEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	ch := p.subscribe()
	defer p.unsubscribe(ch)
	send := func(b []byte) bool {
		if _, err := fmt.Fprintf(w, "event: state\ndata: %s\n\n", b); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	// A page gets the state at once, then each second.
	if b, err := json.Marshal(p.s.state(time.Now())); err != nil || !send(b) {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case b := <-ch:
			if !send(b) {
				return
			}
		}
	}
}

// state reads what the page shows now.
func (s *Server) state(now time.Time) State {
	st := State{Time: now}
	for _, sc := range s.current() {
		st.Scripts = append(st.Scripts, sc.state(now, s.stats))
	}
	return st
}

func (sc *script) state(now time.Time, stats bool) ScriptState {
	out := ScriptState{Name: sc.name, Path: sc.path}
	out.Output, out.OutputTotal = sc.output.snapshot()
	sc.mu.Lock()
	out.Running, out.HelperErrors = !sc.ended, sc.helperErrors
	sc.mu.Unlock()
	sess := sc.session()
	if sess == nil {
		return out
	}
	if l, err := sess.Losses(); err == nil {
		out.Lost, out.MapFull = l.Events+sess.Dropped(), l.MapFull
	}
	if probes, err := sess.Probes(); stats && err == nil {
		for _, p := range probes {
			ps := ProbeState{Probe: p.Probe, Runs: p.Runs}
			if p.Runs > 0 {
				ps.NsPerEvent = float64(p.RunTime.Nanoseconds()) / float64(p.Runs)
			}
			out.Probes = append(out.Probes, ps)
		}
	}
	maps, err := sess.Maps()
	if err != nil {
		return out
	}
	for _, m := range maps {
		if m.Scratch {
			continue
		}
		if len(m.Entries) > 0 && slices.ContainsFunc(m.Entries[0].Key, isStack) {
			out.Stacks = append(out.Stacks, m.Name)
			continue
		}
		ms := MapState{Name: m.Name, Kind: string(m.Kind), KeyNames: m.KeyNames, Counter: m.Counter, Total: len(m.Entries)}
		// Ranked by weight, then by key: each computed once, not at
		// each of the sort's comparisons.
		type ranked struct {
			entry  ebtrace.Entry
			weight float64
			key    string
		}
		entries := make([]ranked, len(m.Entries))
		for i, e := range m.Entries {
			entries[i] = ranked{e, weight(e.Value), text(e.Key)}
		}
		slices.SortFunc(entries, func(a, b ranked) int {
			if c := cmp.Compare(b.weight, a.weight); c != 0 {
				return c
			}
			return strings.Compare(a.key, b.key)
		})
		for _, r := range entries[:min(len(entries), pageEntries)] {
			ms.Entries = append(ms.Entries, entryState(r.entry))
		}
		if m.Kind == ebtrace.KindHist || m.Kind == ebtrace.KindLHist {
			ms.History = sc.history.get(m.Name)
		}
		out.Maps = append(out.Maps, ms)
	}
	return out
}

func entryState(e ebtrace.Entry) EntryState {
	es := EntryState{Key: labelValues(e.Key)}
	switch v := e.Value.(type) {
	case []ebtrace.Bucket:
		es.Buckets = bucketStates(v)
		n, _ := cumulative(v)
		es.Value = float64(n)
	case ebtrace.Stats:
		es.Stats = &v
		es.Value = float64(v.Count)
	case []ebtrace.Interval:
		for _, iv := range v {
			es.Intervals = append(es.Intervals, IntervalState(iv))
		}
	case string:
		es.Text = v
	default:
		if f, ok := number(v); ok {
			es.Value = f
		} else {
			es.Text = text(v)
		}
	}
	return es
}

func bucketStates(buckets []ebtrace.Bucket) []BucketState {
	out := make([]BucketState, len(buckets))
	for i, b := range buckets {
		out[i] = BucketState{Label: bucketLabel(b), Low: b.Low, Count: b.Count}
	}
	return out
}

// bucketLabel writes a bucket as bpftrace labels it: [4, 8) for a range,
// [1] for one value, (..., 0) below and [100, ...) above, with bounds
// that are multiples of 1024 in units: [512, 1K), [1K, 2K).
func bucketLabel(b ebtrace.Bucket) string {
	switch {
	case b.Low == math.MinInt64:
		return fmt.Sprintf("(..., %s)", sizeLabel(b.High+1))
	case b.High == math.MaxInt64:
		return fmt.Sprintf("[%s, ...)", sizeLabel(b.Low))
	case b.Low == b.High:
		return fmt.Sprintf("[%s]", sizeLabel(b.Low))
	}
	return fmt.Sprintf("[%s, %s)", sizeLabel(b.Low), sizeLabel(b.High+1))
}

// sizeLabel writes n with the largest binary unit that divides it: 2048
// is 2K, 1536 stays 1536.
func sizeLabel(n int64) string {
	if n == 0 {
		return "0"
	}
	sign, u := "", uint64(n)
	if n < 0 {
		sign, u = "-", -u
	}
	units := "KMGTPE"
	k := 0
	for k < len(units) && u%1024 == 0 {
		u /= 1024
		k++
	}
	if k == 0 {
		return sign + strconv.FormatUint(u, 10)
	}
	return sign + strconv.FormatUint(u, 10) + units[k-1:k]
}

// histories keeps, per histogram, what each second added.
type histories struct {
	mu     sync.Mutex
	length int
	prev   map[string]map[int64]uint64 // by map, each bucket's total at the last tick, by Low
	rows   map[string][]HistoryRow
}

func newHistories(length int) *histories {
	return &histories{length: length, prev: map[string]map[int64]uint64{}, rows: map[string][]HistoryRow{}}
}

// get returns m's history, oldest first.
func (h *histories) get(name string) []HistoryRow {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.rows[name])
}

// add records what m gained since the last call. A bucket that shrank
// (the map was cleared) counts from zero.
func (h *histories) add(m ebtrace.MapSnapshot, now time.Time) {
	totals := map[int64]uint64{}
	labels := map[int64]string{}
	for _, e := range m.Entries {
		for _, b := range e.Value.([]ebtrace.Bucket) {
			totals[b.Low] += b.Count
			labels[b.Low] = bucketLabel(b)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	prev, seen := h.prev[m.Name]
	h.prev[m.Name] = totals
	if !seen {
		return
	}
	row := HistoryRow{Time: now}
	for _, low := range slices.Sorted(maps.Keys(totals)) {
		n := totals[low]
		if p := prev[low]; p <= n {
			n -= p
		}
		row.Buckets = append(row.Buckets, BucketState{Label: labels[low], Low: low, Count: n})
	}
	rows := append(h.rows[m.Name], row)
	if len(rows) > h.length {
		rows = rows[len(rows)-h.length:]
	}
	h.rows[m.Name] = rows
}

// sampleHistories records what each of the script's histograms gained,
// reading only those maps. Their names are learnt at the first tick: a
// script's maps and their kinds are fixed.
func (sc *script) sampleHistories(now time.Time) {
	sess := sc.session()
	if sess == nil {
		return
	}
	sc.mu.Lock()
	names, known := sc.histNames, sc.histKnown
	sc.mu.Unlock()
	if !known {
		snaps, err := sess.Maps()
		if err != nil {
			return
		}
		for _, m := range snaps {
			if m.Kind == ebtrace.KindHist || m.Kind == ebtrace.KindLHist {
				names = append(names, m.Name)
				sc.history.add(m, now)
			}
		}
		sc.mu.Lock()
		sc.histNames, sc.histKnown = names, true
		sc.mu.Unlock()
		return
	}
	for _, name := range names {
		if m, err := sess.Map(name); err == nil {
			sc.history.add(m, now)
		}
	}
}

// serveFlameGraph draws a script's stack maps.
func (s *Server) serveFlameGraph(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("script")
	for _, sc := range s.current() {
		if sc.name != name {
			continue
		}
		sess := sc.session()
		if sess == nil {
			break
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		if err := sess.WriteStacks(w, ebtrace.StacksFlameGraph, "ebtrace serve: "+sc.path); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		return
	}
	http.Error(w, fmt.Sprintf("no script %q", name), http.StatusNotFound)
}

// files serves the page's files at the root of the site.
func files() http.Handler {
	fsrv := http.FileServerFS(webFiles)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.Clone(r.Context())
		r.URL.Path = "/web" + r.URL.Path
		fsrv.ServeHTTP(w, r)
	})
}
