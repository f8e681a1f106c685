// Package fairness makes a classifier's outputs fair across patient groups
// (age band, sex, language, site) at inference time, from an artefact fitted
// offline on labelled validation data, and measures what that changed.
//
// A triage model used across clinics must not be systematically over- or
// under-confident, or miss more true cases, for some groups. Fairlearn and
// AIF360 address this in Python; this package does it on the device, in
// plain Go, and closes three gaps they leave: undefined rates are reported
// as undefined (never 0), calibrated equalized odds fails loudly when it is
// infeasible instead of clamping, and randomised decisions are reproducible
// and correct one request at a time.
//
// # Data
//
// [ReadFile], [ReadCSV] and [ReadJSONL] read labelled model outputs: a
// group, a label, and a positive-class score, per-class probabilities or
// logits. Every malformed row is an error naming its line
// ([ErrMalformedInput]).
//
// # Groups
//
// Group names are opaque strings. [CanonicalGroup] applies the only two
// normalisations: surrounding white space is trimmed, and an integer
// written as a float with a zero fraction ("1.0", as pandas writes an
// integer column with missing values) loses the fraction. "01" and "1"
// stay different groups. Every entry point (readers, fits, metrics,
// lookups) uses the canonical name, so data fitted as "1.0" is found as
// "1", and an artefact whose groups are not canonical is refused.
//
// # Metrics
//
// An [Accumulator] gathers per-group sufficient statistics in constant
// memory and merges with others: count, accuracy, selection rate,
// TPR/FPR/TNR/FNR and precision with 95% Wilson intervals, expected
// calibration error over [ECEBins] bins, Brier score and log loss. Its
// [Report] adds the between-group spreads and gaps to the overall value
// (as Fairlearn's MetricFrame) and the demographic parity, equalized odds
// and equal opportunity differences. Groups below a minimum size are
// flagged. A between-group comparison needs at least two groups where the
// metric is defined; with fewer it is undefined. This departs from
// Fairlearn, whose pandas max-min silently drops NaN groups and reports a
// difference of 0 (ratio 1) when only one group remains, e.g. an equal
// opportunity difference of 0 when all but one group lack positives.
//
// # Calibration
//
// [FitCalibration] fits temperature scaling (any number of classes; never
// changes the argmax), Platt scaling or isotonic regression (binary) per
// group, with a global fit for groups too small to fit alone.
//
// # Decisions
//
// [FitThresholds] fits per-group decision rules on a binary score:
// demographic parity, equalized odds and equal opportunity as in Hardt et
// al. 2016 and Fairlearn's ThresholdOptimizer (randomising between two
// thresholds where needed), and calibrated equalized odds as in Pleiss et
// al. 2017, which returns an [*InfeasibleError] when a mixing rate would
// exceed 1. [Thresholds.Decide] takes each decision's coin from
// HMAC-SHA256(key, request id) ([Coin]), so any decision can be recomputed
// by an auditor and does not depend on the batch it came in.
//
// # Artefacts
//
// An [Artefact] is versioned JSON: kind, groups, parameters, the SHA-256 of
// the fit data ([FitHash]) and the metrics before and after. [Load]
// validates it strictly and returns an [*ArtefactError] (wrapping
// [ErrBadArtefact] or [ErrVersion]). A group not seen at fit time is an
// error ([ErrUnknownGroup]) unless the caller asks for [UnknownFallback].
//
// # Reports
//
// [BuildReport] measures every stage (before and after calibration, after
// the decision rule) and [WriteMarkdown] writes its tables. The plots
// (reliability diagrams per group, per-group ROC curves with the chosen
// operating points, as PNG and SVG) are drawn by package
// lepton/fairness/report, kept apart so that this package, and every
// program that imports lepton, links no plotting code; [ROC] gives the
// curves' points.
//
// Typical offline use, then online use:
//
//	ss, err := fairness.ReadFile("validation.csv")
//	cal, err := fairness.NewCalibrationArtefact(ss, fairness.Platt, fairness.DefaultMinGroupSize)
//	err = cal.Save("cal.json")
//	...
//	a, err := fairness.LoadFile("cal.json")
//	probs, err := a.Calibration.Apply(group, probs, fairness.UnknownError)
package fairness
