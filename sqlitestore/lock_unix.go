//go:build unix

package sqlitestore

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// LockWorkers takes the file's worker lock: only one process at a time runs jobs from
// a SQLite catalog (the lock file <db>.workers.lock, held with flock until release or
// the process's end, however it ends). Whoever holds it knows that jobs left running
// were left by a process that is gone. Another holder is an error naming the file.
func (s *Store) LockWorkers() (release func(), err error) {
	path := s.path + ".workers.lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: worker lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("sqlitestore: another easel serve runs the jobs of %s (it holds %s); stop it, or give this one its own --data", s.path, path)
		}
		return nil, fmt.Errorf("sqlitestore: worker lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
