// Package regress answers the question a maintainer gates a pull request on:
// did the node get costlier?
//
// A [Set] is a baseline: the headline [Figure]s of one experiment
// (bytes, goroutines and CPU per bootstrap connection, a peer's memory, …)
// with the parameters that define the experiment and how noisy each figure
// was over repeated runs. `make baseline` records one on a given machine and
// [Set.Write] stores it under testdata/baseline; a pull request's run builds
// another Set from the same experiment, and [Compare] holds it against the
// stored one:
//
//	base, err := regress.Read("testdata/baseline/star.json")
//	if errors.Is(err, regress.ErrNoBaseline) { … }
//	report := regress.Compare(base, now, regress.Options{})
//	fmt.Print(report.Text())         // for the test log
//	summary := report.Markdown()     // for the GitHub job summary
//	if report.Failed() { … }
//
// A figure regresses when it moves in its bad direction by more than the
// larger of a relative tolerance and a multiple of its measured noise; see
// [Options]. Comparing runs of different experiments (another peer count,
// another duration) is refused rather than reported, since any difference
// would be meaningless.
//
// A stored baseline was measured on some machine; another machine moves
// the figures for reasons that are not the change. [CompareAB] is the gate
// that means something on any runner: both versions measured in the same
// job, one value per run and side, each figure judged by a two-sided
// Mann–Whitney test and a bootstrap interval of the ratio of medians, and
// a regression only when the change is both beyond the threshold and
// significant. Each row also says the smallest change the runs could have
// detected, so "no significant change" is read for what it is worth.
//
// The package is pure: it knows nothing of Docker, flags or the environment.
package regress
