package serve

import (
	"bufio"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The exposition is Prometheus's text format, version 0.0.4, written
// here rather than through expfmt: expfmt brings protobuf, whose package
// initialisation (its descriptor registry, and hashing this executable
// for detrand) added about 2.5 ms to every start of ebtrace, serve or
// not. The format is small and fixed; the tests read what this writes
// with expfmt's parser, promtool and a Prometheus server.

// expositionType is the Content-Type of the exposition.
const expositionType = "text/plain; version=0.0.4; charset=utf-8"

// family is one metric family: its series share a name, a help text and
// a type.
type family struct {
	name, help string
	kind       metricKind
	samples    []*sample
}

// metricKind is a family's TYPE.
type metricKind string

const (
	counterKind   metricKind = "counter"
	gaugeKind     metricKind = "gauge"
	histogramKind metricKind = "histogram"
)

// sample is one series of a family: its labels, in name order, and its
// value, or for a histogram its count, sum and cumulative buckets.
type sample struct {
	labels  []label
	value   float64
	count   uint64
	sum     float64
	buckets map[float64]uint64 // count of values at most each bound
}

// label is one label of a series.
type label struct{ name, value string }

// writeFamilies writes families in the text format.
func writeFamilies(w io.Writer, families []*family) error {
	b := bufio.NewWriter(w)
	for _, f := range families {
		f.write(b)
	}
	return b.Flush()
}

// write writes one family: HELP, TYPE, then a line per sample, a
// histogram's buckets (cumulative, le in increasing order, +Inf last),
// sum and count.
func (f *family) write(b *bufio.Writer) {
	b.WriteString("# HELP " + f.name + " ")
	b.WriteString(escapeHelp.Replace(f.help))
	b.WriteString("\n# TYPE " + f.name + " " + string(f.kind) + "\n")
	for _, se := range f.samples {
		if f.kind != histogramKind {
			writeSample(b, f.name, se.labels, nil, formatFloat(se.value))
			continue
		}
		count := strconv.FormatUint(se.count, 10)
		for _, le := range slices.Sorted(maps.Keys(se.buckets)) {
			writeSample(b, f.name+"_bucket", se.labels, &label{"le", formatFloat(le)}, strconv.FormatUint(se.buckets[le], 10))
		}
		writeSample(b, f.name+"_bucket", se.labels, &label{"le", "+Inf"}, count)
		writeSample(b, f.name+"_sum", se.labels, nil, formatFloat(se.sum))
		writeSample(b, f.name+"_count", se.labels, nil, count)
	}
}

// writeSample writes one line: name, the labels and extra (a bucket's le)
// when any, and the value. Counts are written as integers, which floats
// would round above 2^53.
func writeSample(b *bufio.Writer, name string, labels []label, extra *label, value string) {
	b.WriteString(name)
	if len(labels) > 0 || extra != nil {
		sep := "{"
		for _, l := range labels {
			b.WriteString(sep + l.name + `="`)
			b.WriteString(escapeLabel.Replace(strings.ToValidUTF8(l.value, "\uFFFD")))
			b.WriteByte('"')
			sep = ","
		}
		if extra != nil {
			b.WriteString(sep + extra.name + `="` + extra.value + `"`)
		}
		b.WriteByte('}')
	}
	b.WriteString(" " + value + "\n")
}

var (
	escapeHelp  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	escapeLabel = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// formatFloat writes a value as Prometheus reads it.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
