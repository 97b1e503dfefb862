package easel_test

import (
	"testing"
	"time"

	"github.com/easelhq/easel"
)

func TestJobAsOf(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	j := &easel.Job{ID: "j", UserID: "u", Status: easel.JobQueued, Filtered: 1}
	j.Append(easel.EventJobQueued, t0)
	j.Append(easel.EventJobRunning, t0.Add(time.Second))
	j.Append(easel.EventImageReady, t0.Add(2*time.Second)).ImageID = "a"
	j.Append(easel.EventJobQueued, t0.Add(3*time.Second)) // handed back
	j.Append(easel.EventJobRunning, t0.Add(4*time.Second))
	j.Append(easel.EventImageReady, t0.Add(5*time.Second)).ImageID = "b"
	end := j.Append(easel.EventJobFailed, t0.Add(6*time.Second))
	end.Error = &easel.JobError{Code: "model_error", Message: "x"}

	if got := j.LastSeq(); got != 7 {
		t.Fatalf("LastSeq() = %d, want 7", got)
	}
	tests := []struct {
		seq     int
		status  easel.JobStatus
		images  int
		started time.Time
	}{
		{0, easel.JobQueued, 0, time.Time{}},
		{1, easel.JobQueued, 0, time.Time{}},
		{2, easel.JobRunning, 0, t0.Add(time.Second)},
		{3, easel.JobRunning, 1, t0.Add(time.Second)},
		{4, easel.JobQueued, 1, t0.Add(time.Second)},
		{6, easel.JobRunning, 2, t0.Add(time.Second)},
		{7, easel.JobFailed, 2, t0.Add(time.Second)},
	}
	for _, tc := range tests {
		got := j.AsOf(tc.seq)
		if got.Status != tc.status || len(got.ImageIDs) != tc.images || !got.StartedAt.Equal(tc.started) || len(got.Events) != tc.seq {
			t.Errorf("AsOf(%d) = status %s, %d images, started %v, %d events; want %s, %d, %v, %d",
				tc.seq, got.Status, len(got.ImageIDs), got.StartedAt, len(got.Events), tc.status, tc.images, tc.started, tc.seq)
		}
	}
	last := j.AsOf(7)
	if last.Error == nil || last.Error.Code != "model_error" || !last.FinishedAt.Equal(t0.Add(6*time.Second)) || last.Filtered != 1 {
		t.Errorf("AsOf(7) = error %v, finished %v, filtered %d", last.Error, last.FinishedAt, last.Filtered)
	}
	if c := j.Clone(); &c.Events[0] == &j.Events[0] {
		t.Error("Clone shares the event log")
	}
}

func TestJobStatus(t *testing.T) {
	for s, terminal := range map[easel.JobStatus]bool{
		easel.JobQueued: false, easel.JobRunning: false,
		easel.JobSucceeded: true, easel.JobFailed: true, easel.JobCanceled: true,
	} {
		if s.Terminal() != terminal || !s.Valid() {
			t.Errorf("%s: Terminal() = %v, Valid() = %v", s, s.Terminal(), s.Valid())
		}
		if terminal != (easel.TerminalEvent(s) != "") || terminal != easel.IsTerminalEvent(easel.TerminalEvent(s)) {
			t.Errorf("TerminalEvent(%s) = %q", s, easel.TerminalEvent(s))
		}
	}
	if easel.JobStatus("done").Valid() {
		t.Error(`JobStatus("done").Valid() = true`)
	}
}

func TestJobCheck(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	ok := func() *easel.Job {
		return &easel.Job{ID: "j", UserID: "u", Status: easel.JobQueued, QueuedAt: t0}
	}
	tests := []struct {
		name  string
		spoil func(j *easel.Job)
		valid bool
	}{
		{"queued", func(j *easel.Job) {}, true},
		{"running", func(j *easel.Job) { j.Status, j.Lease = easel.JobRunning, &easel.JobLease{Until: t0} }, true},
		{"ended", func(j *easel.Job) { j.Status, j.QueuedAt = easel.JobCanceled, time.Time{} }, true},
		{"no id", func(j *easel.Job) { j.ID = "" }, false},
		{"no user", func(j *easel.Job) { j.UserID = "" }, false},
		{"bad status", func(j *easel.Job) { j.Status = "done" }, false},
		{"queued without time", func(j *easel.Job) { j.QueuedAt = time.Time{} }, false},
		{"running without lease", func(j *easel.Job) { j.Status = easel.JobRunning }, false},
		{"lease without end", func(j *easel.Job) { j.Status, j.Lease = easel.JobRunning, &easel.JobLease{} }, false},
	}
	for _, tc := range tests {
		j := ok()
		tc.spoil(j)
		err := j.Check()
		if tc.valid && err != nil || !tc.valid && easel.ErrorCode(err) != easel.EInvalid {
			t.Errorf("Check(%s) = %v, want valid %v", tc.name, err, tc.valid)
		}
	}
}
