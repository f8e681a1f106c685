package privacy

import (
	"math/big"
)

// Exact samplers after Canonne, Kamath and Steinke, "The Discrete Gaussian
// for Differential Privacy" (NeurIPS 2020), Algorithms 1-3. Every
// probability is an exact rational and every coin is an exact comparison of
// uniform integers, so the realised distribution is exactly the one the
// privacy proof is about: there are no floating-point low-order bits for an
// attacker to read (Mironov, CCS 2012). The implementations are ours;
// math/big keeps them exact for any scale.

var (
	bigOne = big.NewInt(1)
	ratOne = big.NewRat(1, 1)
)

// bernoulliRat returns true with probability num/den, 0 <= num <= den,
// den > 0.
func (s *Source) bernoulliRat(num, den *big.Int) bool {
	return s.uniformBig(den).Cmp(num) < 0
}

// bernoulliExp1 returns true with probability exp(-1).
func (s *Source) bernoulliExp1() bool {
	// Algorithm 1 of CKS with gamma = 1: K = first k with Bernoulli(1/k) = 0;
	// return K odd.
	k := uint64(1)
	for s.uniform(k) == 0 { // Bernoulli(1/k)
		k++
	}
	return k%2 == 1
}

// bernoulliExp returns true with probability exp(-gamma), gamma >= 0.
func (s *Source) bernoulliExp(gamma *big.Rat) bool {
	return s.bernoulliExpFrac(gamma.Num(), gamma.Denom())
}

// bernoulliExpFrac returns true with probability exp(-num/den), num >= 0,
// den > 0. The fraction need not be reduced, which keeps GCDs out of the
// samplers' inner loops.
func (s *Source) bernoulliExpFrac(num, den *big.Int) bool {
	// exp(-gamma) = exp(-1)^floor(gamma) * exp(-frac(gamma)).
	whole, frac := new(big.Int).QuoRem(num, den, new(big.Int))
	if whole.IsInt64() {
		for i := whole.Int64(); i > 0; i-- {
			if !s.bernoulliExp1() {
				return false
			}
		}
	} else {
		for i := new(big.Int); i.Cmp(whole) < 0; i.Add(i, bigOne) {
			if !s.bernoulliExp1() {
				return false
			}
		}
	}
	if frac.Sign() == 0 {
		return true
	}
	// gamma' = frac/den in (0,1): K = first k with Bernoulli(gamma'/k) = 0.
	// Bernoulli(gamma'/k) is Bernoulli(gamma') AND Bernoulli(1/k), which
	// keeps the integers small.
	k := uint64(1)
	for {
		if !s.bernoulliRat(frac, den) || s.uniform(k) != 0 {
			break
		}
		k++
	}
	return k%2 == 1
}

// discreteLaplace returns an integer Z with P(Z = z) proportional to
// exp(-|z|/scale), scale > 0 (CKS Algorithm 2 with scale = t/s).
func (s *Source) discreteLaplace(scale *big.Rat) *big.Int {
	t, sd := scale.Num(), scale.Denom()
	for {
		u := s.uniformBig(t)
		if !s.bernoulliExpFrac(u, t) {
			continue
		}
		v := int64(0)
		for s.bernoulliExp1() {
			v++
		}
		x := new(big.Int).Mul(t, big.NewInt(v))
		x.Add(x, u)
		y := x.Quo(x, sd) // floor: x >= 0
		neg := s.uint64()&1 == 1
		if neg && y.Sign() == 0 {
			continue
		}
		if neg {
			y.Neg(y)
		}
		return y
	}
}

// discreteGaussian returns an integer Y with P(Y = y) proportional to
// exp(-y^2 / (2 sigma2)), sigma2 > 0 (CKS Algorithm 3).
func (s *Source) discreteGaussian(sigma2 *big.Rat) *big.Int {
	// sigma^2 = a/b. t = floor(sigma) + 1, with floor(sqrt(x)) =
	// isqrt(floor(x)).
	a, b := sigma2.Num(), sigma2.Denom()
	t := new(big.Int).Quo(a, b)
	t.Sqrt(t)
	t.Add(t, bigOne)
	tr := new(big.Rat).SetInt(t)
	// Accept Y ~ DLap(t) with probability exp(-gamma),
	// gamma = (|Y| - sigma^2/t)^2 / (2 sigma^2) = (|Y| b t - a)^2 / (2 a b t^2).
	bt := new(big.Int).Mul(b, t)
	den := new(big.Int).Mul(bt, t)
	den.Mul(den, a)
	den.Lsh(den, 1)
	num := new(big.Int)
	for {
		y := s.discreteLaplace(tr)
		num.Abs(y)
		num.Mul(num, bt)
		num.Sub(num, a)
		num.Mul(num, num)
		if s.bernoulliExpFrac(num, den) {
			return y
		}
	}
}

// newRatFloats returns the exact rational num/den of two finite float64s.
func newRatFloats(num, den float64) *big.Rat {
	n := new(big.Rat).SetFloat64(num)
	return n.Quo(n, new(big.Rat).SetFloat64(den))
}

func bigInt(x int64) *big.Int { return big.NewInt(x) }
