package flame

import (
	"io"

	"github.com/google/pprof/profile"
)

// Pprof writes the samples as a gzipped pprof profile with one sample type,
// samples/count, and one location and function per distinct frame name.
func Pprof(w io.Writer, samples []Sample) error {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}},
	}
	locations := map[string]*profile.Location{}
	location := func(name string) *profile.Location {
		if l, ok := locations[name]; ok {
			return l
		}
		fn := &profile.Function{ID: uint64(len(p.Function) + 1), Name: name, SystemName: name}
		l := &profile.Location{ID: uint64(len(p.Location) + 1), Line: []profile.Line{{Function: fn}}}
		p.Function = append(p.Function, fn)
		p.Location = append(p.Location, l)
		locations[name] = l
		return l
	}
	for _, s := range merge(samples) {
		// pprof lists a stack leaf first.
		locs := make([]*profile.Location, len(s.Frames))
		for i, f := range s.Frames {
			locs[len(locs)-1-i] = location(f)
		}
		p.Sample = append(p.Sample, &profile.Sample{Location: locs, Value: []int64{int64(min(s.Value, 1<<63-1))}})
	}
	if err := p.CheckValid(); err != nil {
		return err
	}
	return p.Write(w)
}
