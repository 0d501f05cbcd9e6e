// Command topsyscalls counts the system calls of every process for two
// seconds and prints the five busiest, one per line: the count, right
// aligned in 8 columns, a space and the process name. It needs root.
package main

import (
	"cmp"
	"context"
	"fmt"
	"log"
	"slices"
	"time"

	"github.com/ebtrace/ebtrace"
)

func main() {
	script, err := ebtrace.Compile("top.bt", `tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }`, ebtrace.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	sess, err := script.Start(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if err := sess.Wait(); err != nil {
		log.Fatal(err)
	}
	calls, err := sess.Map("@")
	if err != nil {
		log.Fatal(err)
	}
	top := calls.Entries
	slices.SortFunc(top, func(a, b ebtrace.Entry) int { return cmp.Compare(b.Value.(int64), a.Value.(int64)) })
	for _, e := range top[:min(5, len(top))] {
		fmt.Printf("%8d %s\n", e.Value, e.Key[0])
	}
}
