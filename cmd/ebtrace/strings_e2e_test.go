package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// TestJoinExecve prints the command lines the workload execs: first its own
// (the -c command, exec'd once the probe is attached), then the one it
// execs itself, which has more elements than join() reads. Each element
// keeps up to 1023 bytes, and an empty one ends the line, as in bpftrace.
func TestJoinExecve(t *testing.T) {
	wl := testutil.Workload(t)
	long := "/" + strings.Repeat("L", 1100)
	var paths []string
	for i := range 20 {
		paths = append(paths, fmt.Sprintf("/nonexistent/%d", i))
	}
	script := `tracepoint:syscalls:sys_enter_execve /pid == cpid/ { join(args.argv); join(args.argv, ","); }`
	r := runCLI(t, "-e", script, "-c", wl+" exec "+wl+" open "+long+" "+strings.Join(paths, " "))
	cut := long[:1023]
	first := append([]string{wl, "exec", wl, "open", cut}, paths...)[:16]
	second := append([]string{wl, "open", cut}, paths...)[:16]
	r.want(t, 0, strings.Join(first, " ")+"\n"+strings.Join(first, ",")+"\n"+
		strings.Join(second, " ")+"\n"+strings.Join(second, ",")+"\n\n\n")

	r = runCLI(t, "-e", script, "-c", wl+" exec "+wl+" open '' /nonexistent/x")
	r.want(t, 0, wl+" exec "+wl+" open\n"+wl+",exec,"+wl+",open\n"+wl+" open\n"+wl+",open\n\n\n")

	// In JSON, with the smallest ring perf_rb_pages asks for: it grows to
	// hold join's records.
	r = runCLI(t, "-f", "json", "-e", "config = { perf_rb_pages = 1 }\n"+script, "-c", wl+" exec "+wl+" open /nonexistent/x")
	lines := jsonLines(t, r.stdout)
	var got []string
	for _, d := range lines["join"] {
		got = append(got, string(d))
	}
	want := []string{
		strconv.Quote(wl + " exec " + wl + " open /nonexistent/x"), strconv.Quote(wl + ",exec," + wl + ",open,/nonexistent/x"),
		strconv.Quote(wl + " open /nonexistent/x"), strconv.Quote(wl + ",open,/nonexistent/x"),
	}
	if !slices.Equal(got, want) {
		t.Errorf("join lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPositionalParameters passes parameters after -e and after a script
// file; a missing one is 0, or "" in str().
func TestPositionalParameters(t *testing.T) {
	wl := testutil.Workload(t)
	const script = `tracepoint:syscalls:sys_enter_getppid /pid == cpid && $1 > 40/ {
	@[str($2), str($3)] = count(); @n = $1 + $# + $3;
}`
	want := "\n\n@[calls, ]: 5\n@n: 44\n"
	runCLI(t, "-e", script, "-c", wl+" getppid 5", "42", "calls").want(t, 0, want)
	file := filepath.Join(t.TempDir(), "params.bt")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	runCLI(t, "-c", wl+" getppid 5", file, "42", "calls").want(t, 0, want)
	// $1 is 0 here, so the predicate drops every event: both maps are
	// empty, and an empty map prints as a blank line.
	runCLI(t, "-c", wl+" getppid 5", file).want(t, 0, "\n\n\n\n")
	r := runCLI(t, "-e", script, "-c", wl+" getppid 5", "many", "calls")
	if r.code != 1 || !strings.Contains(r.stderr, `$1 is used as a number but is "many"`) {
		t.Errorf("a non-numeric $1: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// TestMaxStrlen reads a path longer than the default 64 bytes with
// max_strlen from the config block and from the environment, which wins,
// up to the largest max_strlen.
func TestMaxStrlen(t *testing.T) {
	wl := testutil.Workload(t)
	long := "/nonexistent/" + strings.Repeat("d", 150)
	script := `config = { max_strlen = 100 }
tracepoint:syscalls:sys_enter_openat /pid == cpid && strncmp(str(args.filename), "/nonexistent/", 13) == 0/ { printf("%s %d\n", str(args.filename), strlen(str(args.filename))); }`
	runCLI(t, "-e", script, "-c", wl+" open "+long).want(t, 0, long[:99]+" 99\n\n\n")
	r := ebtraceEnv(t, []string{"BPFTRACE_MAX_STRLEN=20"}, "-e", script, "-c", wl+" open "+long)
	r.want(t, 0, long[:19]+" 19\n\n\n")
	// Longer than the BPF stack: the probe's frame is in the scratch map.
	longer := "/nonexistent/" + strings.Repeat("e", 1100)
	r = ebtraceEnv(t, []string{"BPFTRACE_MAX_STRLEN=1024"}, "-e", script, "-c", wl+" open "+longer)
	r.want(t, 0, longer[:1023]+" 1023\n\n\n")
}

// jsonSchema says, for each type of JSON line, how its "data" must look;
// each entry returns an error describing the first mismatch.
var jsonSchema = map[string]func(data json.RawMessage) error{
	"attached_probes": fields("probes"),
	"lost_events":     fields("events"),
	"printf":          isString,
	"join":            isString,
	"map":             mapOf(plainValue),
	"hist":            mapOf(histogram),
	"stats":           mapOf(statsValue),
	"value":           plainValue,
	"time":            isString,
	"cat":             isString,
	"syscall":         isString,
	"helper_error":    helperError,
}

// decodeStrict decodes data into v, refusing fields v does not have.
func decodeStrict(data json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	return dec.Decode(v)
}

// fields accepts an object holding exactly the named integers.
func fields(names ...string) func(json.RawMessage) error {
	return func(data json.RawMessage) error {
		var m map[string]json.Number
		if err := decodeStrict(data, &m); err != nil {
			return err
		}
		if len(m) != len(names) {
			return fmt.Errorf("want fields %v, got %v", names, m)
		}
		for _, n := range names {
			if _, err := m[n].Int64(); err != nil {
				return fmt.Errorf("field %q: %v", n, err)
			}
		}
		return nil
	}
}

func isString(data json.RawMessage) error {
	var s string
	return decodeStrict(data, &s)
}

func isInteger(data json.RawMessage) error {
	var n json.Number
	if err := decodeStrict(data, &n); err != nil {
		return err
	}
	_, err := strconv.ParseInt(n.String(), 10, 64)
	return err
}

func scalarOrString(data json.RawMessage) error {
	if isInteger(data) == nil || isString(data) == nil {
		return nil
	}
	return fmt.Errorf("%s is neither an integer nor a string", data)
}

// plainValue is what a map element or print() holds: an integer, a
// string, or a tuple of those as an array.
func plainValue(data json.RawMessage) error {
	if scalarOrString(data) == nil {
		return nil
	}
	var tuple []json.RawMessage
	if err := decodeStrict(data, &tuple); err != nil {
		return fmt.Errorf("%s is neither an integer, a string nor a tuple", data)
	}
	for _, e := range tuple {
		if err := plainValue(e); err != nil {
			return err
		}
	}
	return nil
}

// helperError is -k's report of a failed helper call.
func helperError(data json.RawMessage) error {
	var h struct {
		Msg, Helper        *string
		Retcode, Line, Col *int64
	}
	if err := decodeStrict(data, &h); err != nil {
		return err
	}
	if h.Msg == nil || h.Helper == nil || h.Retcode == nil || h.Line == nil || h.Col == nil {
		return fmt.Errorf("%s lacks a member", data)
	}
	return nil
}

func histogram(data json.RawMessage) error {
	var rows []struct {
		Min   *int64 `json:"min"`
		Max   *int64 `json:"max"`
		Count *int64 `json:"count"`
	}
	if err := decodeStrict(data, &rows); err != nil {
		return err
	}
	for _, r := range rows {
		if r.Count == nil || r.Min == nil && r.Max == nil {
			return fmt.Errorf("bucket %s lacks its count or bounds", data)
		}
	}
	return nil
}

// statsValue is avg()'s integer or stats()' object.
func statsValue(data json.RawMessage) error {
	if isInteger(data) == nil {
		return nil
	}
	return fields("count", "average", "total")(data)
}

// mapOf accepts {"@name": V} where V is a value, or for a keyed map an
// object from key to value.
func mapOf(value func(json.RawMessage) error) func(json.RawMessage) error {
	return func(data json.RawMessage) error {
		var m map[string]json.RawMessage
		if err := decodeStrict(data, &m); err != nil {
			return err
		}
		if len(m) != 1 {
			return fmt.Errorf("want one map, got %d", len(m))
		}
		for name, v := range m {
			if !strings.HasPrefix(name, "@") {
				return fmt.Errorf("map name %q lacks its @", name)
			}
			if value(v) == nil {
				return nil
			}
			var keyed map[string]json.RawMessage
			if err := decodeStrict(v, &keyed); err != nil {
				return fmt.Errorf("%s: %v", name, value(v))
			}
			for k, kv := range keyed {
				if err := value(kv); err != nil {
					return fmt.Errorf("%s[%s]: %v", name, k, err)
				}
			}
		}
		return nil
	}
}

// jsonLines validates every line of out against jsonSchema and returns
// the lines by type.
func jsonLines(t *testing.T, out string) map[string][]json.RawMessage {
	t.Helper()
	byType := map[string][]json.RawMessage{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var v struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := decodeStrict([]byte(line), &v); err != nil {
			t.Errorf("line %q: %v", line, err)
			continue
		}
		check, ok := jsonSchema[v.Type]
		if !ok {
			t.Errorf("line %q: unknown type %q", line, v.Type)
			continue
		}
		if err := check(v.Data); err != nil {
			t.Errorf("line %q: %v", line, err)
		}
		byType[v.Type] = append(byType[v.Type], v.Data)
	}
	return byType
}

// TestJSONSchema runs a script that prints every kind of JSON line: printf,
// each aggregation, print() of maps, and lost events (a one-page ring
// buffer cannot hold a burst of printf records; join's are in
// TestJoinExecve, since its 16 KB records make the ring grow). Every line must
// parse and match the schema; the deterministic parts must be exact, and
// the printf records printed plus those lost must be all of them.
func TestJSONSchema(t *testing.T) {
	wl := testutil.Workload(t)
	const calls = 3000
	// END sends 40 records of 168 bytes in one run, more than a one-page
	// ring holds, so some are lost whatever the reader does; the events
	// before it were read already.
	script := `config = { perf_rb_pages = 1 }
tracepoint:syscalls:sys_enter_getppid /pid == cpid/ {
	@c = count(); @s = sum(2); @a = avg(4); @mn = min(3); @mx = max(5);
	@st = stats(6); @h = hist(7); @l = lhist(8, 0, 10, 5);
	@k[str($1)] = count(); @str = str($1); @t = strftime("%Y", 0);
	@b = buf("a\x01", 2);
}
END {
	print(@c); print(@k); print(@st);
	$p = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
	printf("%s\n", $p);
}
`
	r := runCLI(t, "-f", "json", "-e", script, "-c", wl+" getppid "+strconv.Itoa(calls), "key")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	lines := jsonLines(t, r.stdout)
	want := map[string][]string{
		"attached_probes": {`{"probes": 2}`},
		"map": {
			fmt.Sprintf(`{"@c": %d}`, calls),
			fmt.Sprintf(`{"@k": {"key": %d}}`, calls),
			`{"@b": "a\\x01"}`,
			fmt.Sprintf(`{"@c": %d}`, calls),
			fmt.Sprintf(`{"@k": {"key": %d}}`, calls),
			`{"@mn": 3}`, `{"@mx": 5}`,
			fmt.Sprintf(`{"@s": %d}`, 2*calls),
			`{"@str": "key"}`,
		},
		"hist": {
			fmt.Sprintf(`{"@h": [{"min": 4, "max": 7, "count": %d}]}`, calls),
			fmt.Sprintf(`{"@l": [{"min": 5, "max": 9, "count": %d}]}`, calls),
		},
		"stats": {
			fmt.Sprintf(`{"@st": {"count": %d, "average": 6, "total": %d}}`, calls, 6*calls),
			`{"@a": 4}`,
			fmt.Sprintf(`{"@st": {"count": %d, "average": 6, "total": %d}}`, calls, 6*calls),
		},
	}
	for typ, w := range want {
		var got []string
		for _, d := range lines[typ] {
			got = append(got, string(d))
		}
		if typ == "map" {
			// @t is the year the machine booted in: any four digits.
			var kept []string
			for _, g := range got {
				if strings.HasPrefix(g, `{"@t": "`) && len(g) == len(`{"@t": "2025"}`) {
					continue
				}
				kept = append(kept, g)
			}
			if len(kept) != len(got)-1 {
				t.Errorf("want one @t line with a year in %q", got)
			}
			got = kept
		}
		if strings.Join(got, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s lines:\n%s\nwant:\n%s", typ, strings.Join(got, "\n"), strings.Join(w, "\n"))
		}
	}
	const bursts = 40
	printed := len(lines["printf"])
	for _, d := range lines["printf"] {
		if string(d) != `"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"` {
			t.Errorf("printf line %s", d)
		}
	}
	var lost int
	if l := lines["lost_events"]; len(l) == 1 {
		var v struct{ Events int }
		json.Unmarshal(l[0], &v)
		lost = v.Events
	} else {
		t.Errorf("want one lost_events line, got %d", len(l))
	}
	if printed+lost != bursts || lost == 0 || printed == 0 {
		t.Errorf("%d printf lines and %d lost events; want %d in all, some lost", printed, lost, bursts)
	}
}

// TestBufWrite prints what the workload writes, as many bytes as each
// write(2) asks for (a length known only at run time, from user memory),
// and a literal length cut to the buffer.
func TestBufWrite(t *testing.T) {
	wl := testutil.Workload(t)
	r := runCLI(t, "-e", `tracepoint:syscalls:sys_enter_write /pid == cpid/ { printf("[%r] [%r]\n", buf(args.buf, args.count), buf(args.buf, 2)); }`,
		"-c", wl+" write 1 3")
	r.want(t, 0, `[a] [ab]
[ab] [ab]
[abc] [ab]


`)
}

// TestJSONSchemaValues covers the JSON lines of the other functions:
// print() of values and tuples, tuple map values, time(), cat(),
// system() and -k's helper errors; every line must match the schema and
// each of these types appear.
func TestJSONSchemaValues(t *testing.T) {
	r := runCLI(t, "-f", "json", "-k", "--unsafe", "-e", `BEGIN {
	print(1); print("two"); print((3, "four", (5, 6)));
	@t[1, "x"] = (2, "y");
	time("%Y\n");
	cat("/proc/self/stat");
	system("echo from system");
	$m = macaddr(0);
	exit();
}`)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	lines := jsonLines(t, r.stdout)
	for _, typ := range []string{"value", "map", "time", "cat", "syscall", "helper_error"} {
		if len(lines[typ]) == 0 {
			t.Errorf("no %s line in:\n%s", typ, r.stdout)
		}
	}
	var values []string
	for _, v := range lines["value"] {
		values = append(values, string(v))
	}
	if got, want := strings.Join(values, " "), `1 "two" [3,"four",[5,6]]`; got != want {
		t.Errorf("values %s, want %s", got, want)
	}
	if got := string(lines["syscall"][0]); got != `"from system\n"` {
		t.Errorf("system() output %s", got)
	}
}
