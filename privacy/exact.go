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
	// exp(-gamma) = exp(-1)^floor(gamma) * exp(-frac(gamma)).
	num, den := gamma.Num(), gamma.Denom()
	whole, frac := new(big.Int).QuoRem(num, den, new(big.Int))
	for i := new(big.Int); i.Cmp(whole) < 0; i.Add(i, bigOne) {
		if !s.bernoulliExp1() {
			return false
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
		if !s.bernoulliExp(new(big.Rat).SetFrac(u, t)) {
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
	// t = floor(sigma) + 1, with floor(sqrt(x)) = isqrt(floor(x)).
	fl := new(big.Int).Quo(sigma2.Num(), sigma2.Denom())
	t := new(big.Int).Sqrt(fl)
	t.Add(t, bigOne)
	tr := new(big.Rat).SetInt(t)
	s2t := new(big.Rat).Quo(sigma2, tr)       // sigma^2 / t
	twoS2 := new(big.Rat).Add(sigma2, sigma2) // 2 sigma^2
	for {
		y := s.discreteLaplace(tr)
		g := new(big.Rat).SetInt(new(big.Int).Abs(y))
		g.Sub(g, s2t)
		g.Mul(g, g)
		g.Quo(g, twoS2)
		if s.bernoulliExp(g) {
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
