package main

import (
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watcher reports files landing under directory trees through inotify,
// so a kill "right after the checkpoint is renamed into place" follows the
// rename by microseconds rather than a polling interval.
type watcher struct {
	fd     int
	events chan fsEvent
	stop   chan struct{}
	wg     sync.WaitGroup

	mu    sync.Mutex
	paths map[int]string // watch descriptor → directory
}

// fsEvent is a file that was closed after writing, or renamed into a
// watched directory.
type fsEvent struct {
	Path   string
	Rename bool // moved into place (else: closed after writing)
}

// newWatcher watches roots (which must exist) and every directory created
// under them.
func newWatcher(roots ...string) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	w := &watcher{fd: fd, events: make(chan fsEvent, 1024), stop: make(chan struct{}), paths: map[int]string{}}
	for _, r := range roots {
		if err := w.add(r); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	w.wg.Add(1)
	go w.loop()
	return w, nil
}

func (w *watcher) add(dir string) error {
	wd, err := unix.InotifyAddWatch(w.fd, dir, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_CREATE)
	if err != nil {
		return &os.PathError{Op: "inotify_add_watch", Path: dir, Err: err}
	}
	w.mu.Lock()
	w.paths[wd] = dir
	w.mu.Unlock()
	return nil
}

func (w *watcher) loop() {
	defer w.wg.Done()
	buf := make([]byte, 64<<10)
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		if n, err := unix.Poll(fds, 50); err != nil || n == 0 {
			continue
		}
		n, err := unix.Read(w.fd, buf)
		if err != nil || n <= 0 {
			continue
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			name := string(nameBytes)
			for len(name) > 0 && name[len(name)-1] == 0 {
				name = name[:len(name)-1]
			}
			w.mu.Lock()
			dir := w.paths[int(ev.Wd)]
			w.mu.Unlock()
			p := filepath.Join(dir, name)
			isDir := ev.Mask&unix.IN_ISDIR != 0
			if isDir && ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 {
				_ = w.add(p) // a directory that vanished at once is no loss
			}
			if ev.Mask&unix.IN_CREATE != 0 {
				continue // only finished files (or directories moved into place) count
			}
			select {
			case w.events <- fsEvent{Path: p, Rename: ev.Mask&unix.IN_MOVED_TO != 0}:
			default: // nobody is waiting for this many events
			}
		}
	}
}

func (w *watcher) close() {
	close(w.stop)
	w.wg.Wait()
	unix.Close(w.fd)
}
