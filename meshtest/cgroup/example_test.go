package cgroup_test

import (
	"fmt"

	"github.com/meshtest/meshtest/meshtest/cgroup"
)

// A sampler finds a container's cgroup once and reads it every interval. On a
// real host the roots are "/sys/fs/cgroup" and "/proc"; here, the recorded v1
// tree of a container that allocated 20 MB.
func Example() {
	r, err := cgroup.NewReader("testdata/v1/cgroup", "testdata/v1/proc")
	if err != nil {
		fmt.Println(err) // the harness falls back to the Docker stats API
		return
	}
	c, err := r.Find("838eac9f94750f7046090fa974e4e953b80dd1a1a3ec24859d093e3c446be041")
	if err != nil {
		fmt.Println(err)
		return
	}
	h, err := c.Open(4784) // the init PID, from docker inspect
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close()
	st, err := h.Read()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("cgroup %s: %.2f MiB, %.0f pids, %.0f B received\n", r.Version(), st.MemoryBytes/(1<<20), st.PIDs, st.NetRxBytes)
	// Output: cgroup v1: 21.89 MiB, 7 pids, 1462 B received
}

// The host's memory, for a summary's host section; on a real host the root is
// "/proc".
func ExampleMemTotal() {
	total, err := cgroup.MemTotal("testdata/v2/proc")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.1f GiB\n", float64(total)/(1<<30))
	// Output: 23.5 GiB
}
