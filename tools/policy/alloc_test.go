//go:build !race

package policy

import "testing"

// TestDecideDoesNotAllocate runs every case of the table; the race
// detector changes allocation counts, hence the build tag.
func TestDecideDoesNotAllocate(t *testing.T) {
	p := loadSupport(t)["Go"]
	for _, c := range supportCases() {
		in := c.in
		if c.argsJSON != "" {
			in.Args = args(t, c.argsJSON)
		}
		if n := testing.AllocsPerRun(100, func() { p.Decide(&in) }); n != 0 {
			t.Errorf("%s: %v allocations per Decide", c.name, n)
		}
	}
}
