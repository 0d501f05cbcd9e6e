// Package testutil owns the helpers that ebtrace's tests share: skipping when
// root or tracefs is missing, building the module's commands (the workload
// especially) once per test process or taking them prebuilt from
// $EBTRACE_TEST_BINDIR, compiling the C and C++ test programs with gcc and
// g++ and the BPF C programs with clang, and golden-file comparison with a
// -update flag.
package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// RequireRoot skips the test unless it runs with effective uid 0.
func RequireRoot(t testing.TB) {
	t.Helper()
	if euid := os.Geteuid(); euid != 0 {
		t.Skipf("needs root: loading BPF programs and reading tracefs require it (euid is %d)", euid)
	}
}

// tracefsMount is where RequireTracefs mounts tracefs when no events
// directory is visible.
const tracefsMount = "/sys/kernel/tracing"

// tracefsEvents are the places a mounted tracefs exposes its events.
var tracefsEvents = []string{
	"/sys/kernel/tracing/events",
	"/sys/kernel/debug/tracing/events",
}

// RequireTracefs skips the test unless tracefs is mounted. When it is not and
// the test runs as root, it first tries to mount tracefs at
// /sys/kernel/tracing, and skips when the kernel has no tracefs (ENODEV,
// or ENOENT for the mount point) or this root may not mount (EPERM, as in
// a container); any other failure fails the test.
func RequireTracefs(t testing.TB) {
	t.Helper()
	if tracefsMounted() {
		return
	}
	if os.Geteuid() != 0 {
		t.Skipf("needs tracefs: no events under %s, and mounting it needs root", strings.Join(tracefsEvents, " or "))
	}
	switch err := unix.Mount("tracefs", tracefsMount, "tracefs", 0, ""); {
	case errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENOENT): // no such file system, no mount point
		t.Skipf("needs tracefs: this kernel has none (CONFIG_TRACING is off): %v", err)
	case errors.Is(err, unix.EPERM):
		t.Skipf("needs tracefs: not mounted, and this root may not mount it at %s: %v", tracefsMount, err)
	case err != nil:
		t.Fatalf("mount tracefs at %s: %v", tracefsMount, err)
	}
	if !tracefsMounted() {
		t.Fatalf("mounted tracefs at %s but %s is missing", tracefsMount, tracefsEvents[0])
	}
}

func tracefsMounted() bool {
	for _, dir := range tracefsEvents {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}

// Workload returns the path of the internal/cmd/workload binary, building it
// on first use in this test process.
func Workload(t testing.TB) string {
	t.Helper()
	return Build(t, "./internal/cmd/workload")
}

// build is the outcome of building one package, shared by every caller.
type build struct {
	once sync.Once
	path string
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*build{}
)

// BinDirEnv names the environment variable that hands Build prebuilt
// binaries: when it is set, Build(t, "./cmd/ebtrace") returns
// $EBTRACE_TEST_BINDIR/ebtrace instead of running the go tool. Test binaries
// run where there is no Go toolchain, such as the VM of vm/run.sh, need it.
const BinDirEnv = "EBTRACE_TEST_BINDIR"

// Build compiles the main package pkg, a path relative to the module root
// such as "./cmd/ebtrace", and returns the binary's path. The build runs once
// per test process and package; later calls return the same path, or fail
// the same way. The module root is the nearest directory holding go.mod at or
// above the working directory.
//
// Binaries are kept under os.TempDir() at a path fixed by the module root and
// package, and replaced atomically, so concurrent test processes share one
// file per package instead of leaving a directory each behind.
//
// When the BinDirEnv variable is set, Build builds nothing: it returns the
// binary named after pkg's last element in that directory, and fails the
// test if it is missing.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	if dir := os.Getenv(BinDirEnv); dir != "" {
		path, err := prebuilt(dir, pkg)
		if err != nil {
			t.Fatalf("%s is set: %v", BinDirEnv, err)
		}
		return path
	}
	buildsMu.Lock()
	b, ok := builds[pkg]
	if !ok {
		b = &build{}
		builds[pkg] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() { b.path, b.err = goBuild(pkg) })
	if b.err != nil {
		t.Fatalf("building %s: %v", pkg, b.err)
	}
	return b.path
}

// binaryName is the file name a build of pkg gets: its last path element.
func binaryName(pkg string) string {
	name := filepath.Base(filepath.Clean(pkg))
	if name == "." || name == string(filepath.Separator) {
		return "main"
	}
	return name
}

// prebuilt returns the binary for pkg in dir, or an error wrapping
// os.ErrNotExist when there is no such regular file.
func prebuilt(dir, pkg string) (string, error) {
	path, err := filepath.Abs(filepath.Join(dir, binaryName(pkg)))
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("prebuilt binary for %s: %w", pkg, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("prebuilt binary for %s: %s is not a regular file: %w", pkg, path, os.ErrNotExist)
	}
	return path, nil
}

