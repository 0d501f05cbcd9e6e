package serve

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ebtrace/ebtrace"
)

// selfMetric is one of the self-metrics: what ebtrace lost, and what it
// costs.
type selfMetric struct {
	name, help string
	kind       metricKind
	// labels are in name order, as the exposition writes them; values
	// come in the same order.
	labels []string
}

func newSelfMetric(name string, kind metricKind, help string, labels ...string) *selfMetric {
	return &selfMetric{name: name, help: help, kind: kind, labels: labels}
}

var (
	eventsLost = newSelfMetric("ebtrace_events_lost_total", counterKind,
		"Events lost, by script: the kernel found no room in the buffer it shares with ebtrace, or ebtrace's reader fell too far behind.", "script")
	mapFull = newSelfMetric("ebtrace_map_updates_dropped_total", counterKind,
		"Map updates dropped because the map was full, by script and map.", "map", "script")
	helperErrors = newSelfMetric("ebtrace_helper_errors_total", counterKind,
		"BPF helper calls that failed at run time, by script.", "script")
	probeRuns = newSelfMetric("ebtrace_probe_runs_total", counterKind,
		"Times each probe's BPF program ran (the kernel's BPF statistics).", "probe", "script")
	probeSeconds = newSelfMetric("ebtrace_probe_run_seconds_total", counterKind,
		"Time each probe's BPF program ran in all (the kernel's BPF statistics).", "probe", "script")
	seriesDropped = newSelfMetric("ebtrace_series_dropped_total", counterKind,
		"Series a map held beyond the cap on series per map, summed over scrapes.", "map", "script")
	scriptRunning = newSelfMetric("ebtrace_script_running", gaugeKind,
		"1 while the script traces, 0 once it has ended (exit()).", "script")
)

// selfMetrics are every self-metric, whose names no map may take.
var selfMetrics = []*selfMetric{eventsLost, mapFull, helperErrors, probeRuns, probeSeconds, seriesDropped, scriptRunning}

// selfSeries collects the self-metrics' series of one scrape, a family
// per metric that has any.
type selfSeries map[*selfMetric]*family

// add adds a series of m with label values in m's label order.
func (ss selfSeries) add(m *selfMetric, value float64, values ...string) {
	f := ss[m]
	if f == nil {
		f = &family{name: m.name, help: m.help, kind: m.kind}
		ss[m] = f
	}
	se := &sample{labels: make([]label, len(m.labels)), value: value}
	for i, name := range m.labels {
		se.labels[i] = label{name, values[i]}
	}
	f.samples = append(f.samples, se)
}

// families returns the families, each one's series in label value order.
func (ss selfSeries) families() []*family {
	out := make([]*family, 0, len(ss))
	for _, f := range ss {
		slices.SortFunc(f.samples, func(a, b *sample) int {
			return slices.CompareFunc(a.labels, b.labels, func(x, y label) int { return strings.Compare(x.value, y.value) })
		})
		out = append(out, f)
	}
	return out
}

// gatherSelf builds the self-metrics' families of every script. A script
// whose counters cannot be read leaves those series out.
func (s *Server) gatherSelf() ([]*family, error) {
	ss := selfSeries{}
	var errs []error
	for _, sc := range s.current() {
		if err := s.scriptSeries(sc, ss); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", sc.path, err))
		}
	}
	return ss.families(), errors.Join(errs...)
}

