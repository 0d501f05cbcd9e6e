package symbols

import (
	"strings"

	"github.com/ianlancetaylor/demangle"
)

// C++ functions are named in symbol tables by their Itanium ABI mangled
// names (_ZN2ns3addEii), which encode the parameter types so overloads get
// distinct symbols. People know them by their demangled names, which is
// how bpftrace shows them: ns::add(int, int). Go and C names never start
// with _Z and pass through unchanged.

// Demangle returns a C++ function's demangled name with its parameters
// and qualifiers, "Shape::area() const" for _ZNK5Shape4areaEv, as stacks
// and the func builtin show it. Other names, and _Z names that do not
// demangle, are returned unchanged.
func Demangle(name string) string {
	if !mangled(name) {
		return name
	}
	return demangle.Filter(name)
}

// DemangleNoParams returns a C++ function's demangled name without its
// parameters, qualifiers and return type, "Shape::area" for
// _ZNK5Shape4areaEv: the name every overload of a function shares. Other
// names are returned unchanged.
func DemangleNoParams(name string) string {
	if !mangled(name) {
		return name
	}
	return demangle.Filter(name, demangle.NoParams)
}

// mangled reports whether name is an Itanium ABI mangled name.
func mangled(name string) bool { return strings.HasPrefix(name, "_Z") }
