package kernel

import "testing"

func TestReleaseAtLeast(t *testing.T) {
	for _, c := range []struct {
		release string
		want    bool
	}{
		{"6.1.0-18-amd64", true},
		{"6.18.44-cloud-amd64", true},
		{"7.0", true},
		{"6.0.19", false},
		{"5.15.0-91-generic", false},
		{"6.1-rc3", true},
		{"6.0-rc3", false},
		{"10.0.0", true},
		{"6", false},
		{"", false},
		{"x.y.z", false},
		{"6.x", false},
	} {
		if got := releaseAtLeast(c.release, 6, 1); got != c.want {
			t.Errorf("releaseAtLeast(%q, 6, 1) = %v, want %v", c.release, got, c.want)
		}
	}
}
