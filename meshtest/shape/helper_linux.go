package shape

import (
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// StartHelper is meshshaper -serve: it removes any shape a crashed
// predecessor left on cfg.Iface, then serves the control API and the probe
// protocol until Close. PUT /rules applies rules with ApplyRules, and
// Update after that. It runs in the node's network namespace, as the whole
// process does.
func StartHelper(cfg HelperConfig) (*Helper, error) {
	cfg = cfg.withDefaults()
	if err := Remove(cfg.Iface); err != nil {
		return nil, fmt.Errorf("helper: %w", err)
	}
	return startHelper(cfg, &shaperTarget{iface: cfg.Iface}, CPUTime)
}

// shaperTarget is a helper's interface: no Shaper until the first rules.
type shaperTarget struct {
	iface string
	sh    atomic.Pointer[Shaper] // set once, by the first setRules
}

func (t *shaperTarget) setRules(r Rules) (Applied, error) {
	sh := t.sh.Load()
	if sh == nil {
		var err error
		if sh, err = ApplyRules(t.iface, r); err != nil {
			return Applied{}, err
		}
		t.sh.Store(sh)
	} else if err := sh.Update(r); err != nil {
		return Applied{}, err
	}
	return Applied{Mechanism: sh.Mechanism(), DelayClasses: len(sh.DelayClasses())}, nil
}

func (t *shaperTarget) stats() HelperStats {
	sh := t.sh.Load()
	if sh == nil {
		return HelperStats{}
	}
	return HelperStats{Rules: sh.Rules(), Mechanism: sh.Mechanism(), Delay: sh.Stats(), Classes: sh.DelayClasses()}
}

func (t *shaperTarget) close() error {
	if sh := t.sh.Load(); sh != nil {
		return sh.Close()
	}
	return nil
}

// CPUTime is this process's user+system CPU time so far.
func CPUTime() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
