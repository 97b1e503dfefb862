package sqlitestore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// checkpointEvery is how often the checkpointer copies the WAL into the database file.
const checkpointEvery = 500 * time.Millisecond

// checkpointer runs SQLite's WAL checkpoints on a connection of its own, so that no
// write waits for one. By default the commit that grows the WAL past 1000 pages copies
// it into the database and fsyncs the file: on a disk that stalled an async POST for
// 30-120 ms now and then (p99 of 15-60 ms at 100 jobs/s with workers writing, against 4-6
// ms on tmpfs). The writer turns automatic checkpoints off (dsn) and this goroutine runs
// PASSIVE checkpoints, which never wait for the writer or the readers: the writer keeps
// appending while the copy and its fsync happen here, and restarts the WAL from its start
// once everything in it has been copied.
type checkpointer struct {
	db     *sql.DB
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	frames atomic.Int64 // WAL frames copied so far (for tests)
}

func startCheckpointer(path string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn(path, connCheckpointer))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c, nil
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// busy is 1 when another checkpoint was running; log is the WAL's frames, copied
		// those now in the database file. A failure is retried at the next tick: the WAL
		// only grows meanwhile, and the last connection to close checkpoints it anyway.
		var busy, log, copied int64
		if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &copied); err == nil && copied > 0 {
			c.frames.Add(copied)
		}
	}
}

// stop ends the goroutine and closes its connection; safe to call more than once.
func (c *checkpointer) stop() error {
	var err error
	c.once.Do(func() {
		c.cancel()
		<-c.done
		err = c.db.Close()
	})
	return err
}
