package sqlitestore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/easelhq/easel"
)

// schemaQueue is the queue's part of schema step 2 (see schemaJobs). Each row is one
// message of the queue named in column queue; dead = 1 puts it in that queue's
// dead-letter queue. receipt is the random token of the latest receive: a Delivery's
// receipt is "<id>.<token>", so an older receipt no longer matches.
const schemaQueue = `
CREATE TABLE queue (
	id            INTEGER PRIMARY KEY,
	queue         TEXT NOT NULL,
	job_id        TEXT NOT NULL,
	grp           TEXT NOT NULL,
	sent_at       INTEGER NOT NULL, -- Unix milliseconds
	visible_at    INTEGER NOT NULL, -- Unix milliseconds
	receive_count INTEGER NOT NULL,
	receipt       TEXT NOT NULL,    -- '' until received
	dead          INTEGER NOT NULL CHECK (dead IN (0, 1))
) STRICT;
-- Receive and ReceiveDead: the next visible messages, in order.
CREATE INDEX queue_visible ON queue (queue, dead, visible_at, id);
`

// Queue defaults.
const (
	// DefaultQueueName is the queue QueueOptions.Name defaults to.
	DefaultQueueName = "jobs"
	// DefaultMaxReceives is how many times a message is handed out, by default, before
	// it goes to the dead-letter queue.
	DefaultMaxReceives = 5
	// DefaultPollInterval is how often, by default, a waiting Receive looks for
	// messages that another process sent. Messages sent through the same Store wake it
	// at once, and it sleeps exactly until a delayed or invisible message is due.
	DefaultPollInterval = time.Second
	// maxBatch is the most messages one Receive returns, as with SQS.
	maxBatch = 10
)

// QueueOptions configures a Queue.
type QueueOptions struct {
	// Name tells queues in one file apart; DefaultQueueName when empty.
	Name string
	// MaxReceives is how many times a message is handed out: the Receive after that
	// moves it to the dead-letter queue. 0 means DefaultMaxReceives; a negative value,
	// no dead-letter queue (messages come back for ever).
	MaxReceives int
	// PollInterval bounds how long a waiting Receive sleeps before it looks at the file
	// again (for messages from other processes); 0 means DefaultPollInterval.
	PollInterval time.Duration
}

// Queue is an easel.Queue in the Store's SQLite file: durable, at least once, with
// visibility timeouts, delays and a dead-letter queue, like SQS. Several processes may
// share it.
type Queue struct {
	s           *Store
	name        string
	maxReceives int
	poll        time.Duration
	wake        *broadcast
	looks       atomic.Int64 // reads of the next visible time, for tests
}

var _ easel.Queue = (*Queue)(nil)

// Queue returns the queue named in opts, kept in the store's file. Queues of one Store
// with the same name share their in-process wake-ups.
func (s *Store) Queue(opts QueueOptions) *Queue {
	q := &Queue{s: s, name: opts.Name, maxReceives: opts.MaxReceives, poll: opts.PollInterval}
	if q.name == "" {
		q.name = DefaultQueueName
	}
	if q.maxReceives == 0 {
		q.maxReceives = DefaultMaxReceives
	}
	if q.poll <= 0 {
		q.poll = DefaultPollInterval
	}
	q.wake = s.signals.get(q.name)
	return q
}

// signals keeps one broadcast per queue name; its zero value is ready.
type signals struct {
	mu sync.Mutex
	m  map[string]*broadcast
}

func (s *signals) get(name string) *broadcast {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*broadcast{}
	}
	b, ok := s.m[name]
	if !ok {
		b = &broadcast{}
		s.m[name] = b
	}
	return b
}

// broadcast wakes every waiter at once: wait returns a channel that the next notify
// closes.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

func (b *broadcast) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}

// Send enqueues msg, visible after delay.
func (q *Queue) Send(ctx context.Context, msg easel.QueueMessage, delay time.Duration) error {
	if msg.JobID == "" {
		return easel.Errorf(easel.EInvalid, "A queue message needs a job id.")
	}
	now := time.Now()
	_, err := q.s.exec(ctx, `INSERT INTO queue (queue, job_id, grp, sent_at, visible_at, receive_count,
		receipt, dead) VALUES (?, ?, ?, ?, ?, 0, '', 0)`,
		q.name, msg.JobID, msg.Group, toMillis(now), toMillis(now.Add(max(delay, 0))))
	if err != nil {
		return dbError("send queue message", err)
	}
	// Waiting receivers look again: at the message, or at when it is due.
	q.wake.notify()
	return nil
}

