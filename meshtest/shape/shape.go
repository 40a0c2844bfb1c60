package shape

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Link is the condition of one direction of a node's link.
type Link struct {
	// Latency is the one-way delay added to every packet.
	Latency time.Duration
	// Jitter spreads each packet's delay uniformly over Latency±Jitter. The
	// delay line never reorders, so under load the spread is one-sided.
	Jitter time.Duration
	// Loss is the probability, 0..1, that a packet is dropped.
	Loss float64
	// Rate is the bandwidth in bit/s, counted on the wire (IP and Ethernet
	// headers included, as HTB counts); 0 means unlimited.
	Rate int64
}

// Shape is what is applied to one node's interface: Egress for the packets it
// sends, Ingress for the packets it receives.
type Shape struct {
	Egress, Ingress Link
}

// Bounds of a Link. MaxLatency bounds how long the delay line holds a packet
// (and so how long Close waits); MinRate is where HTB's byte granularity and
// the MTU make the rate meaningless.
const (
	MaxLatency = 10 * time.Second
	MinRate    = 8_000     // bit/s
	MaxRate    = 100_000e6 // bit/s, 100 Gbit/s
)

// IsZero reports whether l changes nothing.
func (l Link) IsZero() bool { return l == Link{} }

// IsZero reports whether s changes nothing.
func (s Shape) IsZero() bool { return s == Shape{} }

// Validate returns every problem of s, each naming the field
// ("egress.latency") and how to fix it, or nil.
func (s Shape) Validate() error {
	return errors.Join(s.Egress.validate("egress"), s.Ingress.validate("ingress"))
}

// Validate returns every problem of l, each naming the field and how to fix
// it, or nil.
func (l Link) Validate() error { return l.validate("link") }

func (l Link) validate(dir string) error {
	var errs []error
	bad := func(field, f string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", dir, field, fmt.Sprintf(f, a...)))
	}
	switch {
	case l.Latency < 0:
		bad("latency", "%v is negative; use 0 for no added delay", l.Latency)
	case l.Latency > MaxLatency:
		bad("latency", "%v exceeds %v, the longest a packet is held; lower it", l.Latency, MaxLatency)
	}
	switch {
	case l.Jitter < 0:
		bad("jitter", "%v is negative; use 0 for a fixed delay", l.Jitter)
	case l.Jitter > l.Latency:
		bad("jitter", "%v exceeds latency %v, so delays would go negative; lower jitter to at most the latency", l.Jitter, l.Latency)
	}
	switch {
	case math.IsNaN(l.Loss) || l.Loss < 0 || l.Loss > 1:
		bad("loss", "%v is not a probability in 0..1; write 0.01 or 1%% for one percent", l.Loss)
	}
	switch {
	case l.Rate < 0:
		bad("rate", "%d bit/s is negative; use 0 for unlimited", l.Rate)
	case l.Rate > 0 && l.Rate < MinRate:
		bad("rate", "%d bit/s is below the minimum %s; raise it or use 0 for unlimited", l.Rate, FormatRate(MinRate))
	case l.Rate > MaxRate:
		bad("rate", "%s exceeds %s; use 0 for unlimited", FormatRate(l.Rate), FormatRate(MaxRate))
	}
	return errors.Join(errs...)
}

