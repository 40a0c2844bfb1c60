package shape

import "time"

// DelayStats are the counters of delay lines: one line's, or summed over
// several.
type DelayStats struct {
	Packets  uint64 `json:"packets"`  // packets the kernel handed to the delay line
	Released uint64 `json:"released"` // packets accepted back to the kernel
	Errors   uint64 `json:"errors"`   // failed receives and verdicts
	// MeanLate and MaxLate are how late verdicts were sent against each
	// packet's due time: the delay line's own error, on top of the configured
	// delay.
	MeanLate time.Duration `json:"mean_late_ns"`
	MaxLate  time.Duration `json:"max_late_ns"`
	// MeanIntake and MaxIntake are how long packets waited in the kernel,
	// from their arrival, before the delay line read them. A delay counts
	// from arrival, so this wait is absorbed unless it exceeds the delay;
	// it shows how loaded the machine is.
	MeanIntake time.Duration `json:"mean_intake_ns"`
	MaxIntake  time.Duration `json:"max_intake_ns"`
	LastError  string        `json:"last_error,omitempty"`
}

// add returns s and o summed: counts added, means weighted by packets,
// the larger maxima, o's LastError if it has one.
func (s DelayStats) add(o DelayStats) DelayStats {
	n := s.Packets + o.Packets
	r := DelayStats{Packets: n, Released: s.Released + o.Released, Errors: s.Errors + o.Errors,
		MaxLate: max(s.MaxLate, o.MaxLate), MaxIntake: max(s.MaxIntake, o.MaxIntake), LastError: s.LastError}
	mean := func(a, b time.Duration) time.Duration {
		return time.Duration((float64(a)*float64(s.Packets) + float64(b)*float64(o.Packets)) / float64(n))
	}
	if n > 0 {
		r.MeanLate, r.MeanIntake = mean(s.MeanLate, o.MeanLate), mean(s.MeanIntake, o.MeanIntake)
	}
	if o.LastError != "" {
		r.LastError = o.LastError
	}
	return r
}

// DelayClassStats are the counters of one delay class in force: the
// sources whose packets wait Latency±Jitter, on NFQUEUE Queue.
type DelayClassStats struct {
	Latency time.Duration `json:"latency_ns"`
	Jitter  time.Duration `json:"jitter_ns"`
	Queue   uint16        `json:"queue"`
	// Sources is how many addresses the class names; Rest is set when it
	// also holds every source no rule names.
	Sources int  `json:"sources"`
	Rest    bool `json:"rest,omitempty"`
	DelayStats
}
