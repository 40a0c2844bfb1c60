package series

import (
	"errors"
	"fmt"
	"math"
)

// Line is a straight line fitted to points by least squares, typically the
// cost of a node (y) against the number of peers or its degree (x): Slope is
// then the cost of one more connection and Intercept the cost of an idle
// node.
type Line struct {
	Slope     float64 `json:"slope"`
	Intercept float64 `json:"intercept"`
	R2        float64 `json:"r2"` // coefficient of determination, 1 for a perfect fit
	N         int     `json:"n"`  // number of points fitted
}

// At returns the value the line predicts at x.
func (l Line) At(x float64) float64 { return l.Slope*x + l.Intercept }

// String formats the line as an equation with its quality of fit,
// "y = 0.15·x + 8.6 (R² = 0.998, n = 4)".
func (l Line) String() string {
	sign, b := "+", l.Intercept
	if b < 0 {
		sign, b = "-", -b
	}
	return fmt.Sprintf("y = %.4g·x %s %.4g (R² = %.3f, n = %d)", l.Slope, sign, b, l.R2, l.N)
}

// Fit returns the least-squares line through the points (xs[i], ys[i]).
//
// It returns an error, rather than a line of NaNs that would make every later
// assertion fail obscurely, when the slices differ in length, hold NaN or
// infinite values, have fewer than two points, or when all xs are equal (the
// slope is then undefined: a sweep that ran one n several times). When all
// ys are equal the fit is exact and R2 is 1.
func Fit(xs, ys []float64) (Line, error) {
	if len(xs) != len(ys) {
		return Line{}, fmt.Errorf("fit: %d x values but %d y values", len(xs), len(ys))
	}
	for i := range xs {
		if !isFinite(xs[i]) || !isFinite(ys[i]) {
			return Line{}, fmt.Errorf("fit: point %d is (%v, %v), want finite values", i, xs[i], ys[i])
		}
	}
	if len(xs) < 2 {
		return Line{}, fmt.Errorf("fit: %d point(s), need at least 2", len(xs))
	}

	n := float64(len(xs))
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= n
	my /= n

	// Centred sums avoid the cancellation of the textbook Σx² - n·x̄²
	// formula when x is large (bytes) and varies little.
	var sxx, sxy, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	if sxx == 0 {
		return Line{}, errors.New("fit: all x values are equal, the slope is undefined")
	}

	slope := sxy / sxx
	intercept := my - slope*mx
	r2 := 1.0
	if syy != 0 {
		var ssRes float64
		for i := range xs {
			d := ys[i] - (slope*xs[i] + intercept)
			ssRes += d * d
		}
		r2 = 1 - ssRes/syy
	}
	return Line{Slope: slope, Intercept: intercept, R2: r2, N: len(xs)}, nil
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
