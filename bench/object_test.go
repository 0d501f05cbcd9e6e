package bench

import (
	"sync"
	"testing"

	"github.com/ebtrace/ebtrace/internal/kernel"
	"github.com/ebtrace/ebtrace/internal/object"
	"github.com/ebtrace/ebtrace/internal/probe"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// BenchmarkRunObject times what `ebtrace run` does before the first event
// of an object of ten tracepoint programs (testdata/ten.bpf.c, built with
// clang): read the ELF, resolve the sections, create the maps, load and
// verify the programs, attach them; then detach and close. Issue 13's
// bar is 150 ms for the start.
func BenchmarkRunObject(b *testing.B) {
	testutil.RequireRoot(b)
	testutil.RequireTracefs(b)
	path := testutil.BuildBPF(b, "testdata/ten.bpf.c")
	env := &probe.Env{Events: sync.OnceValues(func() (*kernel.Events, error) {
		ev, _, err := kernel.Live()
		return ev, err
	})}
	opts := object.Options{Registry: all.Registry(), Env: env}
	for b.Loop() {
		spec, err := object.Open(path, opts)
		if err != nil {
			b.Fatal(err)
		}
		obj, err := spec.Load(0)
		if err != nil {
			b.Fatal(err)
		}
		n, err := obj.Attach()
		if err != nil || n != 10 {
			b.Fatalf("attached %d programs: %v", n, err)
		}
		b.StopTimer()
		obj.Close()
		b.StartTimer()
	}
}
