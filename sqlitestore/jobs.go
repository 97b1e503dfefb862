package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/easelhq/easel"
)

// schemaJobs is schema step 2 (issue 8): jobs, webhook secrets and the job queue.
//
// A job is stored whole as JSON (column job); the other columns are derived from it on
// every write, for the indexes: queued_at only while queued, lease_until only while
// running and notify_due only while ended with events to deliver, so that each partial
// index holds exactly the jobs one kind of background work looks for (the same sparse
// indexes as the DynamoDB adapter's gsi3). version is the compare-and-swap counter;
// the JSON's own Version field is ignored on reads.
const schemaJobs = `
CREATE TABLE jobs (
	id          TEXT PRIMARY KEY,
	user_id     TEXT NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
	created_at  INTEGER NOT NULL, -- Unix milliseconds, as every time below
	queued_at   INTEGER,          -- while queued
	lease_until INTEGER,          -- while running
	notify_due  INTEGER,          -- while ended, with events to deliver
	expires_at  INTEGER,          -- retention: absent once passed
	version     INTEGER NOT NULL,
	job         TEXT NOT NULL     -- the whole job, JSON
) STRICT;
-- A user's jobs, newest first (keyset pagination, as the gallery).
CREATE INDEX jobs_user ON jobs (user_id, created_at DESC, id DESC);
-- A user's queued and running jobs: the page's list, and the per-user queue cap.
CREATE INDEX jobs_active ON jobs (user_id, created_at DESC, id DESC) WHERE status IN ('queued', 'running');
-- Background work, oldest first: the reaper's and the notifier's.
CREATE INDEX jobs_queued ON jobs (queued_at, id) WHERE queued_at IS NOT NULL;
CREATE INDEX jobs_lease ON jobs (lease_until, id) WHERE lease_until IS NOT NULL;
CREATE INDEX jobs_notify ON jobs (notify_due, id) WHERE notify_due IS NOT NULL;
CREATE INDEX jobs_expires ON jobs (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE webhook_secrets (
	user_id        TEXT PRIMARY KEY,
	key            TEXT NOT NULL,
	previous       TEXT NOT NULL,
	previous_until INTEGER NOT NULL,
	created_at     INTEGER NOT NULL,
	version        INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
` + schemaQueue

// live is the condition that hides jobs past their expiry; its parameter is now.
const live = `(expires_at IS NULL OR expires_at > ?)`

// sweepJobsQuery deletes expired jobs, oldest first; parameters: now, how many.
const sweepJobsQuery = `DELETE FROM jobs WHERE id IN (SELECT id FROM jobs
	WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`

const insertJobQuery = `INSERT INTO jobs (id, user_id, status, created_at, queued_at,
	lease_until, notify_due, expires_at, version, job) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`

// expiredSweep bounds how many expired jobs one CreateJob deletes.
const expiredSweep = 16

// jobRow is what is stored for a job: its JSON and the columns derived from it.
type jobRow struct {
	status                       string
	queued, lease, notify, expir sql.NullInt64
	data                         string
}

// encodeJob checks j and returns what is stored for it, with version as the JSON's.
func encodeJob(j *easel.Job, version int64) (*jobRow, error) {
	if err := j.Check(); err != nil {
		return nil, err
	}
	c := *j
	c.Version = version
	data, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	r := &jobRow{status: string(j.Status), data: string(data)}
	switch {
	case j.Status == easel.JobQueued:
		r.queued = millis(j.QueuedAt)
	case j.Status == easel.JobRunning:
		r.lease = millis(j.Lease.Until)
	case j.Status.Terminal() && !j.Notify.DueAt.IsZero():
		r.notify = millis(j.Notify.DueAt)
	}
	if !j.ExpiresAt.IsZero() {
		r.expir = millis(j.ExpiresAt)
	}
	return r, nil
}

func millis(t time.Time) sql.NullInt64 { return sql.NullInt64{Int64: toMillis(t), Valid: true} }

func decodeJob(version int64, data string) (*easel.Job, error) {
	var j easel.Job
	if err := json.Unmarshal([]byte(data), &j); err != nil {
		return nil, fmt.Errorf("decode job: %w", err)
	}
	j.Version = version
	return &j, nil
}

