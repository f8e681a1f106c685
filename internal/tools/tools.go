//go:build tools

// Package tools pins modules that packages of this module are about to use, so
// that `go mod tidy` keeps them while the code that imports them is written.
package tools

import (
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/stretchr/testify/require"
	_ "github.com/x448/float16"
	_ "golang.org/x/exp/constraints"
	_ "golang.org/x/sys/cpu"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/text/unicode/norm"
	_ "gonum.org/v1/plot"
)