// String formats l in the form ParseLink reads, omitting zero fields.
func (l Link) String() string {
	var parts []string
	if l.Latency != 0 {
		parts = append(parts, "latency="+l.Latency.String())
	}
	if l.Jitter != 0 {
		parts = append(parts, "jitter="+l.Jitter.String())
	}
	if l.Loss != 0 {
		parts = append(parts, "loss="+FormatLoss(l.Loss))
	}
	if l.Rate != 0 {
		parts = append(parts, "rate="+FormatRate(l.Rate))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// ParseLink reads the compact form of a Link: comma-separated key=value pairs
// with the keys latency, jitter, loss and rate, for example
// "latency=50ms,jitter=5ms,loss=1%,rate=10mbit". "" and "none" are the zero
// Link. The result is validated.
func ParseLink(s string) (Link, error) {
	var l Link
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return l, nil
	}
	for kv := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return Link{}, fmt.Errorf("parse link %q: %q is not key=value (keys: latency, jitter, loss, rate)", s, kv)
		}
		var err error
		switch strings.ToLower(k) {
		case "latency", "delay":
			l.Latency, err = ParseDuration(v)
		case "jitter":
			l.Jitter, err = ParseDuration(v)
		case "loss":
			l.Loss, err = ParseLoss(v)
		case "rate", "bandwidth":
			l.Rate, err = ParseRate(v)
		default:
			err = fmt.Errorf("unknown key %q (keys: latency, jitter, loss, rate)", k)
		}
		if err != nil {
			return Link{}, fmt.Errorf("parse link %q: %w", s, err)
		}
	}
	if err := l.Validate(); err != nil {
		return Link{}, fmt.Errorf("parse link %q: %w", s, err)
	}
	return l, nil
}

// ParseDuration reads a delay as time.ParseDuration does ("50ms", "1.5s"),
// and also a bare "0".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want a number with a unit, as in 50ms or 1.5s", s)
	}
	return d, nil
}

// ParseLoss reads a loss probability as a percentage ("1%", "0.5%") or a
// fraction in 0..1 ("0.01"). A bare number above 1 is refused rather than
// guessed at: "5" might mean 5% or be a typo.
func ParseLoss(s string) (float64, error) {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("loss %q: want a percentage (1%%) or a fraction in 0..1 (0.01)", s)
	}
	if pct {
		v /= 100
	} else if v > 1 {
		return 0, fmt.Errorf("loss %q: a fraction must be in 0..1; write %s%% for %s percent", s, s, s)
	}
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("loss %q: must be between 0 and 100%%", s)
	}
	return v, nil
}

// FormatLoss writes a loss as ParseLoss reads it back exactly: a
// percentage with the fewest decimals (up to six) that does, else the
// fraction itself, since not every float is a decimal percentage divided
// by 100 ("7%" for 0.07, where plain formatting of 0.07·100 gives
// "7.000000000000001%").
func FormatLoss(p float64) string {
	if p == 0 {
		return "0"
	}
	for prec := 0; prec <= 6; prec++ {
		s := strconv.FormatFloat(p*100, 'f', prec, 64) + "%"
		if v, err := ParseLoss(s); err == nil && v == p {
			return s
		}
	}
	return strconv.FormatFloat(p, 'f', -1, 64)
}

// rateUnits are the units ParseRate accepts, case-insensitively, longest
// suffix first. They are tc's bit units, decimal as in tc.
var rateUnits = []struct {
	suffix string
	mult   float64
}{
	{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1},
}

// ParseRate reads a bandwidth in tc's bit units: "10mbit", "10Mbit",
// "500kbit", "1gbit", "64000bit", or a bare number of bit/s. "0" and
// "unlimited" are 0. tc's byte units ("mbps" is megabytes per second to tc,
// megabits to most people) are refused as ambiguous.
func ParseRate(s string) (int64, error) {
	orig := s
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "unlimited" || s == "none" {
		return 0, nil
	}
	if strings.HasSuffix(s, "bps") || strings.HasSuffix(s, "b/s") {
		return 0, fmt.Errorf("rate %q: ambiguous (tc reads mbps as megabytes/s); write it in bits, as in 10mbit", orig)
	}
	mult := 1.0
	for _, u := range rateUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("rate %q: want a number of bits per second with a unit, as in 10mbit, 500kbit or 1gbit", orig)
	}
	if v*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("rate %q: too large", orig)
	}
	return int64(math.Round(v * mult)), nil
}

// FormatRate formats a rate in bit/s in the largest unit ParseRate reads that
// keeps it exact ("10mbit", "1500kbit", "0").
func FormatRate(bits int64) string {
	if bits == 0 {
		return "0"
	}
	for _, u := range rateUnits {
		m := int64(u.mult)
		if bits%m == 0 {
			return strconv.FormatInt(bits/m, 10) + u.suffix
		}
	}
	return strconv.FormatInt(bits, 10) + "bit"
}
