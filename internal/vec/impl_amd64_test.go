//go:build amd64 && !purego && !goexperiment.simd

package vec

import "golang.org/x/sys/cpu"

func wantImplementation() string {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		return "avx2+fma"
	}
	return "portable"
}
