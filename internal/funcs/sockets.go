package funcs

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtrace/ebtrace/internal/syntax"
	"github.com/ebtrace/ebtrace/internal/types"
)

// socketCookie is the kernel's cookie of a socket (bpf_get_socket_cookie),
// which it makes the first time it is asked and keeps for the socket's
// life. The helper takes a typed socket pointer: a struct sock * argument
// of a BTF-typed probe (fentry, fexit, or a raw tracepoint with BTF).
var socketCookie = Func{
	Name: "socket_cookie", Min: 1, Max: 1, Doc: "the kernel's cookie of a socket, from a struct sock * argument of fentry, fexit or a BTF raw tracepoint",
	Check: func(c Checker, e *syntax.CallExpr) types.Type {
		t, reported := c.ExprReported(e.Args[0])
		if !reported && (t.Kind != types.Ptr || t.Elem != "struct sock") {
			c.Errorf(e.Args[0].Span(), "type", "socket_cookie() needs a struct sock pointer, not %s", t).
				Hint("for example args.sk of rawtracepoint:inet_sock_set_state or fentry:tcp_rcv_established")
			return types.UInt64
		}
		if c.Instance().Program().Type != ebpf.Tracing {
			c.Errorf(e.Sp, "probe", "socket_cookie() works only in BTF-typed probes (fentry, fexit, raw tracepoints with BTF), not in %s", c.Instance().Name()).
				Hint("the kernel allows bpf_get_socket_cookie only there, on a typed pointer such as args.sk of rawtracepoint:inet_sock_set_state")
		}
		return types.UInt64
	},
	Int: func(g Generator, e *syntax.CallExpr) {
		typedPointerArg(g, e.Args[0])
		g.Emit(asm.FnGetSocketCookie.Call())
	},
}
