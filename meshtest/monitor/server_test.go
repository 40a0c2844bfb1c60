package monitor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What judges the server's config in these tests (config_test.go) and
// reads its snapshots (package snapshot) is the server's own code: the
// module in go.mod must be the version the server image is built from. (A
// test binary carries no dependency versions, so the test reads go.mod.)
func TestVersion(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "github.com/prometheus/prometheus" {
			if f[1] != Version {
				t.Errorf("go.mod requires github.com/prometheus/prometheus %s, the server is %s", f[1], Version)
			}
			return
		}
	}
	t.Error("go.mod does not require github.com/prometheus/prometheus")
}
