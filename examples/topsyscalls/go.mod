module example.com/topsyscalls

go 1.26.8

require github.com/ebtrace/ebtrace v0.0.0-00010101000000-000000000000

require (
	github.com/cilium/ebpf v0.22.0 // indirect
	github.com/google/pprof v0.0.0-20261105003125-4bf881d7fb0b // indirect
	github.com/ianlancetaylor/demangle v0.0.0-20260724033716-83e58baca724 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/ebtrace/ebtrace => ../..
