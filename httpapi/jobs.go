package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/service"
)

// generateBody is the body of POST /v1/images: the generation request and how to run
// it.
type generateBody struct {
	easel.GenerateRequest
	Webhook       string   `json:"webhook,omitempty"`
	WebhookEvents []string `json:"webhook_events,omitempty"`
}

// preference is what a Prefer header (RFC 7240) asks for.
type preference struct {
	async bool
	wait  time.Duration // 0: not given
}

// maxPreferWait bounds Prefer: wait.
const maxPreferWait = 10 * time.Minute

// parsePrefer reads the Prefer headers: respond-async and wait=N (seconds).
// Unknown preferences are ignored, as RFC 7240 asks.
func parsePrefer(h http.Header) (preference, error) {
	var p preference
	for _, line := range h.Values("Prefer") {
		for _, tok := range strings.Split(line, ",") {
			tok = strings.TrimSpace(tok)
			name, val, _ := strings.Cut(tok, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			val = strings.Trim(strings.TrimSpace(val), `"`)
			switch name {
			case "respond-async":
				p.async = true
			case "wait":
				n, err := strconv.Atoi(val)
				if err != nil || n < 0 {
					return p, easel.ParamErrorf("Prefer", "Prefer: wait takes a whole number of seconds.")
				}
				p.wait = min(time.Duration(n)*time.Second, maxPreferWait)
			}
		}
	}
	return p, nil
}

// createImages serves POST /v1/images. Every request is a job. With Prefer:
// respond-async it is queued and the answer is 202 with the job; otherwise it runs at
// once here and the answer is 201 with the images, or 202 with the job when it has not
// ended within Prefer: wait (or the service's own bound).
func (s *Server) createImages(w http.ResponseWriter, r *http.Request) {
	pref, err := parsePrefer(r.Header)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var body generateBody
	adm, done, ok := s.startGenerate(w, r, &body, pref.async)
	if !ok {
		return
	}
	defer done()
	p := principalOf(r)
	if !s.cfg.Production {
		s.cfg.Logger.Debug("generate", "user", p.UserID, "model", body.Model, "prompt", body.Prompt, "async", pref.async)
	}
	opt := service.JobOptions{Webhook: body.Webhook, WebhookEvents: body.WebhookEvents}
	sub, err := s.cfg.Service.SubmitAdmitted(r.Context(), adm, &body.GenerateRequest, opt, pref.async)
	setRateHeaders(w, s.cfg.Service.RateStatus(p.UserID))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answerSubmission(w, r, sub, pref)
}

// writeImages answers 201 with the images of a generation (and its job's id).
func (s *Server) writeImages(w http.ResponseWriter, r *http.Request, res *service.GenerateResult, jobID string) {
	views, err := s.imageViews(r, res.Images)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := map[string]any{"images": views}
	if jobID != "" {
		out["job_id"] = jobID
	}
	if res.Filtered > 0 {
		out["filtered"] = res.Filtered
	}
	if res.Failed > 0 {
		out["failed"] = res.Failed
	}
	writeJSON(w, http.StatusCreated, out)
}

// writeJob answers with a job, and its URL in Location for 202.
func (s *Server) writeJob(w http.ResponseWriter, r *http.Request, status int, j *easel.Job) {
	v, err := s.jobView(r, j, service.ViewOptions{QueuePosition: true})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if status == http.StatusAccepted {
		w.Header().Set("Location", service.JobPath(j.ID))
	}
	writeJSON(w, status, v)
}

// getJob serves GET /v1/jobs/{id}; with Prefer: wait=N it waits up to N seconds for
// the job to end (a long poll).
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	pref, err := parsePrefer(r.Header)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var j *easel.Job
	if pref.wait > 0 {
		j, err = s.cfg.Service.WaitJob(r.Context(), principalOf(r), r.PathValue("id"), pref.wait)
	} else {
		j, err = s.cfg.Service.GetJob(r.Context(), principalOf(r), r.PathValue("id"))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJob(w, r, http.StatusOK, j)
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	j, err := s.cfg.Service.CancelJob(r.Context(), principalOf(r), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJob(w, r, http.StatusOK, j)
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	q, limit, err := pageQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var statuses []easel.JobStatus
	for _, v := range q["status"] {
		for _, st := range strings.Split(v, ",") {
			if st = strings.TrimSpace(st); st != "" {
				statuses = append(statuses, easel.JobStatus(st))
			}
		}
	}
	page, err := s.cfg.Service.ListJobs(r.Context(), principalOf(r), statuses, limit, q.Get("cursor"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	views := make([]*service.JobView, 0, len(page.Jobs))
	for _, j := range page.Jobs {
		v, err := s.jobView(r, j, service.ViewOptions{})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		views = append(views, v)
	}
	var next *string
	if page.Next != "" {
		next = &page.Next
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": views, "next_cursor": next})
}

// sseHeartbeat is how often an idle event stream gets a comment line, so that
// proxies (CloudFront's 60 s origin read timeout among them) keep it open.
const sseHeartbeat = 15 * time.Second

// jobEvents serves GET /v1/jobs/{id}/events: the job's events as a text/event-stream,
// from the one after Last-Event-ID (or the first), ending after the terminal event.
func (s *Server) jobEvents(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	id := r.PathValue("id")
	j, err := s.cfg.Service.GetJob(r.Context(), p, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	after := 0
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id") // for clients that cannot set headers
	}
	if last != "" {
		n, err := strconv.Atoi(last)
		if err != nil || n < 0 {
			s.writeError(w, r, easel.ParamErrorf("Last-Event-ID", "Last-Event-ID is the id of an event of this stream."))
			return
		}
		after = n
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	extend := func() { _ = rc.SetWriteDeadline(time.Now().Add(2 * sseHeartbeat)) }
	extend()
	_, _ = fmt.Fprintf(w, "retry: 2000\n\n")
	_ = rc.Flush()
	send := func(j *easel.Job) error {
		for _, ev := range j.Events {
			if ev.Seq <= after {
				continue
			}
			data, err := s.eventData(r, j, ev)
			if err != nil {
				return err
			}
			extend()
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, data); err != nil {
				return err
			}
			after = ev.Seq
		}
		return rc.Flush()
	}
	beat := func() error {
		extend()
		if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
			return err
		}
		return rc.Flush()
	}
	_ = j
	err = s.cfg.Service.WatchJob(r.Context(), p, id, after, send, sseHeartbeat, beat)
	if err != nil && r.Context().Err() == nil {
		s.cfg.Logger.Warn("job event stream", "job", id, "err", err)
	}
}

// eventData is the data of a streamed event: the job as it was after it, or the
// image for image.ready.
func (s *Server) eventData(r *http.Request, j *easel.Job, ev easel.JobEvent) ([]byte, error) {
	if ev.Type == easel.EventImageReady {
		img, err := s.cfg.Service.GetImage(r.Context(), &service.Principal{UserID: j.UserID}, ev.ImageID)
		if easel.IsCode(err, easel.ENotFound) {
			return json.Marshal(map[string]string{"id": ev.ImageID, "status": "deleted"})
		}
		if err != nil {
			return nil, err
		}
		v, err := s.imageView(r, img)
		if err != nil {
			return nil, err
		}
		return json.Marshal(v)
	}
	v, err := s.jobView(r, j.AsOf(ev.Seq), service.ViewOptions{})
	if err != nil {
		return nil, err
	}
	if ev.Seq == j.LastSeq() && j.Status == easel.JobQueued {
		// The last event of a job still queued carries its place in the queue.
		n, err := s.cfg.Service.QueuePosition(r.Context(), j)
		if err != nil {
			return nil, err
		}
		v.QueuePosition = &n
	}
	return json.Marshal(v)
}

// jobView is a job as the API shows it to this request (image URLs absolute).
func (s *Server) jobView(r *http.Request, j *easel.Job, opt service.ViewOptions) (*service.JobView, error) {
	v, err := s.cfg.Service.ViewJob(r.Context(), j, opt)
	if err != nil {
		return nil, err
	}
	for _, iv := range v.Images {
		localize(r, iv)
	}
	return v, nil
}

func (s *Server) webhookSecret(w http.ResponseWriter, r *http.Request) {
	sec, err := s.cfg.Service.WebhookSecret(r.Context(), principalOf(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, secretJSON(sec))
}

func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	sec, err := s.cfg.Service.RotateWebhookSecret(r.Context(), principalOf(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, secretJSON(sec))
}

func secretJSON(sec *easel.WebhookSecret) map[string]any {
	out := map[string]any{"key": sec.Key, "created_at": sec.CreatedAt}
	if sec.Previous != "" && time.Now().Before(sec.PreviousUntil) {
		out["previous_key_expires_at"] = sec.PreviousUntil
	}
	return out
}
