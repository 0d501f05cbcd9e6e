// Package deploy_test checks the files that run ebtrace serve on fleets of
// machines: the Kubernetes manifests, the Prometheus scrape configuration,
// the web config, the systemd unit, the Dockerfile and the example
// scripts. It asserts the structure that tracing depends on, runs the
// tools that read the files where this machine has them (promtool,
// systemd-analyze), and compiles the scripts with the real compiler.
package deploy_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/ebtrace/ebtrace"
	"github.com/ebtrace/ebtrace/internal/testutil"
)

// tracingCaps are the capabilities ebtrace serve gets instead of a
// privileged container or root, by their Kubernetes names (systemd's add
// CAP_); both deployments must grant exactly these.
var tracingCaps = []string{"BPF", "PERFMON", "SYS_RESOURCE", "DAC_READ_SEARCH", "SYS_PTRACE", "SYSLOG"}

// metadata, and the structs below, are the parts of Kubernetes objects
// the tests look at; decoding ignores the rest.
type metadata struct {
	Name        string
	Namespace   string
	Labels      map[string]string
	Annotations map[string]string
}

type object struct {
	Kind     string
	Metadata metadata
	// file is where the object was read, for messages.
	file string
	// raw is the whole document, decoded again by kind.
	raw []byte
}

type configMap struct {
	Metadata metadata
	Data     map[string]string
}

type daemonSet struct {
	Metadata metadata
	Spec     struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		}
		Template struct {
			Metadata metadata
			Spec     podSpec
		}
	}
}

type podSpec struct {
	HostPID     bool `yaml:"hostPID"`
	HostNetwork bool `yaml:"hostNetwork"`
	Containers  []container
	Volumes     []volume
}

