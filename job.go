package easel

import (
	"slices"
	"time"
)

// JobStatus is the life stage of a job.
type JobStatus string

const (
	// JobQueued: waiting for a worker (also after it was handed back: throttling, drain,
	// a worker that died).
	JobQueued JobStatus = "queued"
	// JobRunning: a worker holds the job's lease and is making its images.
	JobRunning JobStatus = "running"
	// JobSucceeded: ended with at least one image.
	JobSucceeded JobStatus = "succeeded"
	// JobFailed: ended with an error (and possibly some images, see Job.Failed).
	JobFailed JobStatus = "failed"
	// JobCanceled: ended because its owner canceled it. Images the model had already
	// returned are kept.
	JobCanceled JobStatus = "canceled"
)

// Terminal reports whether a job in this status has ended.
func (s JobStatus) Terminal() bool {
	return s == JobSucceeded || s == JobFailed || s == JobCanceled
}

// Valid reports whether s is one of the five statuses.
func (s JobStatus) Valid() bool {
	return s == JobQueued || s == JobRunning || s.Terminal()
}

// Event types of a job's event log, in the order they happen. A job handed back to the
// queue (throttling, drain, a dead worker) logs job.queued and job.running again.
const (
	EventJobQueued    = "job.queued"
	EventJobRunning   = "job.running"
	EventImageReady   = "image.ready"
	EventJobSucceeded = "job.succeeded"
	EventJobFailed    = "job.failed"
	EventJobCanceled  = "job.canceled"
)

// TerminalEvent returns the event type that ends a job with status s ("" if s is not
// terminal).
func TerminalEvent(s JobStatus) string {
	switch s {
	case JobSucceeded:
		return EventJobSucceeded
	case JobFailed:
		return EventJobFailed
	case JobCanceled:
		return EventJobCanceled
	}
	return ""
}

// IsTerminalEvent reports whether an event type ends a job.
func IsTerminalEvent(t string) bool {
	return t == EventJobSucceeded || t == EventJobFailed || t == EventJobCanceled
}

// JobKind says what a job makes.
type JobKind string

const (
	// JobGenerate makes images from a prompt (Job.Spec.Generate).
	JobGenerate JobKind = "generate"
	// JobEdit edits an image (Job.Spec.Edit).
	JobEdit JobKind = "edit"
)

// JobSpec is what a job was asked to do: immutable once the job is created. Exactly one
// request is set, matching the job's Kind. Adapters store it as one opaque JSON value,
// so a new kind of job adds a field here and nothing in the adapters.
type JobSpec struct {
	// Generate is the normalized generation request (model, n, size or aspect ratio,
	// output format and seed all set).
	Generate *GenerateRequest `json:"generate,omitempty"`
	// Edit is the normalized edit request: its inputs are stored images of the job's
	// user, named by SourceImageID, MaskImageID and StyleImageID (never bytes).
	Edit *EditRequest `json:"edit,omitempty"`
	// Webhook is the https URL to notify, "" for none.
	Webhook string `json:"webhook,omitempty"`
	// WebhookEvents lists the event types sent to Webhook.
	WebhookEvents []string `json:"webhook_events,omitempty"`
}

// Images is how many images the job makes.
func (s *JobSpec) Images() int {
	switch {
	case s.Generate != nil:
		return s.Generate.N
	case s.Edit != nil:
		return max(s.Edit.N, 1)
	}
	return 0
}

// ModelID is the model the job calls.
func (s *JobSpec) ModelID() string {
	switch {
	case s.Generate != nil:
		return s.Generate.Model
	case s.Edit != nil:
		return s.Edit.Model
	}
	return ""
}

// JobError is why a job failed.
type JobError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

// JobEvent is one entry of a job's event log. Seq starts at 1 and grows by one.
type JobEvent struct {
	Seq  int       `json:"seq"`
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	// ImageID is the stored image, for image.ready.
	ImageID string `json:"image_id,omitempty"`
	// Error is set on job.failed.
	Error *JobError `json:"error,omitempty"`
}

