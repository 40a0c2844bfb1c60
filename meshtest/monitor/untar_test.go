package monitor

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUntar(t *testing.T) {
	parent := t.TempDir()
	dest := filepath.Join(parent, "dest")
	archive := func(entries ...tar.Header) io.Reader {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, h := range entries {
			body := "contents of " + h.Name
			if h.Typeflag == tar.TypeReg {
				h.Size = int64(len(body))
			}
			if err := tw.WriteHeader(&h); err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				io.WriteString(tw, body)
			}
		}
		tw.Close()
		return &b
	}
	dir := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755} }
	file := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644} }

	err := Untar(archive(
		dir("snap/"), dir("snap/01J/"), file("snap/01J/meta.json"), file("snap/01J/chunks/000001"),
		tar.Header{Name: "snap/01J/chunks/000002", Typeflag: tar.TypeLink, Linkname: "snap/01J/chunks/000001"},
		tar.Header{Name: "snap/01J/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
	), dest)
	if err != nil {
		t.Fatal(err)
	}
	want := "01J/\n01J/chunks/\n01J/chunks/000001: contents of snap/01J/chunks/000001\n" +
		"01J/chunks/000002: contents of snap/01J/chunks/000001\n01J/meta.json: contents of snap/01J/meta.json\n"
	if got := tree(t, dest); got != want {
		t.Errorf("untarred:\n%s\nwant:\n%s", got, want)
	}

	for _, evil := range []tar.Header{
		file("snap/../../escaped"),
		file("../escaped"),
		file("snap/01J/../../../escaped"),
		{Name: "snap/escaped", Typeflag: tar.TypeLink, Linkname: "snap/../../outside"},
	} {
		err := Untar(archive(dir("snap/"), evil), dest)
		if err == nil || !strings.Contains(err.Error(), "outside the archive's directory") {
			t.Errorf("Untar of %q: error %v, want a refusal", evil.Name, err)
		}
		for _, p := range []string{filepath.Join(parent, "escaped"), filepath.Join(filepath.Dir(parent), "escaped"), filepath.Join(dest, "escaped")} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("Untar of %q wrote %s", evil.Name, p)
			}
		}
	}
}

// tree lists the directories and files under dir, with each file's
// contents when the test wrote them and its size otherwise.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			b.WriteString(rel + "/\n")
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if len(data) < 64 && bytes.HasPrefix(data, []byte("contents of ")) {
			b.WriteString(rel + ": " + string(data) + "\n")
		} else {
			fmt.Fprintf(&b, "%s: %d bytes\n", rel, len(data))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