type container struct {
	Name    string
	Image   string
	Command []string
	Args    []string
	Ports   []struct {
		Name          string
		ContainerPort int `yaml:"containerPort"`
	}
	LivenessProbe  *httpProbe `yaml:"livenessProbe"`
	ReadinessProbe *httpProbe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string
		Limits   map[string]string
	}
	SecurityContext struct {
		Privileged               *bool
		AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
		RunAsUser                *int64 `yaml:"runAsUser"`
		ReadOnlyRootFilesystem   bool   `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Add  []string
			Drop []string
		}
	} `yaml:"securityContext"`
	VolumeMounts []volumeMount `yaml:"volumeMounts"`
}

type volumeMount struct {
	Name      string
	MountPath string `yaml:"mountPath"`
	ReadOnly  bool   `yaml:"readOnly"`
}

type httpProbe struct {
	HTTPGet *struct {
		Path string
		Port any
	} `yaml:"httpGet"`
}

type volume struct {
	Name     string
	HostPath *struct {
		Path string
		Type string
	} `yaml:"hostPath"`
	ConfigMap *struct {
		Name string
	} `yaml:"configMap"`
	EmptyDir *struct{} `yaml:"emptyDir"`
}

type service struct {
	Metadata metadata
	Spec     struct {
		ClusterIP string `yaml:"clusterIP"`
		Selector  map[string]string
		Ports     []struct {
			Name       string
			Port       int
			TargetPort any `yaml:"targetPort"`
		}
	}
}

// decodeAll decodes every document of a YAML file into a generic value.
func decodeAll(t *testing.T, file string) []any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []any
	for {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// decodeFile decodes a one-document YAML file into v.
func decodeFile(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// TestYAMLParses decodes every YAML file under deploy/.
func TestYAMLParses(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(p); ext == ".yml" || ext == ".yaml" {
			if len(decodeAll(t, p)) == 0 {
				t.Errorf("%s holds no document", p)
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no YAML files found")
	}
}

// manifests reads the objects of deploy/kubernetes, in file order (the
// order kubectl apply -f applies them).
func manifests(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in kubernetes/: %v", err)
	}
	var objs []object
	for _, f := range files {
		for _, doc := range decodeAll(t, f) {
			raw, err := yaml.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			o := object{file: f, raw: raw}
			if err := yaml.Unmarshal(raw, &o); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			objs = append(objs, o)
		}
	}
	return objs
}

// theObject decodes the one object of kind into v.
func theObject(t *testing.T, objs []object, kind string, v any) object {
	t.Helper()
	var found []object
	for _, o := range objs {
		if o.Kind == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s in kubernetes/, found %d", kind, len(found))
	}
	if err := yaml.Unmarshal(found[0].raw, v); err != nil {
		t.Fatalf("%s: %v", found[0].file, err)
	}
	return found[0]
}

// TestManifestsKindsAndNamespace checks that deploy/kubernetes holds the
// namespace, then the objects in it, so that `kubectl apply -f` on the
// directory creates the namespace first.
func TestManifestsKindsAndNamespace(t *testing.T) {
	objs := manifests(t)
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.Kind)
	}
	if want := []string{"Namespace", "ConfigMap", "DaemonSet", "Service"}; !slices.Equal(kinds, want) {
		t.Fatalf("kinds in apply order = %v, want %v", kinds, want)
	}
	ns := objs[0].Metadata.Name
	if got := objs[0].Metadata.Labels["pod-security.kubernetes.io/enforce"]; got != "privileged" {
		t.Errorf("namespace %s enforces Pod Security level %q; host PID and hostPath need privileged", ns, got)
	}
	for _, o := range objs[1:] {
		if o.Metadata.Namespace != ns {
			t.Errorf("%s %s is in namespace %q, want %q", o.Kind, o.Metadata.Name, o.Metadata.Namespace, ns)
		}
	}
}

// ebtraceContainer returns the DaemonSet and its one container.
func ebtraceContainer(t *testing.T) (daemonSet, container) {
	t.Helper()
	var ds daemonSet
	theObject(t, manifests(t), "DaemonSet", &ds)
	cs := ds.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("DaemonSet has %d containers, want 1", len(cs))
	}
	return ds, cs[0]
}

// listenArg returns the address after --listen in args.
func listenArg(t *testing.T, args []string) string {
	t.Helper()
	i := slices.Index(args, "--listen")
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("args %q have no --listen ADDR", args)
	}
	return args[i+1]
}

func TestDaemonSetSecurity(t *testing.T) {
	ds, c := ebtraceContainer(t)
	pod := ds.Spec.Template.Spec
	if !pod.HostPID {
		t.Error("hostPID is not true: pid, comm and ustack need the host's processes")
	}
	if pod.HostNetwork {
		t.Error("hostNetwork is true: the pod serves on its own address")
	}
	sc := c.SecurityContext
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("the container is privileged; it should get capabilities instead")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Error("runAsUser is not 0: Kubernetes gives added capabilities to the root user only")
	}
	if !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("capabilities.drop = %q, want [ALL]", sc.Capabilities.Drop)
	}
	if add := slices.Sorted(slices.Values(sc.Capabilities.Add)); !slices.Equal(add, slices.Sorted(slices.Values(tracingCaps))) {
		t.Errorf("capabilities.add = %q, want %q", add, tracingCaps)
	}
	if !sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
}

func TestDaemonSetMounts(t *testing.T) {
	ds, c := ebtraceContainer(t)
	volumes := map[string]volume{}
	for _, v := range ds.Spec.Template.Spec.Volumes {
		volumes[v.Name] = v
	}
	hostMounts := map[string]bool{}
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			t.Errorf("mount %s names no volume", m.MountPath)
			continue
		}
		if v.HostPath == nil {
			continue
		}
		if !m.ReadOnly {
			t.Errorf("host path %s is mounted read-write", v.HostPath.Path)
		}
		if v.HostPath.Path != m.MountPath {
			t.Errorf("host path %s is mounted at %s: ebtrace looks for it where the host has it", v.HostPath.Path, m.MountPath)
		}
		hostMounts[v.HostPath.Path] = true
	}
	for _, p := range []string{"/sys/kernel/tracing", "/sys/kernel/btf", "/sys/kernel/debug"} {
		if !hostMounts[p] {
			t.Errorf("the host's %s is not mounted", p)
		}
	}
	// The root file system is read-only; ebtrace writes its BTF cache here.
	i := slices.IndexFunc(c.VolumeMounts, func(m volumeMount) bool { return m.MountPath == "/run/ebtrace" })
	if i < 0 || c.VolumeMounts[i].ReadOnly || volumes[c.VolumeMounts[i].Name].EmptyDir == nil {
		t.Error("/run/ebtrace is not a writable emptyDir")
	}
}

func TestDaemonSetServes(t *testing.T) {
	ds, c := ebtraceContainer(t)
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("args %q do not start with serve", c.Args)
	}
	addr := listenArg(t, c.Args)
	if addr != "0.0.0.0:9435" {
		t.Errorf("--listen %s, want 0.0.0.0:9435", addr)
	}
	port := addr[strings.LastIndex(addr, ":")+1:]
	if len(c.Ports) != 1 || c.Ports[0].Name != "metrics" || fmt.Sprint(c.Ports[0].ContainerPort) != port {
		t.Errorf("ports = %+v, want one named metrics on %s", c.Ports, port)
	}
	for name, p := range map[string]*httpProbe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("no %s probe over HTTP", name)
			continue
		}
		if p.HTTPGet.Path != "/healthz" {
			t.Errorf("%s probe asks %s, want /healthz", name, p.HTTPGet.Path)
		}
		if got := fmt.Sprint(p.HTTPGet.Port); got != "metrics" && got != port {
			t.Errorf("%s probe asks port %s, want metrics or %s", name, got, port)
		}
	}
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" || c.Resources.Limits[r] == "" {
			t.Errorf("%s has no request or no limit", r)
		}
	}
	ann := ds.Spec.Template.Metadata.Annotations
	want := map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": port, "prometheus.io/path": "/metrics"}
	for k, v := range want {
		if ann[k] != v {
			t.Errorf("pod annotation %s = %q, want %q", k, ann[k], v)
		}
	}
	labels := ds.Spec.Template.Metadata.Labels
	for k, v := range ds.Spec.Selector.MatchLabels {
		if labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template's labels %v", k, v, labels)
		}
	}
}

// TestDaemonSetRunsTheConfigMap checks that the script arguments are
// exactly the ConfigMap's keys, in the directory it is mounted at.
func TestDaemonSetRunsTheConfigMap(t *testing.T) {
	objs := manifests(t)
	var cm configMap
	theObject(t, objs, "ConfigMap", &cm)
	ds, c := ebtraceContainer(t)
	dir := ""
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.ConfigMap == nil || v.ConfigMap.Name != cm.Metadata.Name {
			continue
		}
		for _, m := range c.VolumeMounts {
			if m.Name == v.Name {
				dir = m.MountPath
			}
		}
	}
	if dir == "" {
		t.Fatalf("ConfigMap %s is not mounted in the container", cm.Metadata.Name)
	}
	var scripts []string
	for _, a := range c.Args {
		if strings.HasSuffix(a, ".bt") {
			scripts = append(scripts, a)
		}
	}
	var want []string
	for k := range cm.Data {
		want = append(want, path.Join(dir, k))
	}
	if slices.Sort(scripts); !slices.Equal(scripts, slices.Sorted(slices.Values(want))) {
		t.Errorf("script args = %q, want the ConfigMap's keys under %s: %q", scripts, dir, want)
	}
}

// TestConfigMapHoldsTheScripts checks that the ConfigMap's scripts are the
// files of deploy/scripts, byte for byte: the files are what the systemd
// setup installs and what TestScriptsCompile compiles.
func TestConfigMapHoldsTheScripts(t *testing.T) {
	var cm configMap
	theObject(t, manifests(t), "ConfigMap", &cm)
	files, err := filepath.Glob("scripts/*.bt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(cm.Data) {
		t.Errorf("scripts/ has %d scripts, the ConfigMap %d", len(files), len(cm.Data))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := cm.Data[filepath.Base(f)]; !ok {
			t.Errorf("the ConfigMap has no %s", filepath.Base(f))
		} else if got != string(b) {
			t.Errorf("the ConfigMap's %s differs from %s", filepath.Base(f), f)
		}
	}
}

func TestService(t *testing.T) {
	objs := manifests(t)
	var svc service
	theObject(t, objs, "Service", &svc)
	ds, c := ebtraceContainer(t)
	for k, v := range svc.Spec.Selector {
		if ds.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("service selector %s=%s does not select the DaemonSet's pods", k, v)
		}
	}
	if len(svc.Spec.Selector) == 0 {
		t.Error("the service selects nothing")
	}
	if svc.Spec.ClusterIP != "None" {
		t.Errorf("clusterIP = %q, want None (headless: each pod is its own target)", svc.Spec.ClusterIP)
	}
	port := listenArg(t, c.Args)
	port = port[strings.LastIndex(port, ":")+1:]
	if len(svc.Spec.Ports) != 1 || fmt.Sprint(svc.Spec.Ports[0].Port) != port || fmt.Sprint(svc.Spec.Ports[0].TargetPort) != "metrics" {
		t.Errorf("service ports = %+v, want %s to the port named metrics", svc.Spec.Ports, port)
	}
}

// TestDockerfile checks that the image's binary is where the DaemonSet
// runs it and that the build context lets it in.
func TestDockerfile(t *testing.T) {
	_, c := ebtraceContainer(t)
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var copyArgs, entrypoint string
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "COPY "); ok {
			copyArgs = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "ENTRYPOINT "); ok {
			entrypoint = strings.TrimSpace(v)
		}
	}
	src, dst, ok := strings.Cut(copyArgs, " ")
	if !ok {
		t.Fatalf("COPY %q is not SRC DEST", copyArgs)
	}
	if want := fmt.Sprintf("[%q]", dst); entrypoint != want {
		t.Errorf("ENTRYPOINT %s, want %s", entrypoint, want)
	}
	if len(c.Command) != 1 || c.Command[0] != dst {
		t.Errorf("the DaemonSet runs %q, the image has the binary at %s", c.Command, dst)
	}
	ignore, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Fields(string(ignore)); !slices.Equal(lines, []string{"*", "!" + src}) {
		t.Errorf("Dockerfile.dockerignore is %q, want everything but %s ignored", lines, src)
	}
}

// promtool returns promtool's path, or skips.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian's prometheus package has it; setup.sh installs it)")
	}
	return p
}

// scrapeConfig is the part of prometheus.yml the tests change and check.
type scrapeConfig struct {
	ScrapeConfigs []map[string]any `yaml:"scrape_configs"`
}

// TestPrometheusConfig checks prometheus.yml with promtool and runs its
// relabelling on sample targets: the Kubernetes job keeps only ebtrace
// pods' metrics port and labels them with their node; the hosts job
// labels each host with its name.
func TestPrometheusConfig(t *testing.T) {
	var cfg scrapeConfig
	decodeFile(t, "prometheus.yml", &cfg)
	jobs := map[string]map[string]any{}
	for _, sc := range cfg.ScrapeConfigs {
		jobs[fmt.Sprint(sc["job_name"])] = sc
	}
	k8s, ok := jobs["ebtrace"]
	if !ok {
		t.Fatal("prometheus.yml has no job ebtrace")
	}
	sd, _ := k8s["kubernetes_sd_configs"].([]any)
	if len(sd) != 1 || fmt.Sprint(sd[0].(map[any]any)["role"]) != "pod" {
		t.Fatalf("job ebtrace discovers %v, want one kubernetes_sd_configs of role pod", k8s["kubernetes_sd_configs"])
	}
	if _, ok := jobs["ebtrace-hosts"]; !ok {
		t.Fatal("prometheus.yml has no job ebtrace-hosts")
	}

	tool := promtool(t)
	dir := t.TempDir()
	for _, f := range []string{"prometheus.yml", "ebtrace-hosts.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(tool, "check", "config", filepath.Join(dir, "prometheus.yml")).CombinedOutput()
	switch {
	case err == nil:
	case bytes.Contains(out, []byte("field kubernetes_sd_configs not found")):
		// Debian builds Prometheus without Kubernetes discovery; the
		// rest is checked below with static targets in its place.
		t.Logf("this promtool has no Kubernetes discovery: %s", bytes.TrimSpace(out))
	default:
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}

	// Pods as role pod discovers them: one target per declared port.
	pod := func(app, port, node, name string) map[string]any {
		return map[string]any{
			"targets": []string{"10.0.0.1:" + port},
			"labels": map[string]string{
				"__meta_kubernetes_pod_label_app_kubernetes_io_name": app,
				"__meta_kubernetes_pod_container_port_name":          "metrics",
				"__meta_kubernetes_pod_node_name":                    node,
				"__meta_kubernetes_pod_name":                         name,
			},
		}
	}
	other := pod("ebtrace", "8080", "node-a", "ebtrace-x1")
	other["labels"].(map[string]string)["__meta_kubernetes_pod_container_port_name"] = "debug"
	delete(k8s, "kubernetes_sd_configs")
	k8s["static_configs"] = []any{
		pod("ebtrace", "9435", "node-a", "ebtrace-x1"),
		other,
		pod("nginx", "9435", "node-a", "nginx-y2"),
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	static := filepath.Join(dir, "static.yml")
	if err := os.WriteFile(static, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tool, "check", "config", static).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}

	got := discover(t, tool, static, "ebtrace")
	want := []map[string]string{{"instance": "10.0.0.1:9435", "job": "ebtrace", "node": "node-a", "pod": "ebtrace-x1"}}
	if !equalTargets(got, want) {
		t.Errorf("job ebtrace keeps %v, want %v", got, want)
	}

	var hosts []struct{ Targets []string }
	decodeFile(t, "ebtrace-hosts.yml", &hosts)
	want = nil
	for _, g := range hosts {
		for _, target := range g.Targets {
			want = append(want, map[string]string{"instance": target, "job": "ebtrace-hosts", "node": strings.Split(target, ":")[0]})
		}
	}
	if len(want) == 0 {
		t.Fatal("ebtrace-hosts.yml lists no targets")
	}
	if got := discover(t, tool, static, "ebtrace-hosts"); !equalTargets(got, want) {
		t.Errorf("job ebtrace-hosts gives %v, want %v", got, want)
	}
}

// discover runs promtool's service discovery and relabelling for job and
// returns the kept targets' labels, less the __ ones.
func discover(t *testing.T, tool, config, job string) []map[string]string {
	t.Helper()
	cmd := exec.Command(tool, "check", "service-discovery", "--timeout=1s", filepath.Base(config), job)
	cmd.Dir = filepath.Dir(config)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("promtool check service-discovery %s: %v\n%s", job, err, stderr.Bytes())
	}
	var results []struct {
		Labels map[string]string
	}
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("promtool check service-discovery %s: %v\n%s", job, err, out)
	}
	var kept []map[string]string
	for _, r := range results {
		if len(r.Labels) == 0 {
			continue // dropped by relabelling
		}
		l := map[string]string{}
		for k, v := range r.Labels {
			// role is the hosts file's own example label.
			if !strings.HasPrefix(k, "__") && k != "role" {
				l[k] = v
			}
		}
		kept = append(kept, l)
	}
	return kept
}

func equalTargets(a, b []map[string]string) bool {
	key := func(m map[string]string) string { return fmt.Sprint(m) }
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		ka[i] = key(a[i])
	}
	for i := range b {
		kb[i] = key(b[i])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}

// TestWebConfig checks the example web config with promtool, which loads
// its certificate and key: a fresh self-signed pair is put where the
// config's relative paths point.
func TestWebConfig(t *testing.T) {
	var cfg struct {
		TLS struct {
			CertFile string `yaml:"cert_file"`
			KeyFile  string `yaml:"key_file"`
		} `yaml:"tls_server_config"`
		Users map[string]string `yaml:"basic_auth_users"`
	}
	decodeFile(t, "web-config.yml", &cfg)
	if cfg.TLS.CertFile == "" || cfg.TLS.KeyFile == "" || filepath.IsAbs(cfg.TLS.CertFile) || filepath.IsAbs(cfg.TLS.KeyFile) {
		t.Fatalf("want relative cert_file and key_file, got %+v", cfg.TLS)
	}
	if len(cfg.Users) == 0 {
		t.Fatal("no basic_auth_users")
	}
	for u, h := range cfg.Users {
		if !strings.HasPrefix(h, "$2") {
			t.Errorf("the password of %s is not a bcrypt hash: %q", u, h)
		}
	}
	tool := promtool(t)
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	b, err := os.ReadFile("web-config.yml")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"web-config.yml": b, cfg.TLS.CertFile: certPEM, cfg.TLS.KeyFile: keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(tool, "check", "web-config", filepath.Join(dir, "web-config.yml")).CombinedOutput(); err != nil {
		t.Fatalf("promtool check web-config: %v\n%s", err, out)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ebtrace"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// unit parses a systemd unit file into section -> key -> values (a key
// may repeat). Continuation lines are not used in the unit, so not read.
func unit(t *testing.T, file string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sections := map[string]map[string][]string{}
	var cur map[string][]string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			cur = map[string][]string{}
			sections[line[1:len(line)-1]] = cur
		case cur == nil:
			t.Fatalf("%s:%d: %q is outside a section", file, n, line)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s:%d: %q is not KEY=VALUE", file, n, line)
			}
			cur[k] = append(cur[k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sections
}

func TestSystemdUnit(t *testing.T) {
	const file = "ebtrace-serve.service"
	svc := unit(t, file)["Service"]
	if svc == nil {
		t.Fatal("no [Service] section")
	}
	one := func(key string) string {
		if len(svc[key]) != 1 {
			t.Errorf("%s is set %d times, want once", key, len(svc[key]))
			return ""
		}
		return svc[key][0]
	}
	// systemd expands no globs, so a shell does; exec keeps ebtrace the
	// main process, the one ExecReload signals.
	if got := one("ExecStart"); !strings.HasPrefix(got, "/bin/sh -c 'exec /usr/local/bin/ebtrace serve ") || !strings.HasSuffix(got, " /etc/ebtrace/*.bt'") {
		t.Errorf("ExecStart=%s, want /bin/sh -c 'exec /usr/local/bin/ebtrace serve ... /etc/ebtrace/*.bt'", got)
	}
	if got := strings.Join(svc["Environment"], " "); !strings.Contains(got, "--listen 0.0.0.0:9435") {
		t.Errorf("Environment=%s sets no --listen 0.0.0.0:9435", got)
	}
	for key, want := range map[string]string{
		"ExecReload":       "/bin/kill -HUP $MAINPID",
		"Restart":          "on-failure",
		"NoNewPrivileges":  "yes",
		"ProtectSystem":    "strict",
		"RuntimeDirectory": "ebtrace",
	} {
		if got := one(key); got != want {
			t.Errorf("%s=%s, want %s", key, got, want)
		}
	}
	var want []string
	for _, c := range tracingCaps {
		want = append(want, "CAP_"+c)
	}
	slices.Sort(want)
	for _, key := range []string{"AmbientCapabilities", "CapabilityBoundingSet"} {
		if got := slices.Sorted(slices.Values(strings.Fields(one(key)))); !slices.Equal(got, want) {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	// Settings that would stop tracing (see the unit's comment).
	for _, key := range []string{"ProtectKernelTunables", "ProcSubset", "PrivateUsers", "SystemCallFilter"} {
		if v, ok := svc[key]; ok {
			t.Errorf("%s=%s is set; it breaks tracing", key, strings.Join(v, " "))
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	// verify exits 0 on warnings about the unit (an unknown key, a bad
	// value) and prints them naming the file: both fail the test.
	out, err := exec.Command(analyze, "verify", abs).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte(file)) {
		t.Errorf("systemd-analyze verify %s: %v\n%s", file, err, out)
	}
}

// TestScriptsCompile compiles the example scripts and passes them through
// the kernel's verifier, so that a change of the language or the compiler
// that breaks them fails here.
func TestScriptsCompile(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTracefs(t)
	files, err := filepath.Glob("scripts/*.bt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := ebtrace.CompileFile(f, ebtrace.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if w := s.Warnings(); len(w) > 0 {
				t.Errorf("warnings: %v", w)
			}
			v, err := s.Verify()
			if err != nil {
				t.Fatal(err)
			}
			if v.Verified == 0 || len(v.Unattachable) > 0 || len(v.Unloadable) > 0 {
				t.Errorf("verified %d programs; unattachable %v; unloadable %v", v.Verified, v.Unattachable, v.Unloadable)
			}
		})
	}
}