func scanJob(row scanner) (*easel.Job, error) {
	var (
		version int64
		data    string
	)
	if err := row.Scan(&version, &data); err != nil {
		return nil, err
	}
	return decodeJob(version, data)
}

func jobNotFound(id string) error { return easel.Errorf(easel.ENotFound, "No job %q.", id) }

// CreateJob stores a new job and sets its Version to 1. EConflict if the id exists;
// EInvalid if the job fails easel.Job.Check. It also deletes a few expired jobs, in the
// same transaction, so retention needs no sweeper.
func (s *Store) CreateJob(ctx context.Context, j *easel.Job) error {
	r, err := encodeJob(j, 1)
	if err != nil {
		return err
	}
	// Prepared before the transaction: preparing needs the writer's one connection,
	// which the transaction holds.
	sweep, err := s.wstmts.get(ctx, sweepJobsQuery)
	if err != nil {
		return dbError("prepare create job", err)
	}
	insert, err := s.wstmts.get(ctx, insertJobQuery)
	if err != nil {
		return dbError("prepare create job", err)
	}
	now := toMillis(time.Now())
	err = s.inTx(ctx, "create job", func(tx *sql.Tx) error {
		if _, err := tx.StmtContext(ctx, sweep).ExecContext(ctx, now, expiredSweep); err != nil {
			return dbError("create job: delete expired jobs", err)
		}
		_, err := tx.StmtContext(ctx, insert).ExecContext(ctx,
			j.ID, j.UserID, r.status, toMillis(j.CreatedAt), r.queued, r.lease, r.notify, r.expir, r.data)
		if err != nil {
			return dbError(fmt.Sprintf("create job %s", j.ID), err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	j.Version = 1
	return nil
}

// UpdateJob replaces the stored job if its Version and owner match, then increments
// j.Version. EConflict if the stored Version differs, ENotFound if the job is gone,
// expired or another user's, EInvalid if it fails easel.Job.Check.
func (s *Store) UpdateJob(ctx context.Context, j *easel.Job) error {
	r, err := encodeJob(j, j.Version+1)
	if err != nil {
		return err
	}
	now := toMillis(time.Now())
	res, err := s.exec(ctx, `UPDATE jobs SET status = ?, created_at = ?, queued_at = ?, lease_until = ?,
		notify_due = ?, expires_at = ?, version = version + 1, job = ?
		WHERE id = ? AND user_id = ? AND version = ? AND `+live,
		r.status, toMillis(j.CreatedAt), r.queued, r.lease, r.notify, r.expir, r.data,
		j.ID, j.UserID, j.Version, now)
	if err != nil {
		return dbError(fmt.Sprintf("update job %s", j.ID), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbError(fmt.Sprintf("update job %s", j.ID), err)
	}
	if n == 1 {
		j.Version++
		return nil
	}
	// Tell a lost race from a job that is not there (for this user).
	var stored int64
	err = s.readRow(ctx, `SELECT version FROM jobs WHERE id = ? AND user_id = ? AND `+live,
		j.ID, j.UserID, now).Scan(&stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return jobNotFound(j.ID)
	case err != nil:
		return dbError(fmt.Sprintf("update job %s", j.ID), err)
	}
	return easel.Errorf(easel.EConflict, "Job %s changed meanwhile (version %d, not %d).", j.ID, stored, j.Version)
}

// GetJob returns the user's job. ENotFound otherwise.
func (s *Store) GetJob(ctx context.Context, userID, id string) (*easel.Job, error) {
	row := s.readRow(ctx, `SELECT version, job FROM jobs WHERE id = ? AND user_id = ? AND `+live,
		id, userID, toMillis(time.Now()))
	return oneJob(row, id)
}

// LookupJob returns the job with that id whatever its owner. ENotFound if none.
func (s *Store) LookupJob(ctx context.Context, id string) (*easel.Job, error) {
	row := s.readRow(ctx, `SELECT version, job FROM jobs WHERE id = ? AND `+live, id, toMillis(time.Now()))
	return oneJob(row, id)
}

func oneJob(row *sql.Row, id string) (*easel.Job, error) {
	j, err := scanJob(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, jobNotFound(id)
	}
	if err != nil {
		return nil, dbError(fmt.Sprintf("get job %s", id), err)
	}
	return j, nil
}

// ListJobs returns a page of the user's jobs, newest first, by keyset pagination over
// jobs_user, or over jobs_active when the filter asks only for queued or running jobs.
// A Limit outside 1..easel.MaxPageSize means easel.MaxPageSize.
func (s *Store) ListJobs(ctx context.Context, userID string, opt easel.JobListOptions) ([]*easel.Job, *easel.PageCursor, error) {
	limit := opt.Limit
	if limit < 1 || limit > easel.MaxPageSize {
		limit = easel.MaxPageSize
	}
	sts := statusSet(opt.Statuses)
	args := []any{userID, toMillis(time.Now())}
	for _, st := range sts {
		args = append(args, string(st))
	}
	if opt.After != nil {
		args = append(args, toMillis(opt.After.CreatedAt), opt.After.ID)
	}
	args = append(args, limit+1)
	jobs, err := s.queryJobs(ctx, "list jobs", listJobsQuery(sts, opt.After != nil), args...)
	if err != nil {
		return nil, nil, err
	}
	if len(jobs) <= limit {
		return jobs, nil, nil
	}
	jobs = jobs[:limit]
	last := jobs[limit-1]
	return jobs, &easel.PageCursor{CreatedAt: last.CreatedAt, ID: last.ID}, nil
}

// listJobsQuery returns the query of a page of a user's jobs with the given statuses
// (all when none), from a cursor or not. Its parameters: user, now, the statuses, the
// cursor's time and id, the limit.
func listJobsQuery(sts []easel.JobStatus, after bool) string {
	var b strings.Builder
	b.WriteString(`SELECT version, job FROM jobs WHERE user_id = ? AND ` + live)
	if len(sts) > 0 {
		active := true
		b.WriteString(` AND status IN (`)
		for i, st := range sts {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("?")
			active = active && !st.Terminal()
		}
		b.WriteString(`)`)
		if active {
			// The partial index's own condition, word for word, lets SQLite use it.
			b.WriteString(` AND status IN ('queued', 'running')`)
		}
	}
	if after {
		b.WriteString(` AND (created_at, id) < (?, ?)`)
	}
	b.WriteString(` ORDER BY created_at DESC, id DESC LIMIT ?`)
	return b.String()
}

// statusSet returns the distinct valid statuses of sts, in a fixed order (so that the
// query text, and its prepared statement, is the same for the same set). All five
// statuses are no filter at all.
func statusSet(sts []easel.JobStatus) []easel.JobStatus {
	var out []easel.JobStatus
	for _, st := range []easel.JobStatus{easel.JobQueued, easel.JobRunning, easel.JobSucceeded, easel.JobFailed, easel.JobCanceled} {
		for _, want := range sts {
			if want == st {
				out = append(out, st)
				break
			}
		}
	}
	if len(out) == 5 {
		return nil
	}
	if len(out) == 0 && len(sts) > 0 {
		// Only unknown statuses: nothing matches.
		return []easel.JobStatus{"none"}
	}
	return out
}

// The CountQueued queries: everyone's queued jobs over jobs_queued, a user's over
// jobs_active (a few dozen rows at most: the per-user queue is capped).
const (
	// Everyone's count reads the jobs_queued index alone: queued_at is set only while
	// queued and expires_at only once ended, so a queued job is always live (and the
	// row lookups for expires_at were three quarters of an async POST's work).
	countQueuedQuery = `SELECT count(*) FROM (SELECT 1 FROM jobs
		WHERE queued_at IS NOT NULL AND queued_at < ? LIMIT ?)`
	countUserQueuedQuery = `SELECT count(*) FROM (SELECT 1 FROM jobs
		WHERE user_id = ? AND status IN ('queued', 'running') AND queued_at < ? AND ` + live + ` LIMIT ?)`
)

// CountQueued counts queued jobs (the user's, or everyone's when userID is empty)
// queued before the given time (any time when zero), up to limit (none when <= 0).
func (s *Store) CountQueued(ctx context.Context, userID string, before time.Time, limit int) (int, error) {
	cutoff := int64(math.MaxInt64)
	if !before.IsZero() {
		cutoff = toMillis(before)
	}
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	now := toMillis(time.Now())
	var n int
	var err error
	if userID == "" {
		err = s.readRow(ctx, countQueuedQuery, cutoff, limit).Scan(&n)
	} else {
		err = s.readRow(ctx, countUserQueuedQuery, userID, cutoff, now, limit).Scan(&n)
	}
	if err != nil {
		return 0, dbError("count queued jobs", err)
	}
	return n, nil
}

// dueColumns maps each kind of background work to its derived column.
var dueColumns = map[easel.JobDue]string{
	easel.DueQueued: "queued_at",
	easel.DueLease:  "lease_until",
	easel.DueNotify: "notify_due",
}

// DueJobs returns up to limit jobs due for the given work strictly before the given
// time, oldest first (then by id), from the work's partial index.
func (s *Store) DueJobs(ctx context.Context, due easel.JobDue, before time.Time, limit int) ([]*easel.Job, error) {
	col, ok := dueColumns[due]
	if !ok {
		return nil, easel.Errorf(easel.EInvalid, "Unknown kind of due jobs %q.", due)
	}
	if limit < 1 {
		return nil, nil
	}
	return s.queryJobs(ctx, "list due jobs", dueJobsQuery(col), toMillis(before), toMillis(time.Now()), limit)
}

// dueJobsQuery is the DueJobs query on a derived column; parameters: before, now, limit.
func dueJobsQuery(col string) string {
	return `SELECT version, job FROM jobs WHERE ` + col + ` < ? AND ` + live + ` ORDER BY ` + col + `, id LIMIT ?`
}

func (s *Store) queryJobs(ctx context.Context, what, query string, args ...any) ([]*easel.Job, error) {
	rows, err := s.read(ctx, query, args...)
	if err != nil {
		return nil, dbError(what, err)
	}
	defer rows.Close()
	var jobs []*easel.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, dbError(what, err)
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(what, err)
	}
	return jobs, nil
}

// WebhookSecret returns the user's webhook signing secret. ENotFound if none.
func (s *Store) WebhookSecret(ctx context.Context, userID string) (*easel.WebhookSecret, error) {
	var (
		w              = easel.WebhookSecret{UserID: userID}
		until, created int64
	)
	err := s.readRow(ctx, `SELECT key, previous, previous_until, created_at, version
		FROM webhook_secrets WHERE user_id = ?`, userID).Scan(&w.Key, &w.Previous, &until, &created, &w.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, easel.Errorf(easel.ENotFound, "No webhook secret yet.")
	}
	if err != nil {
		return nil, dbError("get webhook secret", err)
	}
	if until != 0 {
		w.PreviousUntil = fromMillis(until)
	}
	w.CreatedAt = fromMillis(created)
	return &w, nil
}

// PutWebhookSecret stores the user's secret if the stored Version equals w.Version (0:
// none yet), then increments w.Version. EConflict otherwise.
func (s *Store) PutWebhookSecret(ctx context.Context, w *easel.WebhookSecret) error {
	if w.UserID == "" || w.Key == "" {
		return easel.Errorf(easel.EInvalid, "A webhook secret needs a user and a key.")
	}
	var until int64
	if !w.PreviousUntil.IsZero() {
		until = toMillis(w.PreviousUntil)
	}
	var res sql.Result
	var err error
	if w.Version == 0 {
		res, err = s.exec(ctx, `INSERT INTO webhook_secrets (user_id, key, previous, previous_until,
			created_at, version) VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (user_id) DO NOTHING`,
			w.UserID, w.Key, w.Previous, until, toMillis(w.CreatedAt))
	} else {
		res, err = s.exec(ctx, `UPDATE webhook_secrets SET key = ?, previous = ?, previous_until = ?,
			created_at = ?, version = version + 1 WHERE user_id = ? AND version = ?`,
			w.Key, w.Previous, until, toMillis(w.CreatedAt), w.UserID, w.Version)
	}
	if err != nil {
		return dbError("put webhook secret", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return dbError("put webhook secret", err)
	} else if n == 0 {
		return easel.Errorf(easel.EConflict, "The webhook secret changed meanwhile.")
	}
	w.Version++
	return nil
}
