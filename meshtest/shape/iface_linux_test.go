package shape

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOnlyInterface: a helper started again after a disconnect and connect
// finds the node's link, whatever Docker named it this time; an IFB device
// of a shape is not a link, and two links are a question it will not guess.
func TestOnlyInterface(t *testing.T) {
	requireNetns(t)
	p := newNSPair(t)
	var got string
	require.NoError(t, inNetns(p.a, func() (err error) { got, err = OnlyInterface(); return err }))
	assert.Equal(t, "eth0", got)

	require.NoError(t, inNetns(p.a, func() error {
		sh, err := Apply("eth0", Shape{Ingress: Link{Rate: 10_000_000}}) // adds IFB mtshape<n>
		if err != nil {
			return err
		}
		defer sh.Close()
		got, err = OnlyInterface()
		return err
	}))
	assert.Equal(t, "eth0", got, "the IFB device is not a link")

	out, err := exec.Command("ip", "-n", p.a, "link", "add", "eth1", "type", "veth", "peer", "name", "eth2").CombinedOutput()
	require.NoError(t, err, "%s", out)
	err = inNetns(p.a, func() (err error) { _, err = OnlyInterface(); return err })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "found 3 (")
	assert.Contains(t, err.Error(), "name it with -iface")
}
