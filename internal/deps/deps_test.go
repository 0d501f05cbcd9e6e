package deps

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is the module's path, which every package's import path begins with.
const module = "github.com/ebtrace/ebtrace"

// TestImportLattice compares every package's imports of ebtrace packages
// (tests excluded) with Allowed.
func TestImportLattice(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	out, err := exec.Command("go", "list", "-json", "github.com/ebtrace/ebtrace/...").Output()
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, module+"/")
		for _, imp := range p.Imports {
			dep, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			if !slices.Contains(Allowed[name], dep) {
				t.Errorf("%s imports %s, which internal/deps does not allow", name, dep)
			}
		}
	}
}
