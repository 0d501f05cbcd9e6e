package main

import (
	"fmt"
	"testing"
)

func TestParseRecordArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the options, or the error
	}{
		{[]string{"-e", "a:b", "-esched:c", "--filter", "x == 1", "-p", "7"},
			"events [a:b sched:c] filter x == 1 pid 7 cmd  out  format text buffer 0 verbose false"},
		{[]string{"-e", "a:b", "-o", "t.json", "--buffer-size=64K", "-v"},
			"events [a:b] filter  pid 0 cmd  out t.json format chrome buffer 65536 verbose true"},
		{[]string{"-e", "a:b", "-o", "t.json", "-f", "json", "--buffer-size", "2M", "-c", "ls -l"},
			"events [a:b] filter  pid 0 cmd ls -l out t.json format json buffer 2097152 verbose false"},
		{[]string{"-e", "a:b", "-o", "r.ebt"},
			"events [a:b] filter  pid 0 cmd  out r.ebt format ebt buffer 0 verbose false"},
		{[]string{"-e", "a:b", "-o", "r.ebt", "-f", "text"},
			"events [a:b] filter  pid 0 cmd  out r.ebt format text buffer 0 verbose false"},
		{[]string{"-e", "a:b", "-f", "ebt"},
			"events [a:b] filter  pid 0 cmd  out  format ebt buffer 0 verbose false"},
		{[]string{"-e", "a:b", "--buffer-size", "16"},
			"events [a:b] filter  pid 0 cmd  out  format text buffer 16384 verbose false"},
		{[]string{"-e", "a:b", "--buffer-size", "0"}, "--buffer-size 0: want a size like 64K or 4M (at most 1G)"},
		{[]string{"-e", "a:b", "--buffer-size", "2G"}, "--buffer-size 2G: want a size like 64K or 4M (at most 1G)"},
		{[]string{"-e", "a:b", "-p", "x"}, "-p x: want a process ID"},
		{[]string{"-e", "a:b", "-p", "1", "-c", "ls"}, "record: -p and -c exclude each other"},
		{[]string{"--filter", "x"}, "record: name at least one event with -e CATEGORY:NAME"},
		{[]string{"-e", "a:b", "--filter", "x", "--filter-bt", "/y/"}, "record: --filter and --filter-bt exclude each other"},
		{[]string{"-e"}, "option -e needs a value"},
		{[]string{"-e", "a:b", "-vq"}, "unknown option -q"},
		{[]string{"-e", "a:b", "--fliter", "x"}, "unknown option --fliter"},
	} {
		o, err := parseRecordArgs(tc.args)
		got := fmt.Sprint(err)
		if err == nil {
			got = fmt.Sprintf("events %v filter %s pid %d cmd %s out %s format %s buffer %d verbose %v",
				o.events, o.filter, o.pid, o.command, o.outFile, o.format, o.bufferSize, o.verbose)
		}
		if got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.args, got, tc.want)
		}
	}
}
