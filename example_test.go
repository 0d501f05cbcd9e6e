package ebtrace_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ebtrace/ebtrace"
)

// A script with a mistake compiles to a *CompileError, whose text shows
// each problem under its source line, and whose Diagnostics hold them as
// values. Nothing is loaded.
func ExampleCompile() {
	_, err := ebtrace.Compile("calls.bt", `tracepoint:syscalls:sys_enter_getppid { @calls = cont(); }`, ebtrace.Options{})
	fmt.Println(err)
	if ce, ok := err.(*ebtrace.CompileError); ok {
		d := ce.Diagnostics[0]
		fmt.Printf("line %d, column %d: %s\n", d.Line, d.Column, d.Message)
	}
	// Output:
	// calls.bt:1:50: error: unknown function cont()
	//     tracepoint:syscalls:sys_enter_getppid { @calls = cont(); }
	//                                                      ^~~~
	// hint: did you mean count(), cat(), comm()?
	// line 1, column 50: unknown function cont()
}

// Count this process's getppid(2) calls and read the count from a map
// snapshot while the script runs. This example needs root, as loading BPF
// programs does.
func ExampleScript_Start() {
	script, err := ebtrace.Compile("calls.bt", `tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @calls = count(); }`,
		ebtrace.Options{Params: []string{strconv.Itoa(os.Getpid())}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sess, err := script.Start(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 3 {
		unix.Getppid()
	}
	calls, err := sess.Map("@calls")
	if err != nil {
		fmt.Println(err)
	}
	fmt.Println("@calls:", calls.Entries[0].Value)
	cancel() // detach: END runs, nothing stays attached
	if err := sess.Wait(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// @calls: 3
}

// A script's output arrives as typed events, ending with Exit. This
// example needs root, as loading BPF programs does.
func ExampleSession_Events() {
	script, err := ebtrace.Compile("hello.bt", `BEGIN { printf("hello, %s\n", "world"); @n = 42; exit(7); }`, ebtrace.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	sess, err := script.Start(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for ev := range sess.Events() {
		switch ev := ev.(type) {
		case ebtrace.Printf:
			fmt.Print(ev.Text)
		case ebtrace.Print:
			fmt.Println(ev.Map.Name, "=", ev.Map.Entries[0].Value)
		case ebtrace.Exit:
			fmt.Println("exit", ev.Code, ev.Reason)
		}
	}
	// Output:
	// hello, world
	// @n = 42
	// exit 7 exit
}

// Record the trace event of true(1)'s exit as JSON, from a command run
// for the recording. This example needs root, as loading BPF programs
// does.
func ExampleOpenRecording() {
	rec, err := ebtrace.OpenRecording(ebtrace.RecordOptions{
		Events:  []string{"sched:sched_process_exit"},
		Command: []string{"true"},
		Format:  ebtrace.RecordJSON,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rec.Close()
	var out strings.Builder
	// Run ends when the command does.
	if _, err := rec.Run(context.Background(), &out); err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var e struct{ Event, Comm string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.Event, e.Comm)
	}
	// Output:
	// sched:sched_process_exit true
}

// A shell grows one input at a time: each block is attached at once, and
// shares its maps with the blocks before it. This example needs root, as
// loading BPF programs does.
func ExampleNewShell() {
	sh, err := ebtrace.NewShell(ebtrace.ShellOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sh.Close() // END runs, everything is detached
	pid := os.Getpid()
	for _, input := range []string{
		fmt.Sprintf(`tracepoint:syscalls:sys_enter_getppid /pid == %d/ { @calls["enter"] = count(); }`, pid),
		fmt.Sprintf(`tracepoint:syscalls:sys_exit_getppid /pid == %d/ { @calls["exit"] = count(); }`, pid),
	} {
		if err := sh.Do(input, os.Stdout); err != nil {
			fmt.Println(err)
		}
	}
	unix.Getppid()
	calls, err := sh.Map("@calls")
	if err != nil {
		fmt.Println(err)
	}
	slices.SortFunc(calls.Entries, func(a, b ebtrace.Entry) int { return strings.Compare(a.Key[0].(string), b.Key[0].(string)) })
	for _, e := range calls.Entries {
		fmt.Printf("@calls[%s] = %d\n", e.Key[0], e.Value)
	}
	// Output:
	// attached #1: tracepoint:syscalls:sys_enter_getppid
	// attached #2: tracepoint:syscalls:sys_exit_getppid
	// @calls[enter] = 1
	// @calls[exit] = 1
}
