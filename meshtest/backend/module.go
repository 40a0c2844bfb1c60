package backend

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// ModuleRoot finds the meshtest module's source, where the bundled node is
// built from and whose git revision a summary names: next to this file when
// the test binary was built from a checkout, else where the go command has
// the module.
func ModuleRoot() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
		if _, err := os.Stat(filepath.Join(root, "node", "cmd", "meshnode")); err == nil {
			return root, nil
		}
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/meshtest/meshtest").Output()
	if err != nil {
		return "", fmt.Errorf("find the meshtest module's source to build the bundled node: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// SafeName turns a name ("TestStar/peers=10") into one usable in file,
// directory and image names.
func SafeName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '=' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}
