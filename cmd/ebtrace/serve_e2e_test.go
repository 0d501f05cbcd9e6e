package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ebtrace/ebtrace/internal/testutil"
)

// startServe runs `ebtrace serve` with args until the test ends, and
// returns once it said where it serves.
func startServe(t *testing.T, args ...string) *background {
	t.Helper()
	return startBackground(t, "Serving ", append([]string{"serve"}, args...)...)
}

// held lists the BPF programs and links the server holds, failing the
// test when it holds none.
func (s *background) held(t *testing.T) (progs, links []int) {
	t.Helper()
	progs, links = testutil.BPFObjects(t, s.cmd.Process.Pid)
	if len(progs) == 0 || len(links) == 0 {
		t.Fatalf("ebtrace serve holds programs %v and links %v, want some of each", progs, links)
	}
	return progs, links
}

// servePort returns a port of host that was free a moment ago.
func servePort(t *testing.T, host string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// writeScript writes src to dir/s.bt and returns its path.
func writeScript(t *testing.T, dir, src string) string {
	t.Helper()
	path := filepath.Join(dir, "s.bt")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fetch GETs url with client, as user with password unless user is "",
// waiting up to 10 s for the server to listen, and returns the status
// and body.
func fetch(t *testing.T, client *http.Client, url, user, password string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := client.Do(req)
		if err == nil {
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			return resp.StatusCode, string(body)
		}
		// The server says where it serves just before it listens.
		if !strings.Contains(err.Error(), "connection refused") || time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
}

// metric GETs /metrics from base and returns its lines that begin with
// name.
func metric(t *testing.T, base, name string) []string {
	t.Helper()
	code, body := fetch(t, http.DefaultClient, base+"/metrics", "", "")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d\n%s", code, body)
	}
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name) {
			out = append(out, line)
		}
	}
	return out
}

// TestServe serves a script's counter on loopback: /metrics has it
// exact, /healthz answers, nothing is said but where it serves, and
// SIGTERM leaves nothing attached.
func TestServe(t *testing.T) {
	wl := testutil.StartGated(t, testutil.Workload(t), "wait", "getppid", "1000")
	path := writeScript(t, t.TempDir(), fmt.Sprintf("tracepoint:syscalls:sys_enter_getppid /pid == %d/ { @calls = count(); }\n", wl.Pid()))
	addr := "127.0.0.1:" + servePort(t, "127.0.0.1")
	s := startServe(t, "--listen", addr, path)
	wl.Release(t)
	base := "http://" + addr
	if code, body := fetch(t, http.DefaultClient, base+"/healthz", "", ""); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz: %d %q, want 200 \"ok\\n\"", code, body)
	}
	code, body := fetch(t, http.DefaultClient, base+"/metrics", "", "")
	want := "# HELP ebtrace_s_calls_total Count() of map @calls in " + path + "\n" +
		"# TYPE ebtrace_s_calls_total counter\n" +
		"ebtrace_s_calls_total 1000\n"
	if code != http.StatusOK || !strings.Contains(body, "\n"+want) {
		t.Errorf("GET /metrics: status %d, want 200 and\n%s\nin:\n%s", code, want, body)
	}
	progs, links := s.held(t)
	s.term(t)
	waitReleased(t, progs, links)
	if want := "Serving 1 script at http://" + addr + "/ (metrics at /metrics); Ctrl-C to stop\n"; s.stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", s.stderr.String(), want)
	}
}

// TestServeBeyondLoopback: listening on every interface works and is
// said on start.
func TestServeBeyondLoopback(t *testing.T) {
	path := writeScript(t, t.TempDir(), "tracepoint:syscalls:sys_enter_getppid /pid == 1/ { @calls = count(); }\n")
	port := servePort(t, "0.0.0.0")
	s := startServe(t, "--listen", "0.0.0.0:"+port, path)
	if code, _ := fetch(t, http.DefaultClient, "http://127.0.0.1:"+port+"/healthz", "", ""); code != http.StatusOK {
		t.Errorf("GET /healthz: status %d", code)
	}
	s.term(t)
	want := "Serving 1 script at http://0.0.0.0:" + port + "/ (metrics at /metrics); Ctrl-C to stop\n" +
		"ebtrace serve: WARNING: 0.0.0.0:" + port + " is reachable beyond this machine's loopback interface; " +
		"anyone who can reach it reads the maps (--web.config.file adds TLS and basic authentication)\n"
	if s.stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", s.stderr.String(), want)
	}
}

