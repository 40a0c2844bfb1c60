package shape

// Mechanism names what delays packets.
type Mechanism string

const (
	// Netem is the kernel's sch_netem qdisc.
	Netem Mechanism = "netem"
	// DelayLine is this package's user-space delay line: packets are sent to
	// an NFQUEUE and accepted after their delay.
	DelayLine Mechanism = "nfqueue-delay-line"
)
