package ebtrace

import (
	"reflect"
	"testing"

	"github.com/ebtrace/ebtrace/internal/source"
	"github.com/ebtrace/ebtrace/internal/syntax"
)

func TestTraits(t *testing.T) {
	prog, err := syntax.Parse(source.NewFile("t.bt", `
tracepoint:syscalls:sys_enter_read { @reads[comm, pid] = count(); @bytes[args.fd] = sum(args.count); @n++; @m += 2; }
tracepoint:syscalls:sys_enter_write { @reads[comm, tid] = count(); @last[comm] = nsecs; @n += 1; @m -= 1; @sym[ksym(reg("ip")), str(args.buf)] = max(1); }
interval:s:1 { @h = hist(@n); @dec--; @neg += -1; print(@ro); @start[tid] = nsecs; delete(@start[tid]); @t[1] = 1; delete(@t, 1); @c[2] = 3; clear(@c); }
END { clear(@last); }`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]mapTraits{}
	for name, tr := range traitsOf(prog) {
		got[name] = *tr
	}
	want := map[string]mapTraits{
		"reads": {keyNames: []string{"comm", ""}, counter: true},
		"bytes": {keyNames: []string{"fd"}, counter: true},
		"n":     {counter: true},
		"m":     {},
		"last":  {keyNames: []string{"comm"}, scratch: true},
		"start": {keyNames: []string{"tid"}, scratch: true},
		"t":     {keyNames: []string{""}, scratch: true},
		"c":     {keyNames: []string{""}},
		"sym":   {keyNames: []string{"ksym", "buf"}},
		"h":     {},
		"dec":   {},
		"neg":   {},
		"ro":    {},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("traits:\n%+v\nwant:\n%+v", got, want)
	}
}
