package sqlitestore_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/sqlitestore"
)

// TestJobPlans checks that every job query walks its index, with no sort step and no
// scan of the table.
func TestJobPlans(t *testing.T) {
	s := open(t, tempPath(t))
	for name, want := range map[string]string{
		"list":        "jobs_user",
		"list-active": "jobs_active",
		"count-user":  "jobs_active",
		"count-all":   "jobs_queued",
		"due-queued":  "jobs_queued",
		"due-lease":   "jobs_lease",
		"due-notify":  "jobs_notify",
		"sweep":       "jobs_expires",
	} {
		plan, err := sqlitestore.ExplainJobs(t.Context(), s, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(plan, want) || strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN jobs\n") || strings.HasSuffix(plan, "SCAN jobs") {
			t.Errorf("%s query plan:\n%s\nwant a search of %s without a sort or a table scan", name, plan, want)
		}
	}
}

// TestExpiredJobsSwept checks that CreateJob deletes expired jobs, so retention needs no
// sweeper.
func TestExpiredJobsSwept(t *testing.T) {
	ctx := t.Context()
	path := tempPath(t)
	s := open(t, path)
	old := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	for range 5 {
		j := &easel.Job{ID: easel.NewID(), UserID: "user-a", Status: easel.JobQueued, CreatedAt: old,
			QueuedAt: old, ExpiresAt: old.Add(time.Minute)}
		if err := s.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	j := &easel.Job{ID: easel.NewID(), UserID: "user-a", Status: easel.JobQueued, CreatedAt: old, QueuedAt: old}
	if err := s.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := rawDB(t, path).QueryRowContext(ctx, "SELECT count(*) FROM jobs").Scan(&n); err != nil || n != 1 {
		t.Errorf("jobs left after a CreateJob = %d, %v; want 1 (expired ones deleted)", n, err)
	}
}

// cpuPerOp reports the CPU time used since start per op, which a busy machine does not
// inflate as it does ns/op (the wall clock).
func cpuPerOp(b *testing.B, start int64) {
	if used := cpuTime() - start; used > 0 && start > 0 {
		b.ReportMetric(float64(used)/float64(b.N), "cpu-ns/op")
	}
}

func benchJob(i int, now time.Time) *easel.Job {
	seed := uint64(i)
	j := &easel.Job{
		ID: easel.NewID(), UserID: fmt.Sprint("user-", i%10), Kind: easel.JobGenerate,
		Spec: easel.JobSpec{Generate: &easel.GenerateRequest{Prompt: "a lighthouse at dusk, oil on canvas",
			Model: "amazon.nova-canvas-v1:0", Width: 1024, Height: 1024, N: 1, Seed: &seed, OutputFormat: "png"}},
		CreatedAt: now, Status: easel.JobQueued, QueuedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour),
	}
	j.Append(easel.EventJobQueued, now)
	return j
}

// BenchmarkCreateJob measures storing a new queued job.
func BenchmarkCreateJob(b *testing.B) {
	s := open(b, tempPath(b))
	now := time.Now()
	b.ReportAllocs()
	start := cpuTime()
	for i := 0; b.Loop(); i++ {
		if err := s.CreateJob(b.Context(), benchJob(i, now)); err != nil {
			b.Fatal(err)
		}
	}
	cpuPerOp(b, start)
}

// BenchmarkUpdateJob measures one compare-and-swap write of a job (a claim, a renewal,
// an event), among 10,000 stored jobs.
func BenchmarkUpdateJob(b *testing.B) {
	s := open(b, tempPath(b))
	now := time.Now()
	jobs := make([]*easel.Job, 10000)
	for i := range jobs {
		jobs[i] = benchJob(i, now)
		if err := s.CreateJob(b.Context(), jobs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	start := cpuTime()
	for i := 0; b.Loop(); i++ {
		j := jobs[i%len(jobs)]
		j.Attempts++
		if j.Status == easel.JobQueued {
			j.Status, j.Lease = easel.JobRunning, &easel.JobLease{Owner: "bench", Token: "t", Until: now.Add(time.Hour)}
		} else {
			j.Status, j.Lease = easel.JobQueued, nil
		}
		j.Append(easel.EventJobRunning, now)
		if err := s.UpdateJob(b.Context(), j); err != nil {
			b.Fatal(err)
		}
	}
	cpuPerOp(b, start)
}

// BenchmarkDueJobs measures one reaper poll (DueLease, a page of 100) among 10,000 jobs,
// 1,000 of them with an ended lease.
func BenchmarkDueJobs(b *testing.B) {
	s := open(b, tempPath(b))
	now := time.Now()
	for i := range 10000 {
		j := benchJob(i, now)
		if i%10 == 0 {
			j.Status, j.Lease = easel.JobRunning, &easel.JobLease{Owner: "bench", Token: "t", Until: now.Add(-time.Duration(i) * time.Millisecond)}
		}
		if err := s.CreateJob(b.Context(), j); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		jobs, err := s.DueJobs(b.Context(), easel.DueLease, now, 100)
		if err != nil || len(jobs) != 100 {
			b.Fatalf("DueJobs = %d jobs, %v", len(jobs), err)
		}
	}
	cpuPerOp(b, start)
}