// JobLease is a worker's claim on a running job. Only the holder of Token may update
// the job's progress; a lease whose Until has passed may be taken over.
type JobLease struct {
	Owner string    `json:"owner"` // the worker instance, for logs
	Token string    `json:"token"` // unguessable, new on every claim
	Until time.Time `json:"until"`
}

// JobNotify is the progress of what happens after a job's events: thumbnails of its
// images, and delivery of its events to the outside (webhooks, the event bus). A sink
// has delivered every event with Seq <= its cursor.
type JobNotify struct {
	// WebhookSeq is the last event delivered to the job's webhook (or skipped).
	WebhookSeq int `json:"webhook_seq"`
	// WebhookAttempts counts failed tries of the event after WebhookSeq.
	WebhookAttempts int `json:"webhook_attempts,omitempty"`
	// BusSeq is the last event published to the event bus (or skipped).
	BusSeq int `json:"bus_seq"`
	// BusAttempts counts failed tries of the event after BusSeq.
	BusAttempts int `json:"bus_attempts,omitempty"`
	// Thumbs is set once every image of the job has its thumbnail (or cannot have one).
	Thumbs bool `json:"thumbs,omitempty"`
	// ThumbAttempts counts failed rounds of making thumbnails.
	ThumbAttempts int `json:"thumb_attempts,omitempty"`
	// DueAt, when not zero, is when the notifier should next look at this job: some
	// sink is behind. Zero: nothing to deliver.
	DueAt time.Time `json:"due_at,omitzero"`
	// Lease lets one notifier at a time deliver a job's events.
	Lease *JobLease `json:"lease,omitempty"`
}

// Job is a durable request for images, run by a worker. The API creates it (queued, or
// running when the instance that took the request runs it at once), workers claim it
// with a lease, and every change is written with Catalog.UpdateJob, which compares
// Version, so two writers never overwrite each other.
type Job struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Kind      JobKind   `json:"kind"`
	Spec      JobSpec   `json:"spec"`
	CreatedAt time.Time `json:"created_at"`

	Status     JobStatus `json:"status"`
	StartedAt  time.Time `json:"started_at,omitzero"`  // first claim
	FinishedAt time.Time `json:"finished_at,omitzero"` // terminal
	// ImageIDs are the stored images, in the order they were stored.
	ImageIDs []string `json:"image_ids,omitempty"`
	// Filtered counts images the model's content filter removed.
	Filtered int `json:"filtered,omitempty"`
	// Failed counts images that could not be made or stored while others were.
	Failed int       `json:"failed,omitempty"`
	Error  *JobError `json:"error,omitempty"`
	// Attempts counts claims (a claim after a dead worker, a throttle or a drain is
	// another attempt).
	Attempts int `json:"attempts"`
	// CancelRequested is set when the owner cancels a running job; its worker stops.
	CancelRequested bool `json:"cancel_requested,omitempty"`
	// QueuedAt is when the job was last put on the queue (created, or handed back).
	QueuedAt time.Time `json:"queued_at,omitzero"`
	// NotBefore, when set, keeps a queued job from running earlier (backoff after the
	// model's throttling).
	NotBefore time.Time `json:"not_before,omitzero"`
	// Lease is the current worker's claim; nil unless running.
	Lease *JobLease `json:"lease,omitempty"`
	// Events is the job's event log, oldest first.
	Events []JobEvent `json:"events"`
	Notify JobNotify  `json:"notify"`
	// ExpiresAt is when the record may be deleted (retention); zero: kept.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Version counts writes; UpdateJob succeeds only when it matches the stored one.
	Version int64 `json:"version"`
}

// Check returns an EInvalid error when the job lacks what catalogs need to store and
// index it: an id, a user, a valid status, QueuedAt while queued, and a lease with an
// end while running (without it, no reaper would ever find the job if its worker
// died). Catalog adapters call it in CreateJob and UpdateJob.
func (j *Job) Check() error {
	switch {
	case j.ID == "" || j.UserID == "":
		return Errorf(EInvalid, "A job needs an id and a user.")
	case !j.Status.Valid():
		return Errorf(EInvalid, "Job status %q is not one of queued, running, succeeded, failed, canceled.", j.Status)
	case j.Status == JobQueued && j.QueuedAt.IsZero():
		return Errorf(EInvalid, "A queued job needs its QueuedAt.")
	case j.Status == JobRunning && (j.Lease == nil || j.Lease.Until.IsZero()):
		return Errorf(EInvalid, "A running job needs a lease with an end.")
	}
	return nil
}

