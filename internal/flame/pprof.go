package flame

import (
	"compress/gzip"
	"encoding/binary"
	"io"
)

// Pprof writes the samples as a gzipped pprof profile with one sample type,
// samples/count, and one location and function per distinct frame name.
//
// It encodes the profile's protocol buffer itself (profile.proto of
// github.com/google/pprof): the fields used are few, and the pprof library
// compiles dozens of regular expressions when its package initialises,
// which every ebtrace start-up would pay.
func Pprof(w io.Writer, samples []Sample) error {
	var p profileBuf
	p.str("") // string 0 is always the empty string
	p.valueType(p.str("samples"), p.str("count"))
	ids := map[string]uint64{} // function and location ID of a frame
	var frames []string
	for _, s := range merge(samples) {
		// pprof lists a stack leaf first.
		locs := make([]uint64, len(s.Frames))
		for i, f := range s.Frames {
			id, ok := ids[f]
			if !ok {
				id = uint64(len(frames) + 1)
				ids[f] = id
				frames = append(frames, f)
			}
			locs[len(locs)-1-i] = id
		}
		p.sample(locs, int64(min(s.Value, 1<<63-1)))
	}
	for i, f := range frames {
		id := uint64(i + 1)
		p.location(id, id)
		name := p.str(f)
		p.function(id, name)
	}
	p.stringTable()
	zw := gzip.NewWriter(w)
	if _, err := zw.Write(p.out); err != nil {
		return err
	}
	return zw.Close()
}

// The field numbers of profile.proto that Pprof writes.
const (
	profileSampleType  = 1
	profileSample      = 2
	profileLocation    = 4
	profileFunction    = 5
	profileStringTable = 6

	valueTypeType = 1
	valueTypeUnit = 2

	sampleLocationID = 1
	sampleValue      = 2

	locationID   = 1
	locationLine = 4

	lineFunctionID = 1

	functionID         = 1
	functionName       = 2
	functionSystemName = 3
)

// profileBuf builds a Profile message: the repeated fields in any order,
// then the string table they index.
type profileBuf struct {
	out     []byte
	strings []string
	index   map[string]int64
}

// str returns the string table index of s, adding it when new.
func (p *profileBuf) str(s string) int64 {
	if i, ok := p.index[s]; ok {
		return i
	}
	if p.index == nil {
		p.index = map[string]int64{}
	}
	i := int64(len(p.strings))
	p.index[s] = i
	p.strings = append(p.strings, s)
	return i
}

func (p *profileBuf) valueType(typ, unit int64) {
	var m []byte
	m = varintField(m, valueTypeType, uint64(typ))
	m = varintField(m, valueTypeUnit, uint64(unit))
	p.out = bytesField(p.out, profileSampleType, m)
}

func (p *profileBuf) sample(locs []uint64, value int64) {
	var packed []byte
	for _, id := range locs {
		packed = binary.AppendUvarint(packed, id)
	}
	m := bytesField(nil, sampleLocationID, packed)
	m = bytesField(m, sampleValue, binary.AppendUvarint(nil, uint64(value)))
	p.out = bytesField(p.out, profileSample, m)
}

func (p *profileBuf) location(id, function uint64) {
	m := varintField(nil, locationID, id)
	m = bytesField(m, locationLine, varintField(nil, lineFunctionID, function))
	p.out = bytesField(p.out, profileLocation, m)
}

func (p *profileBuf) function(id uint64, name int64) {
	m := varintField(nil, functionID, id)
	m = varintField(m, functionName, uint64(name))
	m = varintField(m, functionSystemName, uint64(name))
	p.out = bytesField(p.out, profileFunction, m)
}

func (p *profileBuf) stringTable() {
	for _, s := range p.strings {
		p.out = bytesField(p.out, profileStringTable, []byte(s))
	}
}

// varintField appends field number n as a varint (wire type 0).
func varintField(b []byte, n int, v uint64) []byte {
	return binary.AppendUvarint(binary.AppendUvarint(b, uint64(n)<<3), v)
}

// bytesField appends field number n as length-delimited bytes (wire type 2):
// a string, an embedded message or a packed repeated field.
func bytesField(b []byte, n int, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(n)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}
