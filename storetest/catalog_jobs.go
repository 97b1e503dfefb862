package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easelhq/easel"
)

// jobTests are the JobCatalog cases, run by RunJobCatalogTests and RunCatalogTests.
var jobTests = []struct {
	name string
	fn   func(t *testing.T, c easel.JobCatalog)
}{
	{"Jobs/Create", testCreateJob},
	{"Jobs/Invalid", testInvalidJob},
	{"Jobs/OtherUser", testJobOtherUser},
	{"Jobs/Update", testUpdateJob},
	{"Jobs/UpdateRace", testUpdateJobRace},
	{"Jobs/UpdateNoLostWrites", testUpdateJobNoLostWrites},
	{"Jobs/ListOrder", testListJobsOrder},
	{"Jobs/ListPages", testListJobsPages},
	{"Jobs/ListStatuses", testListJobsStatuses},
	{"Jobs/ListFollowsStatus", testListJobsFollowsStatus},
	{"Jobs/CountQueued", testCountQueued},
	{"Jobs/DueQueued", testDueQueued},
	{"Jobs/DueLease", testDueLease},
	{"Jobs/DueNotify", testDueNotify},
	{"Jobs/DueMoves", testDueMoves},
	{"Jobs/Expired", testExpiredJob},
	{"WebhookSecret/Put", testWebhookSecret},
	{"WebhookSecret/Race", testWebhookSecretRace},
}

// RunJobCatalogTests runs the JobCatalog cases of the conformance suite (RunCatalogTests
// runs them too). newCatalog returns a fresh, empty catalog (its cleanup registered
// with t.Cleanup); it is called once per subtest.
func RunJobCatalogTests(t *testing.T, newCatalog func(t *testing.T) easel.JobCatalog) {
	t.Helper()
	for _, tc := range jobTests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newCatalog(t))
		})
	}
}

// newJob returns a queued job of user with every field a queued job has set.
func newJob(user string, created time.Time) *easel.Job {
	seed := uint64(1<<63 + 99) // past int64, as in newImage
	cfg := 6.5
	j := &easel.Job{
		ID:     easel.NewID(),
		UserID: user,
		Kind:   easel.JobGenerate,
		Spec: easel.JobSpec{
			Generate: &easel.GenerateRequest{
				Prompt: "a lighthouse at dusk, oil on canvas", NegativePrompt: "blurry",
				Model: "amazon.nova-canvas-v1:0", Width: 1024, Height: 768, N: 2, Seed: &seed,
				CFGScale: &cfg, Quality: "premium", OutputFormat: "png",
			},
			Webhook:       "https://hooks.example.com/easel",
			WebhookEvents: []string{easel.EventJobSucceeded, easel.EventJobFailed},
		},
		CreatedAt: created,
		Status:    easel.JobQueued,
		QueuedAt:  created,
		ExpiresAt: created.Add(30 * 24 * time.Hour),
	}
	j.Append(easel.EventJobQueued, created)
	return j
}

// claim moves a queued job to running with a lease until until, as a worker does.
func claim(j *easel.Job, at, until time.Time) {
	j.Status = easel.JobRunning
	if j.StartedAt.IsZero() {
		j.StartedAt = at
	}
	j.Attempts++
	j.Lease = &easel.JobLease{Owner: "instance-1", Token: easel.NewID(), Until: until}
	j.Append(easel.EventJobRunning, at)
}

// finish ends a running job with status st.
func finish(j *easel.Job, st easel.JobStatus, at time.Time) {
	j.Status = st
	j.FinishedAt = at
	j.Lease = nil
	ev := j.Append(easel.TerminalEvent(st), at)
	if st == easel.JobFailed {
		j.Error = &easel.JobError{Code: easel.EModelError, Message: "The model failed."}
		ev.Error = j.Error
	}
}

// canonJob returns a copy of j with every time in UTC and empty slices nil, so that
// reflect.DeepEqual compares what a backend must keep.
func canonJob(j *easel.Job) *easel.Job {
	c := j.Clone()
	c.CreatedAt, c.StartedAt, c.FinishedAt = c.CreatedAt.UTC(), c.StartedAt.UTC(), c.FinishedAt.UTC()
	c.QueuedAt, c.NotBefore, c.ExpiresAt = c.QueuedAt.UTC(), c.NotBefore.UTC(), c.ExpiresAt.UTC()
	c.Notify.DueAt = c.Notify.DueAt.UTC()
	for _, l := range []*easel.JobLease{c.Lease, c.Notify.Lease} {
		if l != nil {
			l.Until = l.Until.UTC()
		}
	}
	for i := range c.Events {
		c.Events[i].At = c.Events[i].At.UTC()
	}
	if len(c.Events) == 0 {
		c.Events = nil
	}
	if len(c.ImageIDs) == 0 {
		c.ImageIDs = nil
	}
	if len(c.Spec.WebhookEvents) == 0 {
		c.Spec.WebhookEvents = nil
	}
	return c
}

func checkJob(t *testing.T, call string, got, want *easel.Job) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s = nil, want job %s", call, want.ID)
	}
	if g, w := canonJob(got), canonJob(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s =\n\t%+v\nwant\n\t%+v", call, g, w)
	}
}

func createJob(t *testing.T, c easel.JobCatalog, j *easel.Job) {
	t.Helper()
	checkCode(t, "CreateJob", c.CreateJob(t.Context(), j), "")
}

func updateJob(t *testing.T, c easel.JobCatalog, j *easel.Job) {
	t.Helper()
	checkCode(t, "UpdateJob", c.UpdateJob(t.Context(), j), "")
}

