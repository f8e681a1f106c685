// Package privacy releases model outputs under local differential privacy
// (LDP), so that a device can report predicted labels, scores and
// embeddings to a server with a provable (epsilon, delta) bound before
// anything leaves it, and keeps a crash-safe ledger of the budget spent.
//
// Under local DP every two inputs are neighbours. So a sensitivity here is
// always the largest change between ANY two admissible outputs, and it
// follows from the output kind and the range or clipping bound the caller
// declares; it is never estimated from data.
//
// # Mechanisms
//
//   - [Releaser.Label]: k-ary randomized response. Keep the true label with
//     probability p = e^eps/(e^eps+k-1), else report one of the other k-1
//     uniformly (q = (1-p)/(k-1) each), sampled as "true label with
//     probability lambda = (e^eps-1)/(e^eps+k-1), else uniform over all k",
//     which has the same p and q. Exact epsilon: ln(p(k-1)/(1-p))
//     ([RREpsilon]). A server with counts c_j over n reports estimates
//     f_j = (c_j/n - q)/(p - q), unbiased, with variance
//     (q(1-q) + f_j(p-q)(1-p-q)) / (n (p-q)^2) ([EstimateRR]).
//
//   - [Releaser.LabelUnary]: optimized unary encoding (Wang, Blocki, Li,
//     Jha, USENIX Security 2017): one bit per label, the true label's bit is
//     1 with probability 1/2, the others with q = 1/(e^eps+1). The estimate
//     f_j = (c_j/n - q)/(1/2 - q) has n*Var = 4e^eps/(e^eps-1)^2 for a
//     label nobody holds ([OUEVariance], [EstimateOUE]).
//
//   - [Releaser.Scalar], [Releaser.Logits], [Releaser.VectorL1]: the
//     Laplace mechanism with noise scale Delta_1/eps, where Delta_1 is
//     Hi-Lo for a clamped score, n(Hi-Lo) for n clamped logits and 2C for a
//     vector clipped to L1 norm C.
//
//   - [Releaser.Embedding]: the Gaussian mechanism on a vector clipped to L2
//     norm C (Delta_2 = 2C), with sigma from the analytic Gaussian mechanism
//     (Balle & Wang, ICML 2018): the smallest sigma with
//
//     delta(sigma) = Phi(Delta/(2 sigma) - eps sigma/Delta) - e^eps Phi(-Delta/(2 sigma) - eps sigma/Delta) <= delta
//
//     found by bisection and returned as an upper bound whose square is
//     within 1e-5 relative of the tight value ([AnalyticGaussianSigma],
//     [GaussianDelta]). Unlike the classic sigma = Delta sqrt(2 ln(1.25/delta))/eps
//     it is valid for eps > 1 and is tight.
//
//   - [Releaser.Integer]: the discrete Laplace mechanism for integer outputs
//     clamped to [lo, hi]: P(z) proportional to exp(-eps|z|/(hi-lo)).
//
// # Floating-point safety
//
// Textbook Laplace noise computed as -b*sign(u)*log(1-2|u|) in float64
// leaks the input through the low-order bits of the result (Mironov, CCS
// 2012): some outputs are reachable from one input and impossible from its
// neighbour. This package never adds floating-point noise. Continuous
// outputs are first rounded to a power-of-two grid g, then an integer noise
// Z drawn EXACTLY is added in grid units, and the result m*g is returned;
// every output is a multiple of g ([Cost.GridStep]).
//
// Rounding moves each coordinate by at most g/2, so two rounded inputs
// differ by at most Delta + n*g in L1 (Delta + sqrt(n)*g in L2); that is
// the sensitivity the noise is calibrated for ([Cost.Sensitivity] reports
// it). The default g is the smallest power of two at or above
// Delta*2^-20/n (Delta*2^-20/sqrt(n) for Gaussian), so the inflation is at
// most 2^-19 relative, and never below max|x|*2^-50 so that grid indices are
// exact integers in float64.
//
// The integer noise comes from the exact samplers of Canonne, Kamath and
// Steinke ("The Discrete Gaussian for Differential Privacy", NeurIPS 2020):
// Bernoulli(exp(-gamma)) for rational gamma by their Algorithm 1, the
// discrete Laplace by Algorithm 2 and the discrete Gaussian by Algorithm 3,
// all on exact rationals (math/big) and uniform integers. For Laplace the
// scale in grid units is the exact rational (Delta + n g)/(eps g) of the
// float64 inputs, so the guarantee is exactly eps.
//
// For the Gaussian, the noise is the exact discrete Gaussian on the grid
// with sigma from the analytic (continuous) calibration. Its privacy loss
// for a grid shift mu is (2<y,mu> - |mu|^2)/(2 sigma^2), the same function
// as for the continuous Gaussian, and its Renyi / concentrated-DP guarantee
// rho = Delta^2/(2 sigma^2) is exactly the continuous one (CKS Theorem 14),
// which is what the ledger's RDP accountant uses: that part is rigorous.
// The single-release (eps, delta) reuses the continuous delta(sigma); the
// lattice sum behind the discrete delta differs from the continuous
// integral by a relative O((g/sigma)^2), below 2^-38 at the sigma/g >= 2^19
// used here, and sigma is calibrated for delta(1 - 2^-20) to absorb it.
// That is a numerical argument, not a formal proof; CKS (Section 2.3 and
// Figure 1) report the two curves indistinguishable at such sigmas.
//
// Randomized response and unary encoding use dyadic probabilities P/2^53
// (lambda for randomized response, q for unary encoding), one exact integer
// comparison per coin, rounded in the direction that never raises the
// realised epsilon ([RRProbabilities], [OUEProbabilities]).
//
// Randomness comes from crypto/rand ([CryptoSource]). [NewTestingSource]
// gives a seeded, INSECURE source for tests and simulations; [Source] is
// sealed, so nothing else can be plugged in.
//
// # Validation
//
// An epsilon that is NaN, infinite or below 2^-50, a delta outside (0, 1)
// for Gaussian or other than 0 for the pure mechanisms, k < 2, a
// non-positive or non-finite sensitivity, clip bound or range, and NaN or
// Inf inputs each give a typed error ([ParamError], [InputError]) wrapping
// a sentinel ([ErrInvalidEpsilon], [ErrInvalidDelta], [ErrInvalidK],
// [ErrInvalidBound], [ErrNonFinite]); nothing is released or charged.
//
// # Budget
//
// A [Ledger] records every release's [Cost] and composes them: basic
// composition (sums of eps and delta) for everything, and for Gaussian
// releases also an RDP accountant: the Gaussian mechanism has Renyi DP
// alpha*Delta^2/(2 sigma^2) at every order alpha > 1; the sum over releases
// is converted to (eps, delta) at the budget's delta by the better of
// eps = rdp + log(1/delta)/(alpha-1) (Mironov 2017) and
// eps = rdp + log((alpha-1)/alpha) - (log delta + log alpha)/(alpha-1)
// (CKS 2020, Proposition 12), minimised over a grid of alphas ([RDPToDP]).
// The smaller-epsilon guarantee that fits the delta budget counts.
//
// A release is charged BEFORE it is returned: if the ledger would exceed
// its budget ([ErrBudgetExceeded], [BudgetError]) or cannot persist
// ([ErrLedgerIO]), the noisy value is discarded. A file ledger is written
// atomically: a temp file in the same directory is written and fsynced,
// renamed over the ledger and the directory is fsynced, so after a crash
// the file holds either the old or the new state, never a partial one, and
// every release ever returned is in it. The file carries a SHA-256 of its
// body; a file that fails it is reported as [ErrLedgerCorrupt] and never
// reset. Temporary files of writers killed mid-charge are removed, under
// the file lock, by the next [OpenLedger].
//
// Every charge rewrites the file, which may grow to [MaxLedgerSize] (64
// MiB, about 480,000 releases). A charge that would take it past that is
// refused before anything is written, with a [LedgerFullError]
// ([ErrLedgerFull]) that says what to do: compact the ledger
// ([CompactLedger], [Ledger.Compact], or `lepton ledger compact FILE`),
// which folds every release into one carried total ([Carried]: the sums the
// accountants need, in order) so the spend is unchanged bit for bit and
// later releases compose exactly as before; only the per-release history
// goes, and --archive (or the archive argument) keeps it in a file of its
// own, which is rotation. Compaction also rescues a file an earlier version
// let grow past the limit.
//
// # In lepton and the CLI
//
// The root package exposes the mechanisms as options (privacy_options.go):
// lepton.WithPrivateLabel(eps) on Classify (the result's Label/Index become
// the released label, Probs/Logits are dropped, Privacy holds the [Cost]),
// lepton.WithPrivateEmbedding(eps, delta, clip) on Embed (and EmbedPrivate,
// which returns each vector's [Cost]), and lepton.WithPrivacy(releaser) for
// the ledger and randomness. The CLI maps them to flags:
//
//	lepton classify -m M --json --dp-label-epsilon 1 --dp-ledger dp.json --dp-budget 8 TEXT
//	  {"label":"...","index":2,"privacy":{"mechanism":"randomized_response","epsilon":1,...}}
//	lepton embed -m M --json --dp-embed-epsilon 2 --dp-embed-delta 1e-6 --dp-embed-clip 1 TEXT
//	  {"vector":[...],"privacy":{"mechanism":"gaussian","epsilon":2,"delta":1e-6,"sigma":...}}
//
// A new --dp-ledger needs --dp-budget (and --dp-budget-delta, default
// 1e-5, for Gaussian releases); an existing one keeps its recorded budget.
// A batch that does not fit the remaining budget is refused before any
// release.
//
// # Example
//
//	led, err := privacy.OpenLedger("dp-ledger.json", privacy.Budget{Epsilon: 8, Delta: 1e-5})
//	if err != nil { ... }
//	rel, err := privacy.New(privacy.WithLedger(led))
//	if err != nil { ... }
//	out, err := rel.Label(predicted, numLabels, 1.0) // out.Label, out.Cost.Epsilon
package privacy