func goBuild(pkg string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(root + "\x00" + pkg))
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("ebtrace-testutil-%d", os.Geteuid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	name := binaryName(pkg)
	final := filepath.Join(dir, name+"-"+hex.EncodeToString(sum[:6]))
	staging, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(staging)
	out := filepath.Join(staging, name)
	// Built as the README says: without cgo, into a static binary.
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, msg)
	}
	if err := os.Rename(out, final); err != nil {
		return "", err
	}
	return final, nil
}

// moduleRoot walks up from the working directory to the directory holding
// go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found at or above the working directory")
		}
		dir = parent
	}
}

// BuildC compiles the C program src (a path relative to the calling test's
// package directory) with gcc into a temporary directory and returns the
// binary's path. It keeps frame pointers, so user stacks unwind, and
// skips the test when gcc is missing.
func BuildC(t testing.TB, src string, flags ...string) string {
	t.Helper()
	return buildNative(t, "gcc", "C", src, flags)
}

// BuildCXX is BuildC for a C++ program, compiled with g++; it skips the
// test when g++ is missing.
func BuildCXX(t testing.TB, src string, flags ...string) string {
	t.Helper()
	return buildNative(t, "g++", "C++", src, flags)
}

// buildNative compiles src with compiler, a gcc driver for language.
func buildNative(t testing.TB, compiler, language, src string, flags []string) string {
	t.Helper()
	name := strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))
	return compile(t, compiler, language, src, name, func(abs, out string) []string {
		return append([]string{"-O1", "-g", "-fno-omit-frame-pointer", "-o", out, abs}, flags...)
	})
}

// compile runs compiler with the arguments args gives for src's absolute
// path and the output file name in a temporary directory, and returns
// that file's path; it skips the test when compiler is missing.
func compile(t testing.TB, compiler, language, src, name string, args func(abs, out string) []string) string {
	t.Helper()
	cc, err := exec.LookPath(compiler)
	if err != nil {
		t.Skipf("%s is not installed: the %s programs cannot be built", compiler, language)
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), name)
	if msg, err := exec.Command(cc, args(abs, out)...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", compiler, src, err, msg)
	}
	return out
}

// BuildBPF compiles the BPF C program src (a path relative to the calling
// test's package directory) with clang for the bpf target, with BTF (-g),
// into a temporary directory, and returns the object's path. It skips the
// test when clang or libbpf's headers are missing: ebtrace itself never
// needs them, only its C examples do.
//
// Where the tests run without clang (the VM suite's guest), the objects
// may be built beforehand: $EBTRACE_TEST_BINDIR/bpf/NAME.o is taken for
// NAME.c, built with the flags the guest needs (vm/run.sh).
func BuildBPF(t testing.TB, src string, flags ...string) string {
	t.Helper()
	if dir := os.Getenv(BinDirEnv); dir != "" {
		prebuilt := filepath.Join(dir, "bpf", strings.TrimSuffix(filepath.Base(src), ".c")+".o")
		if _, err := os.Stat(prebuilt); err == nil {
			return prebuilt
		}
	}
	if _, err := os.Stat("/usr/include/bpf/bpf_helpers.h"); err != nil {
		t.Skip("libbpf's headers are not installed: the BPF C programs cannot be built (setup.sh installs Debian's libbpf-dev)")
	}
	name := strings.TrimSuffix(filepath.Base(src), ".c") + ".o"
	return compile(t, "clang", "BPF C", src, name, func(abs, out string) []string {
		return append([]string{"-O2", "-g", "-target", "bpf", "-I" + multiarchInclude(), "-c", abs, "-o", out}, flags...)
	})
}

// multiarchInclude is where Debian keeps the kernel's asm/ headers, which
// clang's bpf target does not search by itself.
func multiarchInclude() string {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	return "/usr/include/" + arch + "-linux-gnu"
}

// TracefsInstance makes a tracefs instance named name under root (the
// tracefs root) for the test: its own buffer and event filters, so the
// test leaves the global trace buffer alone. It is removed when the test
// ends; a tracefs without instances skips the test.
func TracefsInstance(t testing.TB, root, name string) string {
	t.Helper()
	dir := filepath.Join(root, "instances", name)
	os.Remove(dir)
	if err := os.Mkdir(dir, 0o755); errors.Is(err, os.ErrNotExist) {
		t.Skipf("this tracefs has no instances directory: %v", err)
	} else if err != nil {
		t.Fatalf("create a tracefs instance: %v", err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	return dir
}

// RequireTracefsInstances skips the test without root, tracefs or
// tracefs's instances (a kernel too old for private trace buffers), and
// returns the tracefs root.
func RequireTracefsInstances(t testing.TB) string {
	t.Helper()
	RequireRoot(t)
	RequireTracefs(t)
	for _, events := range tracefsEvents {
		if _, err := os.Stat(events); err != nil {
			continue
		}
		root := filepath.Dir(events)
		if _, err := os.Stat(filepath.Join(root, "instances")); err != nil {
			t.Skipf("this tracefs has no instances: %v", err)
		}
		return root
	}
	t.Fatalf("RequireTracefs found tracefs, but no events under %s", strings.Join(tracefsEvents, " or "))
	return ""
}
