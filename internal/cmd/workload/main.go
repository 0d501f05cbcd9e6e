// Command workload is the deterministic program that ebtrace's tests and
// benchmarks drive the kernel with. It owns the exact syscall patterns those
// tests count: each subcommand makes only the syscalls it documents, using raw
// syscall wrappers so the Go runtime adds none of the traced kinds after
// start-up.
//
// Usage:
//
//	workload getppid N    N getppid(2) calls
//	workload spin MS      run on the CPU in user space until the process has
//	                      used MS milliseconds of CPU time, making no syscalls
//	                      but clock_gettime(2)
//	workload open PATH... openat(2) each path read-only, then close it;
//	                      a path that cannot be opened is skipped
//	workload write LO HI  one write(2) of each size LO..HI to /dev/null, of
//	                      the bytes "abc...z" repeated
//	workload sleep MS     sleep MS milliseconds
//	workload nanosleep MS one nanosleep(2) of MS milliseconds
//	workload fsync PATH   open PATH read-only, fsync(2) it and close it
//	workload call N       N calls of main.target, a function uprobes attach to
//	workload exec PATH [ARG...]
//	                      execve(2) PATH with the argument vector PATH ARG...
//	workload tcp [6]      one TCP connection to itself over 127.0.0.1 (::1
//	                      with 6), then closed: the sock:inet_sock_set_state
//	                      events
//	workload udp N SIZE   N datagrams of SIZE bytes from one UDP socket to
//	                      another over 127.0.0.1, each received before the
//	                      next is sent: N packets received on lo, each
//	                      SIZE+28 bytes long with its IP and UDP headers
//	workload udpdrop N SIZE
//	                      N datagrams of SIZE bytes to a port of 127.0.0.1
//	                      that no socket holds: N packets the kernel drops
//	                      for want of a socket (and N ICMP replies)
//	workload stat PATH... stat(2) each path (newfstatat); a path that does not
//	                      exist is skipped
//	workload ppid         one getppid(2) call; print what it returned: the
//	                      target of override()
//	workload signals N    N getppid(2) calls, each followed by a wait of up
//	                      to 1 s for a SIGUSR1; then print how many arrived:
//	                      the target of signal()
//	workload kill PID SIG one kill(2) of PID (negative: a process group)
//	                      with signal SIG; its failure (ESRCH for a PID
//	                      that names nothing) is ignored: a syscall whose
//	                      pid_t argument a test chooses
//	workload badclose N   N close(2) calls of the invalid descriptors
//	                      1000000, 1000001, ... 1000099 in turn, each failing
//	                      with EBADF: a fast event whose argument a filter
//	                      can keep exactly 1% of
//	workload hold N MS    open /dev/null N times, keep the descriptors MS
//	                      milliseconds, close them and wait MS milliseconds
//	                      more, in nanosleep(2): N struct files (the "filp"
//	                      slab cache) that live MS ms, then a time with none
//	workload rw N SIZE    open /dev/zero read-write, then N times one
//	                      write(2) and one read(2) of SIZE bytes, then close
//	                      it: a known sequence of syscalls and arguments
//	workload threads T N  T threads that each make N getppid(2) calls,
//	                      yielding the CPU (sched_yield(2)) after every
//	                      fourth: events whose thread changes often on
//	                      every CPU
//	workload int80 N      N getpid calls as 32-bit syscalls (int 0x80, amd64
//	                      only): raw_syscalls sees them with the 32-bit
//	                      table's number (20, writev's in the 64-bit table),
//	                      the syscalls tracepoints do not
//	workload wait SUBCOMMAND [ARG...]
//	                      read(2) standard input until a newline or its end,
//	                      then run the subcommand: a gate that lets a tracer
//	                      attach to the process first (testutil.StartGated)
//
// It exits 0 on success, 1 if a syscall it depends on fails, and 2 on bad
// usage.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

const usage = `usage: workload getppid N | spin MS | open PATH... | write LO HI | sleep MS | nanosleep MS | fsync PATH | call N | exec PATH [ARG...] | stat PATH... | ppid | signals N | kill PID SIG | badclose N | tcp [6] | udp N SIZE | udpdrop N SIZE | hold N MS | rw N SIZE | threads T N | wait SUBCOMMAND [ARG...]`

