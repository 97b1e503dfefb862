package sqlitestore

import (
	"context"
	"fmt"
	"strings"

	"github.com/easelhq/easel"
)

// ExplainList returns SQLite's plan of the gallery query with a cursor.
func ExplainList(ctx context.Context, s *Store) (string, error) {
	rows, err := s.reader.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT `+imageColumns+` FROM images
		WHERE user_id = ? AND status = 'ready' AND (created_at, id) < (?, ?)
		ORDER BY created_at DESC, id DESC LIMIT ?`, "u", 0, "", 10)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", err
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "\n"), rows.Err()
}

// jobQueries are the job queries whose plans TestJobPlans checks, by name.
var jobQueries = map[string]struct {
	query string
	args  []any
}{
	"list":        {listJobsQuery(nil, true), []any{"u", 0, 0, "", 10}},
	"list-active": {listJobsQuery([]easel.JobStatus{easel.JobQueued}, true), []any{"u", 0, "queued", 0, "", 10}},
	"count-user":  {countUserQueuedQuery, []any{"u", 0, 0, 10}},
	"count-all":   {countQueuedQuery, []any{0, 0, 10}},
	"due-queued":  {dueJobsQuery("queued_at"), []any{0, 0, 10}},
	"due-lease":   {dueJobsQuery("lease_until"), []any{0, 0, 10}},
	"due-notify":  {dueJobsQuery("notify_due"), []any{0, 0, 10}},
	"sweep":       {sweepJobsQuery, []any{0, 10}},
}

// ExplainJobs returns SQLite's plan of the named job query.
func ExplainJobs(ctx context.Context, s *Store, name string) (string, error) {
	q, ok := jobQueries[name]
	if !ok {
		return "", fmt.Errorf("no job query %q", name)
	}
	return explain(ctx, s, q.query, q.args...)
}

func explain(ctx context.Context, s *Store, query string, args ...any) (string, error) {
	rows, err := s.reader.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", err
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "\n"), rows.Err()
}

// QueueLooks returns how many times q's waiting receivers looked at the file.
func QueueLooks(q *Queue) int64 { return q.looks.Load() }
