package llm

import (
	"hash/fnv"
	"testing"
)

// TestRouteHashStable pins the assignment hash: it must equal FNV-1a 64 of
// salt, 0, tenant[, 0, user] (as hash/fnv computes it) passed through the
// murmur3 finaliser, and must never change, since a change moves users
// between the arms of every running experiment. The pinned values were
// computed independently of this package.
func TestRouteHashStable(t *testing.T) {
	tests := []struct {
		salt string
		p    Principal
		want uint64
	}{
		{"chat", Principal{Tenant: "acme", User: "u-42"}, 0x7fb4593adc3af29b},
		{"chat", Principal{Tenant: "acme"}, 0xdd83efe3c1268cf7},
		{"chat", Principal{User: "u-42"}, 0xbd444f31c7d19375},
		{"", Principal{Tenant: "t", User: "u"}, 0x0dbe53dbecc7cfb9},
	}
	for _, tt := range tests {
		f := fnv.New64a()
		f.Write([]byte(tt.salt))
		f.Write([]byte{0})
		f.Write([]byte(tt.p.Tenant))
		if tt.p.User != "" {
			f.Write([]byte{0})
			f.Write([]byte(tt.p.User))
		}
		ref := routeMix(f.Sum64())
		got := routeHash(tt.salt, &tt.p)
		if got != ref {
			t.Errorf("routeHash(%q, %+v) = %#x, hash/fnv gives %#x", tt.salt, tt.p, got, ref)
		}
		if got != tt.want {
			t.Errorf("routeHash(%q, %+v) = %#x, pinned %#x", tt.salt, tt.p, got, tt.want)
		}
	}
}