func jobIDs(jobs []*easel.Job) []string {
	s := make([]string, len(jobs))
	for i, j := range jobs {
		s[i] = j.ID
	}
	return s
}

func testCreateJob(t *testing.T, c easel.JobCatalog) {
	ctx := t.Context()
	j := newJob("user-a", baseTime())
	j.Version = 7 // CreateJob sets it to 1 whatever it was
	createJob(t, c, j)
	if j.Version != 1 {
		t.Errorf("CreateJob set Version = %d, want 1", j.Version)
	}
	got, err := c.GetJob(ctx, j.UserID, j.ID)
	checkCode(t, "GetJob", err, "")
	checkJob(t, "GetJob", got, j)
	got, err = c.LookupJob(ctx, j.ID)
	checkCode(t, "LookupJob", err, "")
	checkJob(t, "LookupJob", got, j)

	// Same id, any owner: conflict, and the first job stays.
	dup := newJob("user-b", baseTime().Add(time.Minute))
	dup.ID = j.ID
	checkCode(t, "CreateJob(same id)", c.CreateJob(ctx, dup), easel.EConflict)
	got, err = c.LookupJob(ctx, j.ID)
	checkCode(t, "LookupJob", err, "")
	checkJob(t, "LookupJob after conflict", got, j)

	// A job created running (a synchronous request runs its job at once), with optional
	// fields empty: no webhook, no expiry, no events yet.
	run := newJob("user-a", baseTime())
	run.Spec.Webhook, run.Spec.WebhookEvents, run.ExpiresAt, run.Events = "", nil, time.Time{}, nil
	run.Spec.Generate.Seed, run.Spec.Generate.CFGScale = nil, nil
	claim(run, run.CreatedAt, time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond))
	run.QueuedAt = time.Time{}
	createJob(t, c, run)
	got, err = c.GetJob(ctx, run.UserID, run.ID)
	checkCode(t, "GetJob", err, "")
	checkJob(t, "GetJob(created running)", got, run)

	// Every field a job may carry round-trips, notifier lease and cursors included.
	full := newJob("user-a", baseTime())
	claim(full, full.CreatedAt.Add(time.Second), full.CreatedAt.Add(time.Hour))
	full.ImageIDs = []string{easel.NewID(), easel.NewID()}
	full.Append(easel.EventImageReady, full.CreatedAt.Add(2*time.Second)).ImageID = full.ImageIDs[0]
	full.Filtered, full.Failed, full.CancelRequested = 1, 1, true
	full.NotBefore = full.CreatedAt.Add(time.Minute)
	full.Notify = easel.JobNotify{WebhookSeq: 2, WebhookAttempts: 3, BusSeq: 1, BusAttempts: 1,
		DueAt: full.CreatedAt.Add(5 * time.Minute),
		Lease: &easel.JobLease{Owner: "instance-2", Token: easel.NewID(), Until: full.CreatedAt.Add(6 * time.Minute)}}
	full.Error = &easel.JobError{Code: easel.EContentPolicy, Message: "Filtered.", Param: "prompt"}
	createJob(t, c, full)
	got, err = c.LookupJob(ctx, full.ID)
	checkCode(t, "LookupJob", err, "")
	checkJob(t, "LookupJob(every field)", got, full)

	_, err = c.LookupJob(ctx, easel.NewID())
	checkCode(t, "LookupJob(unknown)", err, easel.ENotFound)
	_, err = c.GetJob(ctx, "user-a", easel.NewID())
	checkCode(t, "GetJob(unknown)", err, easel.ENotFound)
}

// testInvalidJob checks that a job the indexes cannot place is refused, on create and
// on update, and that nothing is written.
func testInvalidJob(t *testing.T, c easel.JobCatalog) {
	ctx := t.Context()
	bad := map[string]func(j *easel.Job){
		"no id":                 func(j *easel.Job) { j.ID = "" },
		"no user":               func(j *easel.Job) { j.UserID = "" },
		"unknown status":        func(j *easel.Job) { j.Status = "paused" },
		"queued without time":   func(j *easel.Job) { j.QueuedAt = time.Time{} },
		"running without lease": func(j *easel.Job) { j.Status, j.Lease = easel.JobRunning, nil },
		"lease without end":     func(j *easel.Job) { j.Status, j.Lease = easel.JobRunning, &easel.JobLease{Token: "t"} },
	}
	for name, spoil := range bad {
		j := newJob("user-a", baseTime())
		spoil(j)
		checkCode(t, "CreateJob("+name+")", c.CreateJob(ctx, j), easel.EInvalid)
		if j.ID != "" {
			_, err := c.LookupJob(ctx, j.ID)
			checkCode(t, "LookupJob after CreateJob("+name+")", err, easel.ENotFound)
		}
	}
	for name, spoil := range bad {
		if name == "no id" || name == "no user" {
			continue
		}
		j := newJob("user-a", baseTime())
		createJob(t, c, j)
		stored := j.Clone()
		spoil(j)
		checkCode(t, "UpdateJob("+name+")", c.UpdateJob(ctx, j), easel.EInvalid)
		if j.Version != stored.Version {
			t.Errorf("UpdateJob(%s) refused but set Version %d, want %d", name, j.Version, stored.Version)
		}
		got, err := c.LookupJob(ctx, j.ID)
		checkCode(t, "LookupJob", err, "")
		checkJob(t, "LookupJob after UpdateJob("+name+")", got, stored)
	}
}

