//go:build !unix

package quant

import "testing"

// newGuardedBytes returns plain slices where no guard page can be mapped.
func newGuardedBytes(t *testing.T) func(n, which int) []int8 {
	return func(n, _ int) []int8 { return make([]int8, n) }
}
