package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestEncodings checks every hand-written instruction encoding against
// testdata/encodings.txt, which LLVM's assembler produced
// (testdata/encodings.sh): a wrong bit would otherwise only show as wrong
// sums under qemu, or as a different instruction on hardware.
func TestEncodings(t *testing.T) {
	helpers := map[string]func(a []int) uint32{
		"smmla":     func(a []int) uint32 { return smmla(a[0], a[1], a[2]) },
		"sdotElem":  func(a []int) uint32 { return sdotElem(a[0], a[1], a[2]) },
		"fmul4s":    func(a []int) uint32 { return fmul4s(a[0], a[1], a[2]) },
		"fadd4s":    func(a []int) uint32 { return fadd4s(a[0], a[1], a[2]) },
		"fmla4s":    func(a []int) uint32 { return fmla4s(a[0], a[1], a[2]) },
		"fmls4s":    func(a []int) uint32 { return fmls4s(a[0], a[1], a[2]) },
		"orr16b":    func(a []int) uint32 { return orr16b(a[0], a[1]) },
		"fabs4s":    func(a []int) uint32 { return fabs4s(a[0], a[1]) },
		"fdiv4s":    func(a []int) uint32 { return fdiv4s(a[0], a[1], a[2]) },
		"fcmlt04s":  func(a []int) uint32 { return fcmlt04s(a[0], a[1]) },
		"fmaxnm4s":  func(a []int) uint32 { return fmaxnm4s(a[0], a[1], a[2]) },
		"fmaxnmv4s": func(a []int) uint32 { return fmaxnmv4s(a[0], a[1]) },
		"fmin4s":    func(a []int) uint32 { return fmin4s(a[0], a[1], a[2]) },
		"fmax4s":    func(a []int) uint32 { return fmax4s(a[0], a[1], a[2]) },
		"sqxtn4h":   func(a []int) uint32 { return sqxtn4h(a[0], a[1]) },
		"sqxtn28h":  func(a []int) uint32 { return sqxtn28h(a[0], a[1]) },
		"sqxtn8b":   func(a []int) uint32 { return sqxtn8b(a[0], a[1]) },
		"sqxtn216b": func(a []int) uint32 { return sqxtn216b(a[0], a[1]) },
		"scvtf4s":   func(a []int) uint32 { return scvtf4s(a[0], a[1]) },
		"fsub4s":    func(a []int) uint32 { return fsub4s(a[0], a[1], a[2]) },
		"frintn4s":  func(a []int) uint32 { return frintn4s(a[0], a[1]) },
		"fcvtzs4s":  func(a []int) uint32 { return fcvtzs4s(a[0], a[1]) },
		"fcmgt4s":   func(a []int) uint32 { return fcmgt4s(a[0], a[1], a[2]) },
		"add4s":     func(a []int) uint32 { return add4s(a[0], a[1], a[2]) },
		"shl4s":     func(a []int) uint32 { return shl4s(a[0], a[1], a[2]) },
		"bit16b":    func(a []int) uint32 { return bit16b(a[0], a[1], a[2]) },
		"bic16b":    func(a []int) uint32 { return bic16b(a[0], a[1], a[2]) },
		"dup4s":     func(a []int) uint32 { return dup4s(a[0], a[1]) },
		"smull8b":   func(a []int) uint32 { return smull8b(a[0], a[1], a[2]) },
		"smull16b":  func(a []int) uint32 { return smull16b(a[0], a[1], a[2]) },
		"sadalp8h":  func(a []int) uint32 { return sadalp8h(a[0], a[1]) },
		"addp4s":    func(a []int) uint32 { return addp4s(a[0], a[1], a[2]) },
	}
	f, err := os.Open("testdata/encodings.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) < 3 {
			t.Fatalf("bad line %q", sc.Text())
		}
		h, ok := helpers[fields[0]]
		if !ok {
			t.Fatalf("no helper %q", fields[0])
		}
		var args []int
		for _, s := range strings.Split(fields[1], ",") {
			v, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("bad line %q: %v", sc.Text(), err)
			}
			args = append(args, v)
		}
		want, err := strconv.ParseUint(fields[2], 0, 32)
		if err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		if got := h(args); got != uint32(want) {
			t.Errorf("%s(%s) = %#08x, llvm-mc gives %#08x (%s)", fields[0], fields[1], got, want, strings.Join(fields[3:], " "))
		}
		seen[fields[0]] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for name := range helpers {
		if !seen[name] {
			t.Errorf("%s has no reference encoding in testdata/encodings.txt", name)
		}
	}
}
