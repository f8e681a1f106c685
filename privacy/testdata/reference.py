#!/usr/bin/env python3
"""Independent float64 reference values for privacy's tests (no numpy/scipy).

Run: python3 privacy/testdata/reference.py
Every constant the tests hard-code is printed here, derived from first
principles with Python's math module (erfc, exp, log), not from Lepton.
"""
import math


def Phi(x):
    return 0.5 * math.erfc(-x / math.sqrt(2))


def gauss_delta(eps, sigma, sens=1.0):
    # Balle & Wang 2018, Theorem 8
    a = sens / (2 * sigma)
    b = eps * sigma / sens
    return Phi(a - b) - math.exp(eps) * Phi(-a - b)


def tight_sigma(eps, delta, sens=1.0):
    lo, hi = 1e-6, 1e6
    for _ in range(300):
        mid = math.sqrt(lo * hi)
        if gauss_delta(eps, mid, sens) > delta:
            lo = mid
        else:
            hi = mid
    return hi


def two_sided_z(alpha):
    lo, hi = 0.0, 40.0
    for _ in range(200):
        m = (lo + hi) / 2
        if math.erfc(m / math.sqrt(2)) > alpha:
            lo = m
        else:
            hi = m
    return hi


def chi2_sf(x, k):
    # upper tail of chi-square(k) = Q(k/2, x/2) via the continued fraction
    a, z = k / 2.0, x / 2.0
    # Lentz continued fraction for the regularised upper incomplete gamma
    b = z + 1 - a
    c = 1e300
    d = 1 / b
    h = d
    for i in range(1, 10000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1 / d if d != 0 else 1e300
        c = b + an / c
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return math.exp(-z + a * math.log(z) - math.lgamma(a)) * h


def rdp_eps(rho, delta):
    best = float("inf")
    for i in range(1, 20000):
        al = 1 + i / 100.0
        r = rho * al
        best = min(best, r + math.log(1 / delta) / (al - 1),
                   r + math.log((al - 1) / al) - (math.log(delta) + math.log(al)) / (al - 1))
    return best


print("delta(sigma=10, sens=1, eps=0.1) = %.15f" % gauss_delta(0.1, 10))
print("delta(sigma=0.5, sens=1, eps=0)  = %.16f" % gauss_delta(0, 0.5))
s = tight_sigma(math.log(3), 1e-5)
print("tight sigma^2(eps=ln3, delta=1e-5, sens=1) = %.10f" % (s * s))
for eps, delta in [(0.1, 1e-6), (1, 1e-5), (4, 1e-9), (20, 1e-3)]:
    s = tight_sigma(eps, delta)
    print("tight sigma(eps=%g, delta=%g, sens=1) = %.12g" % (eps, delta, s))
n, alpha = 5000, 1e-6
print("KS/DKW critical D(n=5000, alpha=1e-6) = %.6f" % math.sqrt(math.log(2 / alpha) / (2 * n)))
print("DKW false-failure bound at D=0.03805: %.3g" % (2 * math.exp(-2 * n * 0.03805 ** 2)))
print("two-sided z for 1e-6: %.4f; P(|Z|>4.42) = %.3g; P(|Z|>5) = %.3g" % (
    two_sided_z(1e-6), math.erfc(4.42 / math.sqrt(2)), math.erfc(5 / math.sqrt(2))))
for df in (12, 16, 20, 24, 32, 40):
    crit = df + 6 * math.sqrt(2 * df)
    print("chi2 df=%d critical %.3f false-failure %.3g" % (df, crit, chi2_sf(crit, df)))
rho = 100 * 2.0 ** 2 / (2 * 10.0 ** 2)
print("RDP->DP: 100 Gaussian releases sigma=10 sens=2 (rho=%g), delta=1e-5: eps = %.6f" % (rho, rdp_eps(rho, 1e-5)))
print("RR exact eps: k=2 p=.75 -> %.15f (ln3 %.15f); k=4 p=.75 -> %.15f (ln9 %.15f)" % (
    math.log(0.75 / 0.25), math.log(3), math.log(0.75 * 3 / 0.25), math.log(9)))


def chi2_crit(df, alpha=1e-6):
    lo, hi = float(df), df + 1000.0
    for _ in range(200):
        m = (lo + hi) / 2
        if chi2_sf(m, df) > alpha:
            lo = m
        else:
            hi = m
    return hi


for df in (4, 20, 22, 23, 24, 32):
    print("chi2 df=%d critical value at alpha=1e-6: %.3f" % (df, chi2_crit(df)))