// Append adds an event to the log with the next Seq and returns it.
func (j *Job) Append(typ string, at time.Time) *JobEvent {
	seq := 1
	if n := len(j.Events); n > 0 {
		seq = j.Events[n-1].Seq + 1
	}
	j.Events = append(j.Events, JobEvent{Seq: seq, Type: typ, At: at.UTC().Truncate(time.Millisecond)})
	return &j.Events[len(j.Events)-1]
}

// LastSeq is the Seq of the newest event, 0 when there is none.
func (j *Job) LastSeq() int {
	if n := len(j.Events); n > 0 {
		return j.Events[n-1].Seq
	}
	return 0
}

// AsOf returns the job as it was just after the event with sequence number seq: status,
// times, images and error as of then (the spec and identity are the same). It is how
// an event's data is shown to watchers and webhooks, however late they read it.
func (j *Job) AsOf(seq int) *Job {
	out := &Job{ID: j.ID, UserID: j.UserID, Kind: j.Kind, Spec: j.Spec, CreatedAt: j.CreatedAt, Status: JobQueued}
	for _, ev := range j.Events {
		if ev.Seq > seq {
			break
		}
		switch ev.Type {
		case EventJobQueued:
			out.Status = JobQueued
		case EventJobRunning:
			out.Status = JobRunning
			if out.StartedAt.IsZero() {
				out.StartedAt = ev.At
			}
		case EventImageReady:
			out.ImageIDs = append(out.ImageIDs, ev.ImageID)
		case EventJobSucceeded, EventJobFailed, EventJobCanceled:
			out.Status = JobStatus(ev.Type[len("job."):])
			out.FinishedAt = ev.At
			out.Error = ev.Error
			out.Filtered, out.Failed = j.Filtered, j.Failed
		}
		out.Events = append(out.Events, ev)
	}
	return out
}

// Clone returns a deep copy of the job, for adapters that keep jobs in memory.
func (j *Job) Clone() *Job {
	c := *j
	c.ImageIDs = slices.Clone(j.ImageIDs)
	c.Events = slices.Clone(j.Events)
	c.Spec.WebhookEvents = slices.Clone(j.Spec.WebhookEvents)
	if j.Spec.Generate != nil {
		g := *j.Spec.Generate
		c.Spec.Generate = &g
	}
	if j.Spec.Edit != nil {
		e := j.Spec.Edit.Clone()
		c.Spec.Edit = e
	}
	if j.Lease != nil {
		l := *j.Lease
		c.Lease = &l
	}
	if j.Notify.Lease != nil {
		l := *j.Notify.Lease
		c.Notify.Lease = &l
	}
	if j.Error != nil {
		e := *j.Error
		c.Error = &e
	}
	return &c
}

// JobListOptions selects a page of a user's jobs, newest first.
type JobListOptions struct {
	// Statuses keeps only jobs in one of these statuses; empty: all.
	Statuses []JobStatus
	Limit    int         // 1..MaxPageSize
	After    *PageCursor // nil: from the newest
}

// JobDue names a kind of background work the catalog finds jobs for.
type JobDue string

const (
	// DueLease: running jobs whose Lease.Until is before the given time (their
	// worker died): the reaper hands them back to the queue.
	DueLease JobDue = "lease"
	// DueQueued: jobs whose QueuedAt is before the given time: the reaper re-sends
	// their queue message in case it was lost (a duplicate is harmless: claims are
	// conditional).
	DueQueued JobDue = "queued"
	// DueNotify: ended jobs whose Notify.DueAt is before the given time: the notifier
	// delivers their events. A queued or running job is not listed even when its
	// DueAt is set (the catalog indexes a job for one kind of work at a time, and a
	// live job is already indexed for the reaper): events a live job's webhook is due
	// are delivered by its worker, or found once the job ends.
	DueNotify JobDue = "notify"
)