// usageError is a command-line mistake; main reports it with exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "workload: %v\n", err)
		if _, ok := err.(usageError); ok {
			fmt.Fprintln(os.Stderr, usage)
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return usageError{"missing subcommand"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "wait":
		if len(rest) == 0 {
			return usageError{"wait: missing subcommand"}
		}
		if err := waitLine(); err != nil {
			return err
		}
		return run(rest)
	case "getppid":
		n, err := counts(cmd, rest, 1)
		if err != nil {
			return err
		}
		getppid(n[0])
		return nil
	case "threads":
		n, err := counts(cmd, rest, 2)
		if err != nil {
			return err
		}
		threads(n[0], n[1])
		return nil
	case "open":
		if len(rest) == 0 {
			return usageError{"open: need at least one PATH"}
		}
		openClose(rest)
		return nil
	case "write":
		n, err := counts(cmd, rest, 2)
		if err != nil {
			return err
		}
		if n[0] > n[1] {
			return usageError{fmt.Sprintf("write: LO %d is greater than HI %d", n[0], n[1])}
		}
		return writeSizes(n[0], n[1])
	case "spin":
		n, err := counts(cmd, rest, 1)
		if err != nil {
			return err
		}
		spin(time.Duration(n[0]) * time.Millisecond)
		return nil
	case "sleep":
		n, err := counts(cmd, rest, 1)
		if err != nil {
			return err
		}
		time.Sleep(time.Duration(n[0]) * time.Millisecond)
		return nil
	case "nanosleep":
		n, err := counts(cmd, rest, 1)
		if err != nil {
			return err
		}
		ts := unix.NsecToTimespec(int64(n[0]) * int64(time.Millisecond))
		return unix.Nanosleep(&ts, nil)
	case "fsync":
		if len(rest) != 1 {
			return usageError{"fsync: need one PATH"}
		}
		fd, err := unix.Openat(unix.AT_FDCWD, rest[0], unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Fsync(fd)
	case "exec":
		if len(rest) == 0 {
			return usageError{"exec: need a PATH"}
		}
		return unix.Exec(rest[0], rest, os.Environ())
	case "stat":
		if len(rest) == 0 {
			return usageError{"stat: need at least one PATH"}
		}
		for _, p := range rest {
			var st unix.Stat_t
			unix.Stat(p, &st)
		}
		return nil
	case "ppid":
		if len(rest) != 0 {
			return usageError{"ppid: takes no arguments"}
		}
		fmt.Printf("ppid: %d\n", unix.Getppid())
		return nil
	case "signals":
		n, err := counts(cmd, rest, 1)
		if err != nil {
			return err
		}
		fmt.Printf("caught %d SIGUSR1\n", catchSignals(n[0]))
		return nil
	case "tcp":
		switch {
		case len(rest) == 0:
			return tcpOnce(unix.AF_INET)
		case len(rest) == 1 && rest[0] == "6":
			return tcpOnce(unix.AF_INET6)
		}
		return usageError{"tcp: the only argument is 6, for IPv6"}
	case "udp", "udpdrop":
		n, err := counts(cmd, rest, 2)
		if err != nil {
			return err
		}
		return udpSend(n[0], n[1], cmd == "udpdrop")
	case "kill":
		if len(rest) != 2 {
			return usageError{"kill: need PID and SIG"}
		}
		pid, err1 := strconv.Atoi(rest[0])
		sig, err2 := strconv.Atoi(rest[1])
		if err1 != nil || err2 != nil {
			return usageError{fmt.Sprintf("kill: PID %q and SIG %q must be integers", rest[0], rest[1])}
		}
		unix.Kill(pid, unix.Signal(sig))
		return nil
	case "int80":
		n, err := counts(cmd, rest, 1)
		if err != nil {
			return err
		}
		return compatGetpid(n[0])
	case "badclose":
		n, err := counts(cmd, rest, 1)
		if err != nil {
			return err
		}
		badClose(n[0])
		return nil
	case "hold":
		n, err := counts(cmd, rest, 2)
		if err != nil {
			return err
		}
		return hold(n[0], time.Duration(n[1])*time.Millisecond)
	case "rw":
		n, err := counts(cmd, rest, 2)
		if err != nil {
			return err
		}
		return readWrite(n[0], n[1])
	case "call":
		n, err := counts(cmd, rest, 1)
		if err != nil {
			return err
		}
		for i := range n[0] {
			sink += target(i)
		}
		return nil
	}
	return usageError{fmt.Sprintf("unknown subcommand %q", cmd)}
}

// counts parses exactly want non-negative integer arguments of cmd.
func counts(cmd string, args []string, want int) ([]int, error) {
	if len(args) != want {
		return nil, usageError{fmt.Sprintf("%s: want %d numeric argument(s), got %d", cmd, want, len(args))}
	}
	out := make([]int, want)
	for i, a := range args {
		v, err := strconv.Atoi(a)
		if err != nil || v < 0 {
			return nil, usageError{fmt.Sprintf("%s: %q is not a non-negative integer", cmd, a)}
		}
		out[i] = v
	}
	return out, nil
}

// getppid makes exactly n getppid syscalls. unix.Getppid is a raw syscall, so
// the scheduler is not involved and no other syscall is interleaved.
func getppid(n int) {
	for range n {
		unix.Getppid()
	}
}

// threads runs t threads that each make n getppid calls, yielding after
// every fourth, all started together.
func threads(t, n int) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for range t {
		ready.Add(1)
		done.Go(func() {
			runtime.LockOSThread()
			ready.Done()
			<-start
			for i := range n {
				unix.Getppid()
				if i%4 == 3 {
					unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
				}
			}
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// firstBadFD and the 99 after it are never open: the workload opens a
// handful of descriptors, so closing them always fails with EBADF.
const firstBadFD = 1000000

// tcpOnce connects to a listener of its own on the loopback address of
// family (127.0.0.1 or ::1) and closes both ends. It uses the syscalls
// directly: package net would link cgo in, and with it a dynamic loader
// whose opens other tests would see.
func tcpOnce(family int) error {
	l, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(l)
	var loopback unix.Sockaddr = &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if family == unix.AF_INET6 {
		loopback = &unix.SockaddrInet6{Addr: [16]byte{15: 1}}
	}
	if err := unix.Bind(l, loopback); err != nil {
		return err
	}
	if err := unix.Listen(l, 1); err != nil {
		return err
	}
	bound, err := unix.Getsockname(l)
	if err != nil {
		return err
	}
	c, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(c)
	if err := unix.Connect(c, bound); err != nil {
		return err
	}
	a, _, err := unix.Accept(l)
	if err != nil {
		return err
	}
	return unix.Close(a)
}

// udpSend sends n datagrams of size bytes over 127.0.0.1 to a socket of its
// own, receiving each before sending the next so that none is dropped for
// want of buffer space; with drop, to a port whose socket it has closed,
// so that the kernel drops each one. Like tcpOnce it makes the syscalls
// itself.
func udpSend(n, size int, drop bool) error {
	rx, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	to, err := bindLoopback(rx)
	if drop {
		// Nothing takes the port back before the sends unless another
		// socket draws it from the thousands of ephemeral ports.
		unix.Close(rx)
	} else {
		defer unix.Close(rx)
	}
	if err != nil {
		return err
	}
	tx, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(tx)
	out, in := make([]byte, size), make([]byte, size+1)
	for i := range out {
		out[i] = 'a' + byte(i%26)
	}
	for range n {
		if err := unix.Sendto(tx, out, 0, to); err != nil {
			return fmt.Errorf("send %d bytes: %w", size, err)
		}
		if drop {
			continue
		}
		got, _, err := unix.Recvfrom(rx, in, 0)
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if got != size {
			return fmt.Errorf("received %d bytes, sent %d", got, size)
		}
	}
	return nil
}

// bindLoopback binds fd to a free port of 127.0.0.1 and returns the address.
func bindLoopback(fd int) (unix.Sockaddr, error) {
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return nil, err
	}
	return unix.Getsockname(fd)
}

// badClose makes exactly n close(2) calls of descriptors that are not open.
func badClose(n int) {
	for i := range n {
		unix.Close(firstBadFD + i%100)
	}
}

// spin keeps one CPU busy until the process has used d of CPU time, so
// CPU-time samplers see it for d whatever else runs. It reads the clock only
// every few microseconds of work.
func spin(d time.Duration) {
	var start, now unix.Timespec
	unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &start)
	for x := uint64(1); ; {
		for range 10000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &now)
		if time.Duration(now.Nano()-start.Nano()) >= d {
			spun = x
			return
		}
	}
}

// spun keeps spin's arithmetic from being optimised away.
var spun uint64

// openClose opens and closes each path, ignoring paths that do not open.
func openClose(paths []string) {
	for _, p := range paths {
		fd, err := unix.Openat(unix.AT_FDCWD, p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		unix.Close(fd)
	}
}

// writeSizes opens /dev/null once and writes lo, lo+1, ..., hi bytes to it,
// one write(2) per size, of the alphabet repeated: tests that print the
// bytes see known, printable ones.
func writeSizes(lo, hi int) error {
	fd, err := unix.Openat(unix.AT_FDCWD, "/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/null: %w", err)
	}
	defer unix.Close(fd)
	buf := make([]byte, hi)
	for i := range buf {
		buf[i] = 'a' + byte(i%26)
	}
	for size := lo; size <= hi; size++ {
		if _, err := unix.Write(fd, buf[:size]); err != nil {
			return fmt.Errorf("write %d bytes: %w", size, err)
		}
	}
	return nil
}

// hold opens /dev/null n times, keeps the descriptors for d, closes them
// and waits d again. It sleeps with nanosleep(2), not time.Sleep: Go's
// timers would open an epoll descriptor and an eventfd, two more struct
// files that live until the process exits.
func hold(n int, d time.Duration) error {
	fds := make([]int, 0, n)
	for range n {
		fd, err := unix.Openat(unix.AT_FDCWD, "/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open /dev/null: %w", err)
		}
		fds = append(fds, fd)
	}
	ts := unix.NsecToTimespec(d.Nanoseconds())
	if err := unix.Nanosleep(&ts, nil); err != nil {
		return err
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
	return unix.Nanosleep(&ts, nil)
}

// readWrite opens /dev/zero, which takes writes and reads zeros, and makes
// n pairs of one write(2) and one read(2) of size bytes.
func readWrite(n, size int) error {
	fd, err := unix.Openat(unix.AT_FDCWD, "/dev/zero", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/zero: %w", err)
	}
	defer unix.Close(fd)
	buf := make([]byte, size)
	for range n {
		if _, err := unix.Write(fd, buf); err != nil {
			return fmt.Errorf("write %d bytes: %w", size, err)
		}
		if _, err := unix.Read(fd, buf); err != nil {
			return fmt.Errorf("read %d bytes: %w", size, err)
		}
	}
	return nil
}

// sink keeps target's results, so its calls have an effect.
var sink int

// target is the function uprobe tests count: main.target in the symbol
// table. go:noinline keeps each call a real call; its argument arrives in
// rax (Go's register ABI), not rdi as in C.
//
//go:noinline
func target(i int) int { return i + 1 }

// catchSignals makes n getppid calls and returns how many SIGUSR1 signals
// arrived: a tracer's signal() sends one per call. It waits up to a
// second for each before the next call, since a signal sent while the same
// one is still pending is lost.
func catchSignals(n int) int {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGUSR1)
	caught := 0
	for range n {
		unix.Getppid()
		select {
		case <-ch:
			caught++
		case <-time.After(time.Second):
		}
	}
	return caught
}

// waitLine reads standard input a byte at a time until a newline or the
// end of input, with raw read(2) calls only.
func waitLine() error {
	var b [1]byte
	for {
		n, err := unix.Read(0, b[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait: read stdin: %w", err)
		}
		if n == 0 || b[0] == '\n' {
			return nil
		}
	}
}
