package quant

import "unsafe"

// genericTier is the pure-Go micro-kernel, always available and the
// reference for the SIMD tiers (which must match it bit for bit).
var genericTier = tier{name: KernelGeneric, mr: 4, np: 1, kern: kernGeneric}

// kernGeneric computes, for r < rows and c < 16*panels,
//
//	acc[r][c] = sum over k of int32(a[r][k]) * int32(W[c][k])
//
// reading W from its packed panels, then runs epilogueRow on each row (or
// stores acc to p.raw with flagRaw).
func kernGeneric(p *kargs, rows, panels int) {
	ks := int(p.ksteps)
	var acc [4 * NR]int32
	for pn := 0; pn < panels; pn++ {
		w := unsafe.Slice((*int8)(unsafe.Add(unsafe.Pointer(p.w), pn*int(p.ldw))), ks*NR*KR)
		for r := 0; r < rows; r++ {
			a := unsafe.Slice((*int8)(unsafe.Add(unsafe.Pointer(p.a), r*int(p.lda))), ks*KR)
			dotPanel((*[NR]int32)(acc[r*NR:]), a, w)
		}
		for r := 0; r < rows; r++ {
			row := acc[r*NR : (r+1)*NR]
			if p.flags&flagRaw != 0 {
				raw := unsafe.Slice((*int32)(unsafe.Add(unsafe.Pointer(p.raw), (r*panels+pn)*NR*4)), NR)
				copy(raw, row)
				continue
			}
			dst := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(p.dst), r*int(p.ldd)+pn*NR*4)), NR)
			as := *(*float32)(unsafe.Add(unsafe.Pointer(p.as), r*4))
			ws := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(p.ws), pn*NR*4)), NR)
			var bias []float32
			if p.flags&flagBias != 0 {
				bias = unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(p.bias), pn*NR*4)), NR)
			}
			epilogueRow(dst, row, as, ws, bias, p.flags)
		}
	}
}

// dotPanel sets acc[c] = sum_k a[k]*W[c][k] for the 16 columns of one panel.
func dotPanel(acc *[NR]int32, a, w []int8) {
	*acc = [NR]int32{}
	for ks := 0; ks+KR <= len(a); ks += KR {
		a0, a1, a2, a3 := int32(a[ks]), int32(a[ks+1]), int32(a[ks+2]), int32(a[ks+3])
		wp := (*[NR * KR]int8)(w[ks*NR:])
		for c := range NR {
			acc[c] += a0*int32(wp[c*4]) + a1*int32(wp[c*4+1]) + a2*int32(wp[c*4+2]) + a3*int32(wp[c*4+3])
		}
	}
}

// epilogueRow is the dequantisation every tier performs, in this order:
//
//	v := float32(float32(acc[j]) * (as * ws[j]))   // scale product rounded first, no FMA
//	if bias != nil { v += bias[j] }
//	if flags&flagResidual != 0 { v = dst[j] + v }
//	dst[j] = v
func epilogueRow(dst []float32, acc []int32, as float32, ws, bias []float32, flags uintptr) {
	n := len(dst)
	acc, ws = acc[:n], ws[:n]
	if bias != nil {
		bias = bias[:n]
	}
	for j := range dst {
		v := float32(float32(acc[j]) * (as * ws[j]))
		if bias != nil {
			v += bias[j]
		}
		if flags&flagResidual != 0 {
			v = dst[j] + v
		}
		dst[j] = v
	}
}
