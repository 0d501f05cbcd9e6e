package bench

import (
	"encoding/binary"
	"testing"

	"github.com/ebtrace/ebtrace/internal/compile"
	"github.com/ebtrace/ebtrace/internal/engine"
	"github.com/ebtrace/ebtrace/internal/kerneltest"
	"github.com/ebtrace/ebtrace/internal/plan"
	"github.com/ebtrace/ebtrace/internal/probe/all"
	"github.com/ebtrace/ebtrace/internal/tracetest"
)

// BenchmarkEngine runs ebtrace's compiled raw_syscalls:sys_enter programs
// in the user-space engine on prepared trace records, as a replay does
// once the events are read: events/s is per core. Issue 16's bar is over
// 2 million events per second for @[comm] = count().
func BenchmarkEngine(b *testing.B) {
	format, err := kerneltest.Fake().Format("raw_syscalls", "sys_enter")
	if err != nil {
		b.Fatal(err)
	}
	size := 0
	for _, f := range format.Fields {
		size = max(size, f.Offset+f.Size)
	}
	// Eight threads of eight names make the events, each a syscall
	// number of its own.
	comms := []string{"bash", "sshd", "systemd", "kworker/0:1", "go", "ebtrace", "cat", "journald"}
	ctxs := make([][]byte, len(comms))
	envs := make([]engine.Env, len(comms))
	for i, comm := range comms {
		ctxs[i] = make([]byte, size)
		binary.LittleEndian.PutUint16(ctxs[i], uint16(format.ID))
		binary.LittleEndian.PutUint32(ctxs[i][4:], uint32(1000+i))
		id, _ := format.Field("id")
		binary.LittleEndian.PutUint64(ctxs[i][id.Offset:], uint64(i*37))
		envs[i] = engine.Env{CPU: 0, TGID: uint32(1000 + i), PID: uint32(1000 + i)}
		copy(envs[i].Comm[:], comm)
	}
	for _, c := range []struct{ name, script string }{
		{"count", `tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }`},
		{"hist", `tracepoint:raw_syscalls:sys_enter { @ = hist(args.id); }`},
	} {
		b.Run(c.name, func(b *testing.B) {
			res := tracetest.Compile(b, all.Registry(), tracetest.FakeEnv(false), c.script, compile.Options{Plan: plan.DefaultOptions})
			coll, err := engine.NewCollection(res.Spec(), 1)
			if err != nil {
				b.Fatal(err)
			}
			prog := coll.Programs[res.Programs[0].Name]
			i := 0
			for b.Loop() {
				if _, err := prog.Run(ctxs[i], &envs[i]); err != nil {
					b.Fatal(err)
				}
				i = (i + 1) % len(ctxs)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			// Every event counted: one count, or one in a bucket.
			total := uint64(0)
			coll.Maps[res.Plan.Maps[0].BPFName].Iterate(func(_ []byte, values [][]byte) bool {
				for _, v := range values {
					total += binary.LittleEndian.Uint64(v)
				}
				return true
			})
			if total != uint64(b.N) {
				b.Fatalf("the map counts %d events of %d", total, b.N)
			}
		})
	}
}
