package cgroup

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Handle keeps a container's files open so that each sample costs one
// positioned read per file instead of an open, a stat, reads and a close.
// Measured against a live container on a Docker 20.10, cgroup v1 host (a
// VM where syscalls are dear), a sample took ~235 µs through Container.Read
// and ~35–60 µs through a Handle: for 100 containers every second, 2.4 % of
// a core against 0.5 %.
//
// The kernel regenerates cgroup and proc files on every read from offset
// zero, so a kept handle returns fresh values. A Handle holds five file
// descriptors; 1,000 containers need 5,000, within the limit Go raises the
// soft RLIMIT_NOFILE to at start. A Handle is not safe for concurrent use.
type Handle struct {
	c     Container
	paths [numFiles]string
	files [numFiles]*os.File
	bufs  [numFiles][]byte
}

// Open opens the files of the container with init process pid (see Read).
func (c Container) Open(pid int) (*Handle, error) {
	if pid <= 0 {
		return nil, c.wrap(fmt.Errorf("invalid init pid %d", pid))
	}
	h := &Handle{c: c, paths: c.paths(pid)}
	for i, p := range h.paths {
		f, err := os.Open(p)
		if err != nil {
			_ = h.Close()
			return nil, c.wrap(err)
		}
		h.files[i] = f
		h.bufs[i] = make([]byte, 4096)
	}
	return h, nil
}

// Read samples the container through the open files. After the container
// exits, reads fail (the kernel answers ENODEV for a removed cgroup) or come
// back empty, which is a parse error; either way the error names the file.
func (h *Handle) Read() (Stats, error) {
	var data [numFiles][]byte
	for i, f := range h.files {
		if f == nil {
			return Stats{}, h.c.wrap(fmt.Errorf("read %s: handle closed", h.paths[i]))
		}
		b, err := readAt0(f, h.bufs[i])
		if err != nil {
			return Stats{}, h.c.wrap(err)
		}
		h.bufs[i] = b[:cap(b)]
		data[i] = b
	}
	return h.c.parse(&h.paths, &data)
}

// readAt0 reads f from offset zero into buf, growing it until the whole file
// fits. It returns the filled part of the (possibly new) buffer.
func readAt0(f *os.File, buf []byte) ([]byte, error) {
	for {
		n, err := f.ReadAt(buf, 0)
		if n < len(buf) {
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err // *PathError: names the file
			}
			return buf[:n], nil
		}
		// Filled: the file may be longer (memory.stat grows with the
		// kernel version), so retry with room to spare.
		buf = make([]byte, 2*len(buf))
	}
}

// Close closes the files. It is safe to call more than once.
func (h *Handle) Close() error {
	var errs []error
	for i, f := range h.files {
		if f != nil {
			errs = append(errs, f.Close())
			h.files[i] = nil
		}
	}
	return errors.Join(errs...)
}