// TestServeReload: SIGHUP with a script that does not compile keeps the
// running one and says why; with a fixed one it replaces the running
// one, whose programs go.
func TestServeReload(t *testing.T) {
	first := testutil.StartGated(t, testutil.Workload(t), "wait", "getppid", "5")
	second := testutil.StartGated(t, testutil.Workload(t), "wait", "getppid", "9")
	dir := t.TempDir()
	path := writeScript(t, dir, fmt.Sprintf("tracepoint:syscalls:sys_enter_getppid /pid == %d/ { @calls = count(); }\n", first.Pid()))
	addr := "127.0.0.1:" + servePort(t, "127.0.0.1")
	base := "http://" + addr
	s := startServe(t, "--listen", addr, path)
	first.Release(t)
	if got := metric(t, base, "ebtrace_s_calls_total "); fmt.Sprint(got) != "[ebtrace_s_calls_total 5]" {
		t.Fatalf("before reloading: %v, want [ebtrace_s_calls_total 5]", got)
	}
	progs, links := s.held(t)

	broken := fmt.Sprintf("tracepoint:syscalls:sys_enter_getppid /pid == %d/ { @calls = count(); }}\n", second.Pid())
	writeScript(t, dir, broken)
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitStderr(t, "\nhint: ")
	col := strings.LastIndex(broken, "}") + 1
	wantErr := "ebtrace serve: reload failed; the running scripts go on:\n" +
		fmt.Sprintf("%s:1:%d: error: expected an attach point, found '}'\n", path, col) +
		"    " + broken +
		"    " + strings.Repeat(" ", col-1) + "^\n" +
		"hint: a probe is one or more attach points, an optional /predicate/, then a { block }\n"
	if _, after, _ := strings.Cut(s.stderr.String(), "Ctrl-C to stop\n"); after != wantErr {
		t.Errorf("after SIGHUP with a syntax error, stderr:\n%s\nwant:\n%s", after, wantErr)
	}
	if got := metric(t, base, "ebtrace_s_calls_total "); fmt.Sprint(got) != "[ebtrace_s_calls_total 5]" {
		t.Errorf("after a failed reload: %v, want [ebtrace_s_calls_total 5]", got)
	}
	if p, l := s.held(t); fmt.Sprint(p, l) != fmt.Sprint(progs, links) {
		t.Errorf("after a failed reload ebtrace serve holds programs %v and links %v, want %v and %v as before", p, l, progs, links)
	}

	writeScript(t, dir, fmt.Sprintf("tracepoint:syscalls:sys_enter_getppid /pid == %d/ { @fixed = count(); }\n", second.Pid()))
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitStderr(t, "ebtrace serve: reloaded 1 script\n")
	waitReleased(t, progs, links)
	second.Release(t)
	if got := metric(t, base, "ebtrace_s_"); fmt.Sprint(got) != "[ebtrace_s_fixed_total 9]" {
		t.Errorf("after reloading: %v, want [ebtrace_s_fixed_total 9]: the new script alone, its maps fresh", got)
	}
	progs, links = s.held(t)
	s.term(t)
	waitReleased(t, progs, links)
	if !strings.HasSuffix(s.stderr.String(), wantErr+"ebtrace serve: reloaded 1 script\n") {
		t.Errorf("stderr:\n%s\nwant it to end with the failed reload, then the reload", s.stderr.String())
	}
}

// webConfig writes an exporter web configuration file and returns its
// path.
func webConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeBasicAuth: with basic_auth_users in --web.config.file a scrape
// needs the user's password.
func TestServeBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := writeScript(t, dir, "tracepoint:syscalls:sys_enter_getppid /pid == 1/ { @calls = count(); }\n")
	conf := webConfig(t, dir, "basic_auth_users:\n  prometheus: '"+string(hash)+"'\n")
	addr := "127.0.0.1:" + servePort(t, "127.0.0.1")
	s := startServe(t, "--listen", addr, "--web.config.file", conf, path)
	url := "http://" + addr + "/metrics"
	for _, c := range []struct{ user, password string }{{"", ""}, {"prometheus", "wrong"}, {"nobody", "correct horse"}} {
		if code, _ := fetch(t, http.DefaultClient, url, c.user, c.password); code != http.StatusUnauthorized {
			t.Errorf("GET /metrics as %q with password %q: status %d, want 401", c.user, c.password, code)
		}
	}
	code, body := fetch(t, http.DefaultClient, url, "prometheus", "correct horse")
	if code != http.StatusOK || !strings.Contains(body, "\nebtrace_script_running{script=\"s\"} 1\n") {
		t.Errorf("GET /metrics with the password: status %d, want 200 and ebtrace_script_running 1:\n%s", code, body)
	}
	s.term(t)
}

// TestServeTLS: with tls_server_config in --web.config.file the server
// speaks HTTPS with the given certificate, and only HTTPS.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, cert, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := webConfig(t, dir, "tls_server_config:\n  cert_file: "+certFile+"\n  key_file: "+keyFile+"\n")
	path := writeScript(t, dir, "tracepoint:syscalls:sys_enter_getppid /pid == 1/ { @calls = count(); }\n")
	addr := "127.0.0.1:" + servePort(t, "127.0.0.1")
	s := startServe(t, "--listen", addr, "--web.config.file", conf, path)

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(cert) {
		t.Fatal("the certificate does not parse")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	code, body := fetch(t, client, "https://"+addr+"/metrics", "", "")
	if code != http.StatusOK || !strings.Contains(body, "\nebtrace_script_running{script=\"s\"} 1\n") {
		t.Errorf("GET https://%s/metrics: status %d, want 200 and ebtrace_script_running 1:\n%s", addr, code, body)
	}
	if code, body := fetch(t, http.DefaultClient, "http://"+addr+"/metrics", "", ""); code != http.StatusBadRequest ||
		!strings.Contains(body, "HTTPS") {
		t.Errorf("GET http://%s/metrics: status %d %q, want 400 asking for HTTPS", addr, code, body)
	}
	s.term(t)
}

// selfSigned makes a certificate for 127.0.0.1, valid for an hour, and
// its key, both PEM-encoded.
func selfSigned(t *testing.T) (cert, key []byte) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ebtrace serve test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
}