// scriptSeries adds one script's self-metrics.
func (s *Server) scriptSeries(sc *script, ss selfSeries) error {
	sess := sc.session()
	if sess == nil {
		return nil
	}
	sc.mu.Lock()
	running, helperErrs := !sc.ended, sc.helperErrors
	for name, n := range sc.seriesDropped {
		ss.add(seriesDropped, float64(n), name, sc.name)
	}
	sc.mu.Unlock()
	ss.add(scriptRunning, boolFloat(running), sc.name)
	ss.add(helperErrors, float64(helperErrs), sc.name)
	var errs []error
	if losses, err := sess.Losses(); err == nil {
		ss.add(eventsLost, float64(losses.Events+sess.Dropped()), sc.name)
		for name, n := range losses.MapFull {
			ss.add(mapFull, float64(n), name, sc.name)
		}
	} else {
		errs = append(errs, err)
	}
	if s.stats {
		if probes, err := sess.Probes(); err == nil {
			for _, p := range probes {
				ss.add(probeRuns, float64(p.Runs), p.Probe, sc.name)
				ss.add(probeSeconds, p.RunTime.Seconds(), p.Probe, sc.name)
			}
		} else {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// gatherMaps builds the families of every script's maps.
func (s *Server) gatherMaps() ([]*family, error) {
	var out []*family
	var errs []error
	seen := map[string]bool{}
	for _, m := range selfMetrics {
		seen[m.name] = true
	}
	for _, sc := range s.current() {
		sess := sc.session()
		if sess == nil {
			continue
		}
		snaps, err := sess.Maps()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", sc.path, err))
			continue
		}
		for _, m := range snaps {
			f := s.mapFamily(sc, m)
			switch {
			case f == nil:
			case seen[f.name]:
				sc.warnOnce(s.log, m.Name+" name", fmt.Sprintf("map %s would be exported as %s, a name another map has: /metrics leaves it out", m.Name, f.name))
			default:
				seen[f.name] = true
				out = append(out, f)
			}
		}
	}
	return out, errors.Join(errs...)
}

// mapFamily is one map's series, as its kind suits: counters for what
// only grows, histograms for hist() and lhist(), gauges for the rest;
// nil for what has no number to export. Strings, time series and stacks
// are on the page only. Scratch maps (@start[tid]) are the script's
// working state, not its results.
func (s *Server) mapFamily(sc *script, m ebtrace.MapSnapshot) *family {
	switch {
	case m.Scratch, m.Kind == ebtrace.KindString, m.Kind == ebtrace.KindTSeries:
		return nil
	}
	if len(m.Entries) > 0 && slices.ContainsFunc(m.Entries[0].Key, isStack) {
		sc.warnOnce(s.log, m.Name, fmt.Sprintf("map %s is keyed by a stack: the page draws it as a flame graph; /metrics leaves it out", m.Name))
		return nil
	}
	name := "ebtrace_" + sc.name
	if m.Name != "@" {
		name += "_" + metricName(strings.TrimPrefix(m.Name, "@"))
	}
	help := fmt.Sprintf("%s of map %s in %s", describeKind(m), m.Name, sc.path)
	rows := merge(m, s.cap(sc, m))
	names, order := labelNames(m)
	slices.SortFunc(rows, func(a, b *series) int {
		for _, i := range order {
			if c := strings.Compare(a.labels[i], b.labels[i]); c != 0 {
				return c
			}
		}
		return 0
	})
	f := &family{name: name, help: help, kind: gaugeKind}
	switch {
	case m.Kind == ebtrace.KindHist || m.Kind == ebtrace.KindLHist:
		f.kind = histogramKind
		for _, se := range rows {
			// bpftrace's histograms keep no sum of the values they count.
			f.samples = append(f.samples, &sample{labels: labelPairs(names, se.labels, order), count: se.count, sum: math.NaN(), buckets: se.buckets})
		}
	case m.Kind == ebtrace.KindStats:
		names := append(slices.Clone(names), "stat")
		order := append(slices.Clone(order), len(names)-1)
		for _, se := range rows {
			avg := 0.0
			if se.count > 0 {
				avg = math.Trunc(se.value / float64(se.count))
			}
			for _, st := range []struct {
				name  string
				value float64
			}{{"avg", avg}, {"count", float64(se.count)}, {"sum", se.value}} {
				f.samples = append(f.samples, &sample{labels: labelPairs(names, append(slices.Clone(se.labels), st.name), order), value: st.value})
			}
		}
	default:
		if m.Counter {
			f.name += "_total"
			f.kind = counterKind
		}
		for _, se := range rows {
			f.samples = append(f.samples, &sample{labels: labelPairs(names, se.labels, order), value: se.value})
		}
	}
	return f
}

// labelPairs pairs names with values, in order: the indices of names in
// name order, as the exposition writes them.
func labelPairs(names, values []string, order []int) []label {
	out := make([]label, len(order))
	for i, j := range order {
		out[i] = label{names[j], values[j]}
	}
	return out
}

// series is one series of a map: a key's label values and its value, or
// for a histogram its count and cumulative buckets, for stats its count
// and sum.
type series struct {
	labels  []string
	value   float64
	count   uint64
	buckets map[float64]uint64
}

// merge turns entries into series, combining entries whose keys print
// alike (two addresses in one function keyed by ksym(), say), as their
// kind combines: counts and sums add, min() and max() keep the extreme,
// histograms add bucket by bucket. A scrape with the same series twice
// would fail whole.
func merge(m ebtrace.MapSnapshot, entries []ebtrace.Entry) []*series {
	var out []*series
	index := map[string]*series{}
	for _, e := range entries {
		labels := labelValues(e.Key)
		id := strings.Join(labels, "\x00")
		se, seen := index[id]
		if !seen {
			se = &series{labels: labels}
			index[id] = se
			out = append(out, se)
		}
		switch v := e.Value.(type) {
		case []ebtrace.Bucket:
			count, buckets := cumulative(v)
			if !seen {
				se.count, se.buckets = count, buckets
				continue
			}
			se.buckets = addBuckets(se.count, se.buckets, count, buckets)
			se.count += count
		case ebtrace.Stats:
			se.count += uint64(v.Count)
			se.value += float64(v.Sum)
		default:
			f, ok := number(v)
			switch {
			case !ok:
			case !seen:
				se.value = f
			case m.Kind == ebtrace.KindMin:
				se.value = min(se.value, f)
			case m.Kind == ebtrace.KindMax:
				se.value = max(se.value, f)
			default:
				se.value += f
			}
		}
	}
	return out
}

// addBuckets adds two cumulative histograms whose bounds may differ: at
// each bound, each counts what it had at its highest bound below it.
func addBuckets(countA uint64, a map[float64]uint64, countB uint64, b map[float64]uint64) map[float64]uint64 {
	bounds := slices.Sorted(maps.Keys(a))
	for le := range b {
		if _, ok := a[le]; !ok {
			bounds = append(bounds, le)
		}
	}
	slices.Sort(bounds)
	at := func(h map[float64]uint64, le float64) uint64 {
		var n uint64
		for bound, c := range h {
			if bound <= le && c > n {
				n = c
			}
		}
		return n
	}
	out := map[float64]uint64{}
	for _, le := range bounds {
		out[le] = at(a, le) + at(b, le)
	}
	return out
}

// cap keeps the MaxSeries entries of largest value, counting the rest as
// dropped and warning once.
func (s *Server) cap(sc *script, m ebtrace.MapSnapshot) []ebtrace.Entry {
	max := s.opts.MaxSeries
	if len(m.Entries) <= max {
		return m.Entries
	}
	entries := slices.Clone(m.Entries)
	slices.SortFunc(entries, func(a, b ebtrace.Entry) int { return cmp.Compare(weight(b.Value), weight(a.Value)) })
	dropped := len(entries) - max
	sc.mu.Lock()
	sc.seriesDropped[m.Name] += uint64(dropped)
	sc.mu.Unlock()
	sc.warnOnce(s.log, m.Name+" series", fmt.Sprintf("map %s holds %d keys, more than the %d series a map may export (--max-series): the largest are exported, the rest counted in ebtrace_series_dropped_total", m.Name, len(entries), max))
	return entries[:max]
}

// weight ranks an entry for the cap: its value, or a histogram's count.
func weight(v any) float64 {
	switch v := v.(type) {
	case []ebtrace.Bucket:
		n, _ := cumulative(v)
		return float64(n)
	case ebtrace.Stats:
		return float64(v.Count)
	}
	f, _ := number(v)
	return f
}

// cumulative turns buckets into Prometheus's: counts of values at most
// each bucket's highest value (values are integers, so le="7" counts
// exactly bpftrace's [4, 8)); the bucket above every bound is +Inf.
func cumulative(buckets []ebtrace.Bucket) (uint64, map[float64]uint64) {
	out := map[float64]uint64{}
	var total uint64
	for _, b := range buckets {
		total += b.Count
		if b.High != math.MaxInt64 {
			out[float64(b.High)] = total
		}
	}
	return total, out
}

// labelNames names a map's key parts, and gives their order by name: as the script keys by them (comm,
// pid, fd), or key0, key1, ... where it does not, or where the name is
// taken or reserved.
func labelNames(m ebtrace.MapSnapshot) (names []string, order []int) {
	n := 0
	if len(m.Entries) > 0 {
		n = len(m.Entries[0].Key)
	}
	names = make([]string, n)
	used := map[string]bool{"le": true, "quantile": true, "stat": true}
	for i := range names {
		name := ""
		if i < len(m.KeyNames) && m.KeyNames[i] != "" {
			name = metricName(m.KeyNames[i])
		}
		if name == "" || strings.HasPrefix(name, "__") || used[name] {
			name = "key" + strconv.Itoa(i)
		}
		used[name] = true
		names[i] = name
	}
	order = make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	return names, order
}

// labelValues writes a key's parts as label values.
func labelValues(key []any) []string {
	out := make([]string, len(key))
	for i, part := range key {
		out[i] = text(part)
	}
	return out
}

// text writes a key part or value as bpftrace prints it.
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case ebtrace.Pointer:
		return fmt.Sprintf("0x%x", uint64(v))
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = text(p)
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case ebtrace.Record:
		parts := make([]string, len(v.Values))
		for i, p := range v.Values {
			parts[i] = v.Names[i] + "=" + text(p)
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	return fmt.Sprint(v)
}

// number is a plain value as a float.
func number(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case bool:
		return boolFloat(v), true
	case ebtrace.Pointer:
		return float64(v), true
	}
	return 0, false
}

func isStack(part any) bool {
	_, ok := part.([]ebtrace.Frame)
	return ok
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// describeKind says in words what a map holds, for HELP.
func describeKind(m ebtrace.MapSnapshot) string {
	switch m.Kind {
	case ebtrace.KindScalar:
		if m.Counter {
			return "Counter"
		}
		return "Value"
	case ebtrace.KindHist:
		return "Log2 histogram"
	case ebtrace.KindLHist:
		return "Linear histogram"
	}
	return strings.ToUpper(string(m.Kind[:1])) + string(m.Kind[1:]) + "()"
}
