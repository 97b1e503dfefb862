//go:build !unix

package sqlitestore

// LockWorkers is not available on this system: it returns ErrNoWorkerLock, and jobs
// left running by a process that died run again once their leases end.
func (s *Store) LockWorkers() (release func(), err error) {
	return func() {}, ErrNoWorkerLock
}