// testJobOtherUser checks invariant 3 (BOLA) for jobs: another user's job is not found,
// and cannot be taken over by an update that names another owner.
func testJobOtherUser(t *testing.T, c easel.JobCatalog) {
	ctx := t.Context()
	j := newJob("user-a", baseTime())
	createJob(t, c, j)
	_, err := c.GetJob(ctx, "user-b", j.ID)
	checkCode(t, "GetJob(other user)", err, easel.ENotFound)
	page, _, err := c.ListJobs(ctx, "user-b", easel.JobListOptions{Limit: 10})
	checkCode(t, "ListJobs(other user)", err, "")
	if len(page) != 0 {
		t.Errorf("ListJobs(user-b) = %v, want none of user-a's jobs", jobIDs(page))
	}
	n, err := c.CountQueued(ctx, "user-b", time.Time{}, 0)
	checkCode(t, "CountQueued(user-b)", err, "")
	if n != 0 {
		t.Errorf("CountQueued(user-b) = %d, want 0", n)
	}

	stored := j.Clone()
	steal := j.Clone()
	steal.UserID = "user-b"
	checkCode(t, "UpdateJob(owner changed)", c.UpdateJob(ctx, steal), easel.ENotFound)
	got, err := c.GetJob(ctx, "user-a", j.ID)
	checkCode(t, "GetJob(owner)", err, "")
	checkJob(t, "GetJob after UpdateJob by another owner", got, stored)
	_, err = c.GetJob(ctx, "user-b", j.ID)
	checkCode(t, "GetJob(user-b) after UpdateJob by another owner", err, easel.ENotFound)
}

func testUpdateJob(t *testing.T, c easel.JobCatalog) {
	ctx := t.Context()
	j := newJob("user-a", baseTime())
	createJob(t, c, j)
	stale := j.Clone()

	claim(j, j.CreatedAt.Add(time.Second), j.CreatedAt.Add(2*time.Hour))
	updateJob(t, c, j)
	if j.Version != 2 {
		t.Errorf("UpdateJob set Version = %d, want 2", j.Version)
	}
	got, err := c.GetJob(ctx, j.UserID, j.ID)
	checkCode(t, "GetJob", err, "")
	checkJob(t, "GetJob after claim", got, j)

	// A writer that read version 1 lost the race: conflict, nothing written, its
	// Version untouched.
	stale.CancelRequested = true
	checkCode(t, "UpdateJob(stale version)", c.UpdateJob(ctx, stale), easel.EConflict)
	if stale.Version != 1 {
		t.Errorf("UpdateJob(stale) changed Version to %d, want 1", stale.Version)
	}
	ahead := j.Clone()
	ahead.Version = 9
	checkCode(t, "UpdateJob(version ahead)", c.UpdateJob(ctx, ahead), easel.EConflict)
	got, err = c.GetJob(ctx, j.UserID, j.ID)
	checkCode(t, "GetJob", err, "")
	checkJob(t, "GetJob after conflicts", got, j)

	// The whole job is replaced: images, events, counters, cursors; and fields can be
	// cleared again (the lease on finishing, the error on a retry).
	j.ImageIDs = append(j.ImageIDs, easel.NewID())
	j.Append(easel.EventImageReady, j.CreatedAt.Add(3*time.Second)).ImageID = j.ImageIDs[0]
	j.Filtered = 1
	j.Error = &easel.JobError{Code: "x", Message: "y"}
	updateJob(t, c, j)
	j.Error = nil
	finish(j, easel.JobSucceeded, j.CreatedAt.Add(4*time.Second))
	j.Notify.DueAt = j.FinishedAt
	updateJob(t, c, j)
	if j.Version != 4 {
		t.Errorf("Version after three updates = %d, want 4", j.Version)
	}
	got, err = c.LookupJob(ctx, j.ID)
	checkCode(t, "LookupJob", err, "")
	checkJob(t, "LookupJob after finishing", got, j)

	gone := newJob("user-a", baseTime())
	gone.Version = 1
	checkCode(t, "UpdateJob(unknown id)", c.UpdateJob(ctx, gone), easel.ENotFound)
	_, err = c.LookupJob(ctx, gone.ID)
	checkCode(t, "LookupJob after UpdateJob(unknown id)", err, easel.ENotFound)
}