// Receive waits up to wait for visible messages and returns at most max of them (1 to
// 10), each invisible for visibility. Messages already handed out MaxReceives times go
// to the dead-letter queue instead. While waiting it sleeps until a Send or Extend
// through this Store, the time the next message becomes visible, or the poll interval,
// whichever comes first: an idle queue costs one indexed read per poll interval.
func (q *Queue) Receive(ctx context.Context, n int, wait, visibility time.Duration) ([]*easel.Delivery, error) {
	n = min(maxBatch, max(n, 1))
	deadline := time.Now().Add(wait)
	for {
		woken := q.wake.wait() // before looking, so that no Send is missed
		next, ok, err := q.nextVisible(ctx)
		if err != nil {
			return nil, err
		}
		now := time.Now()
		if ok && next <= toMillis(now) {
			ds, err := q.take(ctx, false, n, visibility)
			if err != nil || len(ds) > 0 {
				return ds, err
			}
			continue // moved to the dead-letter queue, or taken by another receiver
		}
		left := deadline.Sub(now)
		if left <= 0 {
			return nil, nil
		}
		sleep := min(left, q.poll)
		if ok {
			sleep = min(sleep, fromMillis(next).Sub(now)+time.Millisecond)
		}
		timer := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-woken:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// nextVisible returns when the queue's next message becomes visible (Unix ms), and
// whether it has one at all.
func (q *Queue) nextVisible(ctx context.Context) (int64, bool, error) {
	q.looks.Add(1)
	var next sql.NullInt64
	err := q.s.readRow(ctx, `SELECT min(visible_at) FROM queue WHERE queue = ? AND dead = 0`, q.name).Scan(&next)
	if err != nil {
		return 0, false, dbError("look at queue", err)
	}
	return next.Int64, next.Valid, nil
}

// ReceiveDead returns up to max messages of the dead-letter queue, invisible for
// visibility. It does not wait.
func (q *Queue) ReceiveDead(ctx context.Context, n int, visibility time.Duration) ([]*easel.Delivery, error) {
	if q.maxReceives < 0 {
		return nil, nil
	}
	return q.take(ctx, true, min(maxBatch, max(n, 1)), visibility)
}

// The statements of take.
const (
	// takeSelect picks live messages fairly between groups (tenants): each group's
	// visible messages are numbered oldest first, and a message's turn is its number
	// plus its group's messages in flight, so a group with many messages out (or
	// many waiting) does not keep another group's one waiting, as SQS fair queues do.
	takeSelect = `WITH v AS (
			SELECT id, job_id, grp, sent_at, receive_count, visible_at,
				row_number() OVER (PARTITION BY grp ORDER BY visible_at, id) AS rn
			FROM queue WHERE queue = ?1 AND dead = 0 AND visible_at <= ?2),
		f AS (
			SELECT grp, count(*) AS n FROM queue
			WHERE queue = ?1 AND dead = 0 AND visible_at > ?2 AND receipt <> '' GROUP BY grp)
		SELECT v.id, v.job_id, v.grp, v.sent_at, v.receive_count FROM v LEFT JOIN f ON f.grp = v.grp
		ORDER BY coalesce(f.n, 0) + v.rn, v.visible_at, v.id LIMIT ?3`
	// takeSelectDead picks dead letters oldest first.
	takeSelectDead = `SELECT id, job_id, grp, sent_at, receive_count FROM queue
		WHERE queue = ?1 AND dead = 1 AND visible_at <= ?2 ORDER BY visible_at, id LIMIT ?3`
	takeReceive = `UPDATE queue SET receive_count = receive_count + 1, receipt = ?, visible_at = ? WHERE id = ?`
	takeBury    = `UPDATE queue SET dead = 1, receipt = '', visible_at = ? WHERE id = ?`
)

type queueRow struct {
	id      int64
	jobID   string
	group   string
	sentAt  int64
	receive int
}

// take receives up to n visible messages of the queue, or of its dead-letter queue,
// in one transaction. Live messages past MaxReceives move to the dead-letter queue
// instead of being returned.
func (q *Queue) take(ctx context.Context, dead bool, n int, visibility time.Duration) ([]*easel.Delivery, error) {
	// Prepared before the transaction: preparing needs the writer's one connection,
	// which the transaction holds.
	query := takeSelect
	if dead {
		query = takeSelectDead
	}
	sel, err := q.s.wstmts.get(ctx, query)
	if err != nil {
		return nil, dbError("prepare receive", err)
	}
	recv, err := q.s.wstmts.get(ctx, takeReceive)
	if err != nil {
		return nil, dbError("prepare receive", err)
	}
	bury, err := q.s.wstmts.get(ctx, takeBury)
	if err != nil {
		return nil, dbError("prepare receive", err)
	}
	token := newToken()
	now := time.Now()
	var out []*easel.Delivery
	err = q.s.inTx(ctx, "receive queue messages", func(tx *sql.Tx) error {
		rows, err := tx.StmtContext(ctx, sel).QueryContext(ctx, q.name, toMillis(now), n)
		if err != nil {
			return dbError("receive queue messages", err)
		}
		recv, bury := tx.StmtContext(ctx, recv), tx.StmtContext(ctx, bury)
		var found []queueRow
		for rows.Next() {
			var r queueRow
			if err := rows.Scan(&r.id, &r.jobID, &r.group, &r.sentAt, &r.receive); err != nil {
				rows.Close()
				return dbError("receive queue messages", err)
			}
			found = append(found, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dbError("receive queue messages", err)
		}
		for _, r := range found {
			if !dead && q.maxReceives > 0 && r.receive >= q.maxReceives {
				if _, err := bury.ExecContext(ctx, toMillis(now), r.id); err != nil {
					return dbError("move queue message to the dead-letter queue", err)
				}
				continue
			}
			if _, err := recv.ExecContext(ctx, token, toMillis(now.Add(max(visibility, 0))), r.id); err != nil {
				return dbError("receive queue message", err)
			}
			out = append(out, &easel.Delivery{
				QueueMessage: easel.QueueMessage{JobID: r.jobID, Group: r.group},
				Receipt:      strconv.FormatInt(r.id, 10) + "." + token,
				ReceiveCount: r.receive + 1,
				SentAt:       fromMillis(r.sentAt),
				Dead:         dead,
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// parseReceipt splits a receipt into the message's row id and its receive token.
func parseReceipt(receipt string) (int64, string, error) {
	idText, token, ok := strings.Cut(receipt, ".")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil || token == "" {
		return 0, "", easel.Errorf(easel.ENotFound, "Queue receipt %q is not one of this queue's.", receipt)
	}
	return id, token, nil
}

// Extend makes a received message invisible for visibility from now; 0 hands it back
// and wakes waiting receivers. ENotFound if it was deleted or received again since.
func (q *Queue) Extend(ctx context.Context, d *easel.Delivery, visibility time.Duration) error {
	id, token, err := parseReceipt(d.Receipt)
	if err != nil {
		return err
	}
	res, err := q.s.exec(ctx, `UPDATE queue SET visible_at = ? WHERE id = ? AND receipt = ? AND queue = ?`,
		toMillis(time.Now().Add(max(visibility, 0))), id, token, q.name)
	if err != nil {
		return dbError("extend queue message", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return dbError("extend queue message", err)
	} else if n == 0 {
		return easel.Errorf(easel.ENotFound, "The queue message was deleted or received again.")
	}
	if visibility <= 0 {
		q.wake.notify()
	}
	return nil
}

// ReleaseInFlight makes every received message of the queue visible again at once and
// returns how many there were. Call it only when no receiver is left (a restarted
// process that holds LockWorkers): their receivers are gone, so waiting out their
// visibility timeouts would only delay the jobs.
func (q *Queue) ReleaseInFlight(ctx context.Context) (int, error) {
	now := toMillis(time.Now())
	res, err := q.s.exec(ctx, `UPDATE queue SET visible_at = ? WHERE queue = ? AND dead = 0 AND receipt <> '' AND visible_at > ?`,
		now, q.name, now)
	if err != nil {
		return 0, dbError("release queue messages", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, dbError("release queue messages", err)
	}
	if n > 0 {
		q.wake.notify()
	}
	return int(n), nil
}

// Delete removes a received message, live or dead. A stale receipt (the message was
// received again since) deletes nothing, and is not an error; nor is a deleted message.
func (q *Queue) Delete(ctx context.Context, d *easel.Delivery) error {
	id, token, err := parseReceipt(d.Receipt)
	if err != nil {
		return err
	}
	if _, err := q.s.exec(ctx, `DELETE FROM queue WHERE id = ? AND receipt = ? AND queue = ?`, id, token, q.name); err != nil {
		return dbError("delete queue message", err)
	}
	return nil
}

// Ping checks that the queue's table is there.
func (q *Queue) Ping(ctx context.Context) error {
	var n int
	if err := q.s.readRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM queue LIMIT 1)`).Scan(&n); err != nil {
		return dbError("ping queue", err)
	}
	return nil
}

// QueueStats counts a queue's messages, for metrics and tests.
type QueueStats struct {
	Visible, Invisible, Dead int
}

// Stats counts the queue's messages now.
func (q *Queue) Stats(ctx context.Context) (QueueStats, error) {
	var st QueueStats
	err := q.s.readRow(ctx, `SELECT
			coalesce(sum(dead = 0 AND visible_at <= ?1), 0),
			coalesce(sum(dead = 0 AND visible_at > ?1), 0),
			coalesce(sum(dead = 1), 0)
		FROM queue WHERE queue = ?2`, toMillis(time.Now()), q.name).Scan(&st.Visible, &st.Invisible, &st.Dead)
	if err != nil {
		return st, dbError("count queue messages", err)
	}
	return st, nil
}

// String names the queue, for logs.
func (q *Queue) String() string { return fmt.Sprintf("sqlite queue %q in %s", q.name, q.s.path) }
