//go:build !amd64 || purego

package vec

func wantImplementation() string { return "portable" }
