package monitor

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Untar writes a tar stream's directories and regular files under dest,
// dropping the archive's top directory: Docker archives a copied directory
// under its own name, here the snapshot's, and dest is to hold the TSDB
// blocks themselves, as a --storage.tsdb.path does (and snapshot.Read
// reads). Hard links within the archive are kept; symbolic links and
// devices are skipped.
//
// An entry whose path would leave the top directory ("snap/../../x") is an
// error, written nowhere: dest is opened as an os.Root, which also refuses
// to follow a link out of it.
func Untar(r io.Reader, dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("monitor: untar: %w", err)
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("monitor: untar: %w", err)
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("monitor: untar into %s: %w", dest, err)
		}
		name, err := entryPath(h.Name)
		if err != nil {
			return fmt.Errorf("monitor: untar into %s: %w", dest, err)
		}
		if name == "" { // the top directory itself
			continue
		}
		if err := writeEntry(root, tr, h, name); err != nil {
			return fmt.Errorf("monitor: untar into %s: %s: %w", dest, h.Name, err)
		}
	}
}

// entryPath is the path of an archive entry under the archive's top
// directory, "" for the top directory itself.
func entryPath(name string) (string, error) {
	_, rest, _ := strings.Cut(strings.TrimSuffix(name, "/"), "/")
	if !filepath.IsLocal(filepath.FromSlash(name)) || (rest != "" && !filepath.IsLocal(filepath.FromSlash(rest))) {
		return "", fmt.Errorf("entry %q is outside the archive's directory", name)
	}
	return filepath.FromSlash(rest), nil
}

func writeEntry(root *os.Root, tr *tar.Reader, h *tar.Header, name string) error {
	switch h.Typeflag {
	case tar.TypeDir:
		return root.MkdirAll(name, 0o755)
	case tar.TypeReg:
		if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		return errors.Join(err, f.Close())
	case tar.TypeLink:
		// Docker archives a file linked twice once, and the other name as
		// a link to it; a TSDB block may well hold such files.
		target, err := entryPath(h.Linkname)
		if err != nil || target == "" {
			return fmt.Errorf("link to %q outside the archive's directory", h.Linkname)
		}
		if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		return root.Link(target, name)
	}
	return nil
}
