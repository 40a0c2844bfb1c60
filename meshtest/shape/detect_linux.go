package shape

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Detect reports which mechanism the running kernel allows: Netem if it can
// create a netem qdisc, DelayLine if not. It tries in a throwaway network
// namespace when it may create one (CAP_SYS_ADMIN), and otherwise on a
// temporary IFB device in the current namespace, deleted before it returns.
// A loaded sch_netem module answers without either.
func Detect() (Mechanism, error) {
	if _, err := os.Stat("/sys/module/sch_netem"); err == nil {
		return Netem, nil
	}
	type result struct {
		ok  bool
		err error
	}
	res := make(chan result, 1)
	go func() {
		// The thread is never unlocked: if it changed namespace it ends with
		// this goroutine instead of going back to the scheduler.
		runtime.LockOSThread()
		if unix.Unshare(unix.CLONE_NEWNET) == nil {
			ok, err := tryNetem("lo", false)
			res <- result{ok, err}
			return
		}
		ok, err := tryNetem(fmt.Sprintf("mtsdetect%d", os.Getpid()%100000), true)
		res <- result{ok, err}
		runtime.UnlockOSThread()
	}()
	r := <-res
	if r.err != nil {
		return "", fmt.Errorf("detect netem: %w", r.err)
	}
	if r.ok {
		return Netem, nil
	}
	return DelayLine, nil
}

// tryNetem adds and deletes a netem root qdisc on dev (an IFB created for the
// purpose if create is set) in the calling thread's namespace.
func tryNetem(dev string, create bool) (bool, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return false, err
	}
	defer h.Close()
	if create {
		if err := h.LinkAdd(&netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: dev}}); err != nil {
			return false, fmt.Errorf("add probe device %s: %w", dev, err)
		}
		defer func() {
			if l, err := h.LinkByName(dev); err == nil {
				h.LinkDel(l)
			}
		}()
	}
	l, err := h.LinkByName(dev)
	if err != nil {
		return false, err
	}
	q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT},
		netlink.NetemQdiscAttrs{Latency: 1000})
	err = h.QdiscAdd(q)
	switch {
	case err == nil:
		h.QdiscDel(q)
		return true, nil
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EINVAL):
		// "Specified qdisc kind is unknown": no sch_netem, built in or loadable.
		return false, nil
	default:
		return false, fmt.Errorf("add netem qdisc on %s: %w", dev, err)
	}
}

// OnlyInterface names the one interface of the current network namespace
// that is not the loopback nor an IFB device of this package: a node's link
// to its network. Docker names it eth0, but eth1, eth2, … after each
// disconnect and connect, so a helper started again finds it by this.
func OnlyInterface() (string, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return "", fmt.Errorf("list interfaces: %w", err)
	}
	var found []string
	for _, l := range links {
		a := l.Attrs()
		if a.Flags&net.FlagLoopback != 0 || l.Type() == "ifb" || strings.HasPrefix(a.Name, "mtshape") {
			continue
		}
		found = append(found, a.Name)
	}
	if len(found) != 1 {
		return "", fmt.Errorf("want one interface besides the loopback to shape, found %d (%s): name it with -iface", len(found), strings.Join(found, ", "))
	}
	return found[0], nil
}