// testUpdateJobRace lets many writers holding the same version race, round after
// round: exactly one wins each round.
func testUpdateJobRace(t *testing.T, c easel.JobCatalog) {
	const (
		writers = 8
		rounds  = 5
	)
	j := newJob("user-a", baseTime())
	createJob(t, c, j)
	for round := range rounds {
		cur, err := c.LookupJob(t.Context(), j.ID)
		checkCode(t, "LookupJob", err, "")
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for w := range writers {
			mine := cur.Clone()
			mine.Attempts = 100*round + w
			wg.Go(func() { errs[w] = c.UpdateJob(t.Context(), mine) })
		}
		wg.Wait()
		winner := -1
		for w, err := range errs {
			switch easel.ErrorCode(err) {
			case "":
				if winner >= 0 {
					t.Fatalf("round %d: writers %d and %d both updated version %d", round, winner, w, cur.Version)
				}
				winner = w
			case easel.EConflict:
			default:
				t.Fatalf("round %d: UpdateJob = %v, want nil or a conflict", round, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer updated version %d", round, cur.Version)
		}
		got, err := c.LookupJob(t.Context(), j.ID)
		checkCode(t, "LookupJob", err, "")
		if got.Version != cur.Version+1 || got.Attempts != 100*round+winner {
			t.Fatalf("round %d: stored version %d with the write of %d, want version %d with writer %d's",
				round, got.Version, got.Attempts, cur.Version+1, winner)
		}
	}
}

// testUpdateJobNoLostWrites runs read-modify-write loops that retry on conflict, as the
// service does: every increment lands.
func testUpdateJobNoLostWrites(t *testing.T, c easel.JobCatalog) {
	const (
		writers = 6
		each    = 5
	)
	j := newJob("user-a", baseTime())
	createJob(t, c, j)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for done := 0; done < each; {
				cur, err := c.GetJob(t.Context(), j.UserID, j.ID)
				if err != nil {
					t.Errorf("GetJob = %v", err)
					return
				}
				cur.Attempts++
				cur.Append(easel.EventJobQueued, cur.CreatedAt)
				switch err := c.UpdateJob(t.Context(), cur); easel.ErrorCode(err) {
				case "":
					done++
				case easel.EConflict:
				default:
					t.Errorf("UpdateJob = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := c.LookupJob(t.Context(), j.ID)
	checkCode(t, "LookupJob", err, "")
	if got.Attempts != writers*each || got.Version != 1+writers*each || got.LastSeq() != 1+writers*each {
		t.Errorf("after %d retried increments: Attempts %d, Version %d, LastSeq %d; want %d, %d, %d",
			writers*each, got.Attempts, got.Version, got.LastSeq(), writers*each, 1+writers*each, 1+writers*each)
	}
}

// jobHistory creates n jobs of user whose CreatedAt values collide in groups of three
// (so ties are broken by id), in the statuses given in turn, and returns them in the
// expected list order.
func jobHistory(t *testing.T, c easel.JobCatalog, user string, n int, statuses ...easel.JobStatus) []*easel.Job {
	t.Helper()
	if len(statuses) == 0 {
		statuses = []easel.JobStatus{easel.JobQueued}
	}
	base := baseTime()
	var jobs []*easel.Job
	for i := range n {
		j := newJob(user, base.Add(time.Duration(i/3)*time.Second))
		setStatus(j, statuses[i%len(statuses)])
		createJob(t, c, j)
		jobs = append(jobs, j)
	}
	sortJobsNewestFirst(jobs)
	return jobs
}

// setStatus takes a new queued job to status st the way the service would.
func setStatus(j *easel.Job, st easel.JobStatus) {
	if st == easel.JobQueued {
		return
	}
	at := j.CreatedAt.Add(time.Second)
	claim(j, at, time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond))
	if st != easel.JobRunning {
		finish(j, st, at.Add(time.Second))
	}
}

func sortJobsNewestFirst(jobs []*easel.Job) {
	slices.SortFunc(jobs, func(a, b *easel.Job) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
}

func withStatus(jobs []*easel.Job, sts ...easel.JobStatus) []*easel.Job {
	var out []*easel.Job
	for _, j := range jobs {
		if slices.Contains(sts, j.Status) {
			out = append(out, j)
		}
	}
	return out
}

var allStatuses = []easel.JobStatus{easel.JobQueued, easel.JobRunning, easel.JobSucceeded, easel.JobFailed, easel.JobCanceled}

func testListJobsOrder(t *testing.T, c easel.JobCatalog) {
	want := jobHistory(t, c, "user-a", 10, allStatuses...)
	jobHistory(t, c, "user-b", 4, allStatuses...)
	got, next, err := c.ListJobs(t.Context(), "user-a", easel.JobListOptions{Limit: easel.MaxPageSize})
	checkCode(t, "ListJobs", err, "")
	if !slices.Equal(jobIDs(got), jobIDs(want)) {
		t.Fatalf("ListJobs =\n\t%v\nwant (CreatedAt, then ID descending)\n\t%v", jobIDs(got), jobIDs(want))
	}
	if next != nil {
		t.Errorf("ListJobs cursor = %+v, want nil at the end", next)
	}
	for i := range got {
		checkJob(t, fmt.Sprintf("ListJobs[%d]", i), got[i], want[i])
	}
}

// listAllJobs follows cursors to the end, checking each page's size and cursor.
func listAllJobs(t *testing.T, c easel.JobCatalog, user string, limit int, sts []easel.JobStatus) []*easel.Job {
	t.Helper()
	var all []*easel.Job
	var after *easel.PageCursor
	for calls := 0; ; calls++ {
		if calls > 1000 {
			t.Fatalf("ListJobs(limit %d) still returns cursors after %d pages", limit, calls)
		}
		page, next, err := c.ListJobs(t.Context(), user, easel.JobListOptions{Statuses: sts, Limit: limit, After: after})
		checkCode(t, "ListJobs", err, "")
		if len(page) > limit {
			t.Fatalf("ListJobs(limit %d, %v) returned %d jobs", limit, sts, len(page))
		}
		if len(page) < limit && next != nil {
			t.Fatalf("ListJobs(limit %d, %v) returned %d jobs and cursor %+v, want nil cursor with a short page", limit, sts, len(page), next)
		}
		all = append(all, page...)
		if next == nil {
			return all
		}
		last := page[len(page)-1]
		if next.ID != last.ID || !next.CreatedAt.Equal(last.CreatedAt) {
			t.Fatalf("ListJobs cursor = %+v, want the last job of the page (%s, %v)", next, last.ID, last.CreatedAt)
		}
		after = next
	}
}

func testListJobsPages(t *testing.T, c easel.JobCatalog) {
	want := jobHistory(t, c, "user-a", 23, allStatuses...)
	for _, limit := range []int{1, 4, 5, 23, 24} {
		got := listAllJobs(t, c, "user-a", limit, nil)
		if !slices.Equal(jobIDs(got), jobIDs(want)) {
			t.Errorf("pages with limit %d =\n\t%v\nwant\n\t%v", limit, jobIDs(got), jobIDs(want))
		}
	}
	// A cursor built by hand (as the HTTP layer unseals it) works the same.
	cur := &easel.PageCursor{CreatedAt: want[4].CreatedAt, ID: want[4].ID}
	got, _, err := c.ListJobs(t.Context(), "user-a", easel.JobListOptions{Limit: 3, After: cur})
	checkCode(t, "ListJobs(after)", err, "")
	if !slices.Equal(jobIDs(got), jobIDs(want[5:8])) {
		t.Errorf("ListJobs(limit 3, after %v) = %v, want %v", cur, jobIDs(got), jobIDs(want[5:8]))
	}
}

func testListJobsStatuses(t *testing.T, c easel.JobCatalog) {
	all := jobHistory(t, c, "user-a", 25, allStatuses...)
	jobHistory(t, c, "user-b", 10, allStatuses...)
	filters := [][]easel.JobStatus{
		{easel.JobQueued},
		{easel.JobRunning},
		{easel.JobQueued, easel.JobRunning},
		{easel.JobRunning, easel.JobQueued},
		{easel.JobSucceeded},
		{easel.JobFailed, easel.JobCanceled},
		{easel.JobQueued, easel.JobSucceeded},
		allStatuses,
	}
	for _, sts := range filters {
		want := withStatus(all, sts...)
		for _, limit := range []int{2, 5, easel.MaxPageSize} {
			got := listAllJobs(t, c, "user-a", limit, sts)
			if !slices.Equal(jobIDs(got), jobIDs(want)) {
				t.Errorf("ListJobs(%v, limit %d) =\n\t%v\nwant\n\t%v", sts, limit, jobIDs(got), jobIDs(want))
			}
		}
		// Paging from a cursor in the middle, as a client does.
		if len(want) > 2 {
			cur := &easel.PageCursor{CreatedAt: want[1].CreatedAt, ID: want[1].ID}
			got, _, err := c.ListJobs(t.Context(), "user-a", easel.JobListOptions{Statuses: sts, Limit: easel.MaxPageSize, After: cur})
			checkCode(t, "ListJobs(after)", err, "")
			if !slices.Equal(jobIDs(got), jobIDs(want[2:])) {
				t.Errorf("ListJobs(%v, after the second) = %v, want %v", sts, jobIDs(got), jobIDs(want[2:]))
			}
		}
	}
	got, next, err := c.ListJobs(t.Context(), "user-c", easel.JobListOptions{Statuses: []easel.JobStatus{easel.JobQueued}, Limit: 10})
	checkCode(t, "ListJobs(user-c)", err, "")
	if len(got) != 0 || next != nil {
		t.Errorf("ListJobs(user with no jobs) = %v, %v; want none", jobIDs(got), next)
	}
}

// testListJobsFollowsStatus checks that status filters see each change of a job.
func testListJobsFollowsStatus(t *testing.T, c easel.JobCatalog) {
	active := []easel.JobStatus{easel.JobQueued, easel.JobRunning}
	list := func(sts ...easel.JobStatus) []string {
		return jobIDs(listAllJobs(t, c, "user-a", 10, sts))
	}
	j := newJob("user-a", baseTime())
	createJob(t, c, j)
	check := func(stage string, wantIn ...easel.JobStatus) {
		t.Helper()
		for _, sts := range [][]easel.JobStatus{{easel.JobQueued}, {easel.JobRunning}, active, {easel.JobSucceeded}, {easel.JobCanceled}} {
			in := slices.Equal(list(sts...), []string{j.ID})
			want := slices.ContainsFunc(sts, func(s easel.JobStatus) bool { return slices.Contains(wantIn, s) })
			if in != want {
				t.Errorf("%s: job listed with filter %v: %v, want %v", stage, sts, in, want)
			}
		}
	}
	check("queued", easel.JobQueued)
	claim(j, j.CreatedAt.Add(time.Second), time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond))
	updateJob(t, c, j)
	check("running", easel.JobRunning)
	// Handed back (throttled, drained): queued again.
	j.Status, j.Lease, j.QueuedAt = easel.JobQueued, nil, j.CreatedAt.Add(2*time.Second)
	j.Append(easel.EventJobQueued, j.QueuedAt)
	updateJob(t, c, j)
	check("handed back", easel.JobQueued)
	claim(j, j.CreatedAt.Add(3*time.Second), time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond))
	updateJob(t, c, j)
	finish(j, easel.JobSucceeded, j.CreatedAt.Add(4*time.Second))
	updateJob(t, c, j)
	check("succeeded", easel.JobSucceeded)
	if got := list(); !slices.Equal(got, []string{j.ID}) {
		t.Errorf("ListJobs(all) = %v, want [%s]", got, j.ID)
	}
}

// queuedJob creates a queued job of user, queued at the given time.
func queuedJob(t *testing.T, c easel.JobCatalog, user string, queued time.Time) *easel.Job {
	t.Helper()
	j := newJob(user, queued.Add(-time.Minute))
	j.QueuedAt = queued
	createJob(t, c, j)
	return j
}

func testCountQueued(t *testing.T, c easel.JobCatalog) {
	ctx := t.Context()
	base := baseTime()
	var a []*easel.Job
	for i := range 5 {
		a = append(a, queuedJob(t, c, "user-a", base.Add(time.Duration(i)*time.Second)))
	}
	for i := range 3 {
		queuedJob(t, c, "user-b", base.Add(time.Duration(i)*time.Second+500*time.Millisecond))
	}
	// Running and ended jobs never count.
	jobHistory(t, c, "user-a", 6, easel.JobRunning, easel.JobSucceeded, easel.JobFailed)
	tests := []struct {
		user   string
		before time.Time
		limit  int
		want   int
	}{
		{"user-a", time.Time{}, 0, 5},
		{"user-b", time.Time{}, 0, 3},
		{"user-c", time.Time{}, 0, 0},
		{"", time.Time{}, 0, 8},
		{"user-a", time.Time{}, 3, 3},
		{"user-a", time.Time{}, 100, 5},
		{"", time.Time{}, 7, 7},
		{"user-a", base.Add(3 * time.Second), 0, 3}, // strictly before: a[3] is not
		{"user-b", base.Add(3 * time.Second), 0, 3},
		{"", base.Add(2 * time.Second), 0, 4}, // a[0], a[1], b[0], b[1]
		{"", base.Add(2 * time.Second), 3, 3},
		{"", base, 0, 0},
		{"user-a", base.Add(time.Hour), 0, 5},
	}
	for _, tc := range tests {
		got, err := c.CountQueued(ctx, tc.user, tc.before, tc.limit)
		checkCode(t, "CountQueued", err, "")
		if got != tc.want {
			t.Errorf("CountQueued(%q, %v, %d) = %d, want %d", tc.user, tc.before, tc.limit, got, tc.want)
		}
	}
	// A claimed job stops counting; a handed-back one counts again, from its new time.
	claim(a[0], base.Add(10*time.Second), time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond))
	updateJob(t, c, a[0])
	if got, _ := c.CountQueued(ctx, "user-a", time.Time{}, 0); got != 4 {
		t.Errorf("CountQueued(user-a) after a claim = %d, want 4", got)
	}
	a[0].Status, a[0].Lease, a[0].QueuedAt = easel.JobQueued, nil, base.Add(20*time.Second)
	updateJob(t, c, a[0])
	if got, _ := c.CountQueued(ctx, "", base.Add(5*time.Second), 0); got != 7 {
		t.Errorf("CountQueued(all, before +5s) after a hand-back at +20s = %d, want 7", got)
	}
	if got, _ := c.CountQueued(ctx, "user-a", time.Time{}, 0); got != 5 {
		t.Errorf("CountQueued(user-a) after a hand-back = %d, want 5", got)
	}
}

// dueJobs calls DueJobs and checks the ids, in order.
func dueJobs(t *testing.T, c easel.JobCatalog, due easel.JobDue, before time.Time, limit int, want ...*easel.Job) {
	t.Helper()
	got, err := c.DueJobs(t.Context(), due, before, limit)
	checkCode(t, fmt.Sprintf("DueJobs(%s)", due), err, "")
	if !slices.Equal(jobIDs(got), jobIDs(want)) {
		t.Errorf("DueJobs(%s, %v, %d) =\n\t%v\nwant\n\t%v", due, before, limit, jobIDs(got), jobIDs(want))
		return
	}
	for i := range got {
		checkJob(t, fmt.Sprintf("DueJobs(%s)[%d]", due, i), got[i], want[i])
	}
}

// byTimeThenID sorts jobs by the time key(j), then id, as DueJobs orders them.
func byTimeThenID(jobs []*easel.Job, key func(*easel.Job) time.Time) []*easel.Job {
	out := slices.Clone(jobs)
	slices.SortFunc(out, func(a, b *easel.Job) int {
		if c := key(a).Compare(key(b)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

func testDueQueued(t *testing.T, c easel.JobCatalog) {
	base := baseTime()
	var jobs []*easel.Job
	for i := range 6 {
		// Two jobs per instant, of two users: ties are broken by id.
		jobs = append(jobs, queuedJob(t, c, fmt.Sprint("user-", i%2), base.Add(time.Duration(i/2)*time.Minute)))
	}
	jobHistory(t, c, "user-a", 3, easel.JobRunning, easel.JobSucceeded, easel.JobCanceled)
	want := byTimeThenID(jobs, func(j *easel.Job) time.Time { return j.QueuedAt })
	dueJobs(t, c, easel.DueQueued, base.Add(time.Hour), 100, want...)
	dueJobs(t, c, easel.DueQueued, base.Add(time.Hour), 3, want[:3]...)
	dueJobs(t, c, easel.DueQueued, base.Add(2*time.Minute), 100, want[:4]...) // strictly before
	dueJobs(t, c, easel.DueQueued, base, 100)
}

func testDueLease(t *testing.T, c easel.JobCatalog) {
	base := baseTime()
	var jobs []*easel.Job
	for i := range 6 {
		j := newJob(fmt.Sprint("user-", i%2), base)
		claim(j, base, base.Add(time.Duration(i/2)*time.Minute))
		createJob(t, c, j)
		jobs = append(jobs, j)
	}
	jobHistory(t, c, "user-a", 3, easel.JobQueued, easel.JobSucceeded, easel.JobFailed)
	want := byTimeThenID(jobs, func(j *easel.Job) time.Time { return j.Lease.Until })
	dueJobs(t, c, easel.DueLease, base.Add(time.Hour), 100, want...)
	dueJobs(t, c, easel.DueLease, base.Add(time.Hour), 2, want[:2]...)
	dueJobs(t, c, easel.DueLease, base.Add(time.Minute), 100, want[:2]...)
	dueJobs(t, c, easel.DueLease, base, 100)

	// Renewing a lease moves the job to its new time.
	renew := want[0]
	renew.Lease.Until = base.Add(30 * time.Minute)
	updateJob(t, c, renew)
	dueJobs(t, c, easel.DueLease, base.Add(10*time.Minute), 100, want[1:]...)
}

func testDueNotify(t *testing.T, c easel.JobCatalog) {
	base := baseTime()
	var jobs []*easel.Job
	for i, st := range []easel.JobStatus{easel.JobSucceeded, easel.JobFailed, easel.JobCanceled, easel.JobSucceeded} {
		j := newJob("user-a", base)
		setStatus(j, st)
		j.Notify.DueAt = base.Add(time.Duration(i) * time.Minute)
		createJob(t, c, j)
		jobs = append(jobs, j)
	}
	// Ended with nothing to deliver.
	done := newJob("user-a", base)
	setStatus(done, easel.JobSucceeded)
	done.Notify.WebhookSeq, done.Notify.BusSeq = done.LastSeq(), done.LastSeq()
	createJob(t, c, done)
	// Not ended: DueNotify holds only ended jobs (the worker running a job delivers its
	// progress; whatever is left is delivered once it ends).
	for _, st := range []easel.JobStatus{easel.JobQueued, easel.JobRunning} {
		j := newJob("user-b", base)
		setStatus(j, st)
		j.Notify.DueAt = base
		createJob(t, c, j)
	}
	dueJobs(t, c, easel.DueNotify, base.Add(time.Hour), 100, jobs...)
	dueJobs(t, c, easel.DueNotify, base.Add(time.Hour), 3, jobs[:3]...)
	dueJobs(t, c, easel.DueNotify, base.Add(2*time.Minute), 100, jobs[:2]...)
	dueJobs(t, c, easel.DueNotify, base, 100)

	// Backing off moves a job later; delivering everything takes it out.
	jobs[0].Notify.DueAt = base.Add(10 * time.Minute)
	jobs[0].Notify.WebhookAttempts++
	updateJob(t, c, jobs[0])
	jobs[1].Notify.DueAt = time.Time{}
	updateJob(t, c, jobs[1])
	dueJobs(t, c, easel.DueNotify, base.Add(time.Hour), 100, jobs[2], jobs[3], jobs[0])
}

// testDueMoves follows one job through its life and checks which background work finds
// it at each stage.
func testDueMoves(t *testing.T, c easel.JobCatalog) {
	base := baseTime()
	later := base.Add(24 * time.Hour)
	j := newJob("user-a", base)
	createJob(t, c, j)
	stage := func(name string, queued, lease, notify bool) {
		t.Helper()
		for due, want := range map[easel.JobDue]bool{easel.DueQueued: queued, easel.DueLease: lease, easel.DueNotify: notify} {
			got, err := c.DueJobs(t.Context(), due, later, 100)
			checkCode(t, "DueJobs", err, "")
			if in := slices.Equal(jobIDs(got), []string{j.ID}); in != want {
				t.Errorf("%s: DueJobs(%s) lists the job: %v, want %v (got %v)", name, due, in, want, jobIDs(got))
			}
		}
	}
	stage("queued", true, false, false)
	claim(j, base.Add(time.Second), base.Add(time.Minute))
	updateJob(t, c, j)
	stage("running", false, true, false)
	// The reaper hands back a job whose lease ended.
	j.Status, j.Lease, j.QueuedAt = easel.JobQueued, nil, base.Add(2*time.Minute)
	j.Append(easel.EventJobQueued, j.QueuedAt)
	updateJob(t, c, j)
	stage("handed back", true, false, false)
	claim(j, base.Add(3*time.Minute), base.Add(4*time.Minute))
	updateJob(t, c, j)
	finish(j, easel.JobFailed, base.Add(5*time.Minute))
	j.Notify.DueAt = j.FinishedAt
	updateJob(t, c, j)
	stage("failed, webhook due", false, false, true)
	j.Notify.Lease = &easel.JobLease{Owner: "n", Token: "t", Until: base.Add(6 * time.Minute)}
	j.Notify.DueAt = base.Add(6 * time.Minute)
	updateJob(t, c, j)
	stage("notifier holds it", false, false, true)
	j.Notify = easel.JobNotify{WebhookSeq: j.LastSeq(), BusSeq: j.LastSeq()}
	updateJob(t, c, j)
	stage("delivered", false, false, false)
}

// testExpiredJob checks that a job past its ExpiresAt is gone for every method, as if
// the backend had already deleted it.
func testExpiredJob(t *testing.T, c easel.JobCatalog) {
	ctx := t.Context()
	base := baseTime()
	live := queuedJob(t, c, "user-a", base)
	old := newJob("user-a", base)
	old.ExpiresAt = base.Add(time.Minute) // an hour ago
	createJob(t, c, old)
	running := newJob("user-a", base)
	claim(running, base, base.Add(time.Minute))
	running.ExpiresAt = base.Add(time.Minute)
	createJob(t, c, running)
	ended := newJob("user-a", base)
	setStatus(ended, easel.JobCanceled)
	ended.Notify.DueAt = base
	ended.ExpiresAt = base.Add(time.Minute)
	createJob(t, c, ended)

	for _, j := range []*easel.Job{old, running, ended} {
		_, err := c.GetJob(ctx, j.UserID, j.ID)
		checkCode(t, "GetJob(expired)", err, easel.ENotFound)
		_, err = c.LookupJob(ctx, j.ID)
		checkCode(t, "LookupJob(expired)", err, easel.ENotFound)
		checkCode(t, "UpdateJob(expired)", c.UpdateJob(ctx, j.Clone()), easel.ENotFound)
	}
	if got := listAllJobs(t, c, "user-a", 10, nil); !slices.Equal(jobIDs(got), []string{live.ID}) {
		t.Errorf("ListJobs = %v, want only the live job %s", jobIDs(got), live.ID)
	}
	if got := listAllJobs(t, c, "user-a", 10, []easel.JobStatus{easel.JobQueued, easel.JobRunning}); !slices.Equal(jobIDs(got), []string{live.ID}) {
		t.Errorf("ListJobs(active) = %v, want only the live job %s", jobIDs(got), live.ID)
	}
	for _, user := range []string{"user-a", ""} {
		if n, err := c.CountQueued(ctx, user, time.Time{}, 0); err != nil || n != 1 {
			t.Errorf("CountQueued(%q) = %d, %v; want 1 (the live job)", user, n, err)
		}
	}
	later := base.Add(24 * time.Hour)
	dueJobs(t, c, easel.DueQueued, later, 100, live)
	dueJobs(t, c, easel.DueLease, later, 100)
	dueJobs(t, c, easel.DueNotify, later, 100)

	// An update that sets a past expiry retires the job.
	live.ExpiresAt = base
	updateJob(t, c, live)
	_, err := c.LookupJob(ctx, live.ID)
	checkCode(t, "LookupJob(expired by update)", err, easel.ENotFound)
}

func checkSecret(t *testing.T, call string, got, want *easel.WebhookSecret) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s = nil, want %+v", call, want)
	}
	g, w := *got, *want
	g.CreatedAt, g.PreviousUntil = g.CreatedAt.UTC(), g.PreviousUntil.UTC()
	w.CreatedAt, w.PreviousUntil = w.CreatedAt.UTC(), w.PreviousUntil.UTC()
	if g != w {
		t.Errorf("%s = %+v, want %+v", call, g, w)
	}
}

func testWebhookSecret(t *testing.T, c easel.JobCatalog) {
	ctx := t.Context()
	_, err := c.WebhookSecret(ctx, "user-a")
	checkCode(t, "WebhookSecret(none)", err, easel.ENotFound)

	s := &easel.WebhookSecret{UserID: "user-a", Key: "whsec_" + easel.NewID(), CreatedAt: baseTime()}
	checkCode(t, "PutWebhookSecret(new)", c.PutWebhookSecret(ctx, s), "")
	if s.Version != 1 {
		t.Errorf("PutWebhookSecret(new) set Version = %d, want 1", s.Version)
	}
	got, err := c.WebhookSecret(ctx, "user-a")
	checkCode(t, "WebhookSecret", err, "")
	checkSecret(t, "WebhookSecret", got, s)
	_, err = c.WebhookSecret(ctx, "user-b")
	checkCode(t, "WebhookSecret(other user)", err, easel.ENotFound)

	// A second first secret (two requests racing to create one) loses.
	other := &easel.WebhookSecret{UserID: "user-a", Key: "whsec_" + easel.NewID(), CreatedAt: baseTime()}
	checkCode(t, "PutWebhookSecret(new, again)", c.PutWebhookSecret(ctx, other), easel.EConflict)
	if other.Version != 0 {
		t.Errorf("PutWebhookSecret refused but set Version = %d, want 0", other.Version)
	}

	// Rotation: the old key signs on beside the new one until PreviousUntil.
	stale := *s
	rot := *s
	rot.Previous, rot.PreviousUntil = s.Key, baseTime().Add(24*time.Hour)
	rot.Key, rot.CreatedAt = "whsec_"+easel.NewID(), baseTime().Add(time.Minute)
	checkCode(t, "PutWebhookSecret(rotate)", c.PutWebhookSecret(ctx, &rot), "")
	if rot.Version != 2 {
		t.Errorf("PutWebhookSecret(rotate) set Version = %d, want 2", rot.Version)
	}
	got, err = c.WebhookSecret(ctx, "user-a")
	checkCode(t, "WebhookSecret", err, "")
	checkSecret(t, "WebhookSecret after rotation", got, &rot)

	stale.Key = "whsec_" + easel.NewID()
	checkCode(t, "PutWebhookSecret(stale version)", c.PutWebhookSecret(ctx, &stale), easel.EConflict)
	got, err = c.WebhookSecret(ctx, "user-a")
	checkCode(t, "WebhookSecret", err, "")
	checkSecret(t, "WebhookSecret after a stale write", got, &rot)

	// Each user has their own.
	b := &easel.WebhookSecret{UserID: "user-b", Key: "whsec_" + easel.NewID(), CreatedAt: baseTime()}
	checkCode(t, "PutWebhookSecret(user-b)", c.PutWebhookSecret(ctx, b), "")
	got, err = c.WebhookSecret(ctx, "user-a")
	checkCode(t, "WebhookSecret", err, "")
	checkSecret(t, "user-a's secret after user-b's", got, &rot)
}

func testWebhookSecretRace(t *testing.T, c easel.JobCatalog) {
	const writers = 8
	errs := make([]error, writers)
	keys := make([]string, writers)
	var wg sync.WaitGroup
	for w := range writers {
		keys[w] = "whsec_" + easel.NewID()
		s := &easel.WebhookSecret{UserID: "user-a", Key: keys[w], CreatedAt: baseTime()}
		wg.Go(func() { errs[w] = c.PutWebhookSecret(t.Context(), s) })
	}
	wg.Wait()
	winner := -1
	for w, err := range errs {
		switch easel.ErrorCode(err) {
		case "":
			if winner >= 0 {
				t.Fatalf("two first secrets were stored (writers %d and %d)", winner, w)
			}
			winner = w
		case easel.EConflict:
		default:
			t.Fatalf("PutWebhookSecret = %v, want nil or a conflict", err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer stored the first secret")
	}
	got, err := c.WebhookSecret(t.Context(), "user-a")
	checkCode(t, "WebhookSecret", err, "")
	if got.Key != keys[winner] || got.Version != 1 {
		t.Errorf("WebhookSecret = key %q version %d, want the winner's %q, version 1", got.Key, got.Version, keys[winner])
	}
}
