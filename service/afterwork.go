package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/thumbnail"
)

// What happens after a job's events, durably: thumbnails of its images (once it has
// ended), then delivery of its events to its webhook and to the event bus. The state
// is in the job (Job.Notify: cursors, attempts, DueAt); a worker takes it with a
// short lease (Notify.Lease), so every instance may look and only one works on a job
// at a time. The instance that ran the job starts at once (kickAfterWork, with the
// image bytes still in memory when the budget allows); the reaper finds the rest
// (DueJobs(DueNotify)), so a crash or a full in-memory queue delays the work but
// never drops it.

// afterItem asks for a job's after-work.
type afterItem struct {
	jobID string
	// data holds the stored bytes of the job's images by id, when still in memory.
	data  map[string][]byte
	bytes int64
}

const (
	// afterQueue bounds the jobs waiting for after-work in memory.
	afterQueue = 256
	// afterWorkers is the number of after-work goroutines (webhooks wait on the
	// network; thumbnails are bounded separately by Config.ThumbnailWorkers).
	afterWorkers = 8
	// afterBytesBudget bounds image bytes held in memory for thumbnails (about eight
	// 1024² PNGs); beyond it images are read back from the blob store.
	afterBytesBudget = 16 << 20
	// afterLease is how long one instance may work on a job's after-work.
	afterLease = 2 * time.Minute
	// maxThumbAttempts bounds failed rounds of making a job's thumbnails.
	maxThumbAttempts = 8
)

// afterWorkWanted reports whether anything is left to do after the job's events:
// thumbnails of an ended job's images, or events its webhook or the bus have not had.
func (s *Service) afterWorkWanted(j *easel.Job) bool {
	if s.thumbnails && j.Status.Terminal() && len(j.ImageIDs) > 0 && !j.Notify.Thumbs {
		return true
	}
	for _, ev := range j.Events {
		if j.Spec.Webhook != "" && ev.Seq > j.Notify.WebhookSeq && slices.Contains(j.Spec.WebhookEvents, ev.Type) {
			return true
		}
		if s.jobs.Events != nil && ev.Seq > j.Notify.BusSeq && easel.IsTerminalEvent(ev.Type) {
			return true
		}
	}
	return false
}

// markAfterWork sets Notify.DueAt when the job has after-work to do.
func (s *Service) markAfterWork(j *easel.Job, now time.Time) {
	if j.Notify.DueAt.IsZero() && s.afterWorkWanted(j) {
		j.Notify.DueAt = now.UTC().Truncate(time.Millisecond)
	}
}

// thumbData is the bytes of a run's stored images, kept for their thumbnails; its
// bytes count against afterBytesBudget until the after-work is done with them.
type thumbData struct {
	byID  map[string][]byte
	bytes int64
	taken bool
}

// keepForThumbs copies the stored images' bytes for their thumbnails when thumbnails
// are made and the memory budget allows (the model's buffers go back to it once the
// images are stored); nil otherwise: the after-work reads the objects back.
func (s *Service) keepForThumbs(imgs []*easel.Image, data [][]byte) *thumbData {
	if !s.thumbnails || len(imgs) == 0 {
		return nil
	}
	var n int64
	for _, b := range data {
		n += int64(len(b))
	}
	if s.afterBytes.Add(n) > afterBytesBudget {
		s.afterBytes.Add(-n)
		return nil
	}
	td := &thumbData{byID: make(map[string][]byte, len(imgs)), bytes: n}
	for i, img := range imgs {
		td.byID[img.ID] = bytes.Clone(data[i])
	}
	return td
}

// drop gives the bytes back to the budget unless the after-work took them.
func (td *thumbData) drop(s *Service) {
	if td != nil && !td.taken {
		s.afterBytes.Add(-td.bytes)
	}
}

// kickAfterWork starts a job's after-work in this instance, with the bytes of the
// images this run kept for thumbnails.
func (s *Service) kickAfterWork(j *easel.Job, out outcome) {
	if j == nil || j.Notify.DueAt.IsZero() {
		return
	}
	item := afterItem{jobID: j.ID}
	if td := out.thumbs; td != nil && j.Status.Terminal() {
		td.taken = true
		item.data, item.bytes = td.byID, td.bytes
	}
	s.queueAfterWork(item)
}

// queueAfterWork queues an item without waiting; when the queue is full the reaper
// finds the job later.
func (s *Service) queueAfterWork(item afterItem) {
	s.afterPending.Add(1)
	select {
	case s.afterQ <- item:
	default:
		s.afterPending.Add(-1)
		s.afterBytes.Add(-item.bytes)
	}
}

// startAfterWork starts the after-work goroutines; stopAfter ends them.
func (s *Service) startAfterWork() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopAfter = cancel
	for range afterWorkers {
		s.afterDone.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case item := <-s.afterQ:
					s.afterWork(ctx, item)
					s.afterBytes.Add(-item.bytes)
					s.afterPending.Add(-1)
				}
			}
		})
	}
}

// afterWork does what is due for one job, then records its progress and when to try
// again.
func (s *Service) afterWork(ctx context.Context, item afterItem) {
	now := s.now()
	token := newToken()
	j, err := s.updateJob(ctx, item.jobID, func(j *easel.Job) error {
		if j.Notify.DueAt.IsZero() || j.Notify.DueAt.After(now) {
			return errSkip
		}
		if l := j.Notify.Lease; l != nil && l.Until.After(now) {
			return errSkip
		}
		j.Notify.Lease = &easel.JobLease{Owner: s.jobs.Instance, Token: token, Until: now.Add(afterLease)}
		return nil
	})
	if err != nil {
		if err != errSkip && !easel.IsCode(err, easel.ENotFound) {
			s.log.Warn("take a job's after-work", "job", item.jobID, "err", err)
		}
		return
	}
	n := j.Notify
	var next time.Time
	retryAt := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if s.thumbnails && j.Status.Terminal() && !n.Thumbs {
		if err := s.makeThumbs(ctx, j, item.data); err != nil {
			n.ThumbAttempts++
			if n.ThumbAttempts >= maxThumbAttempts {
				s.log.Warn("thumbnails: giving up", "job", j.ID, "attempts", n.ThumbAttempts, "err", err)
				n.Thumbs = true
			} else {
				s.log.Warn("thumbnails: will try again", "job", j.ID, "err", err)
				retryAt(s.now().Add(backoffAfter(n.ThumbAttempts)))
			}
		} else {
			n.Thumbs = true
		}
	}
	thumbsPending := s.thumbnails && j.Status.Terminal() && len(j.ImageIDs) > 0 && !n.Thumbs
	if j.Spec.Webhook != "" && s.jobs.Webhooks != nil {
		if t := s.deliverWebhook(ctx, j, &n, thumbsPending); !t.IsZero() {
			retryAt(t)
		}
	}
	if s.jobs.Events != nil {
		if t := s.publishEvents(ctx, j, &n, thumbsPending); !t.IsZero() {
			retryAt(t)
		}
	}
	processed := j.LastSeq()
	_, err = s.updateJob(ctx, j.ID, func(cur *easel.Job) error {
		if cur.Notify.Lease == nil || cur.Notify.Lease.Token != token {
			return errSkip // took too long; another instance took over
		}
		cur.Notify = n
		cur.Notify.Lease = nil
		cur.Notify.DueAt = next
		if cur.LastSeq() > processed || cur.Status != j.Status {
			// Events came meanwhile: look again at once.
			cur.Notify.DueAt = time.Time{}
			s.markAfterWork(cur, s.now())
		}
		return nil
	})
	if err != nil && err != errSkip {
		s.log.Warn("record a job's after-work", "job", j.ID, "err", err)
	}
}

// makeThumbs makes the missing thumbnails of a job's images.
func (s *Service) makeThumbs(ctx context.Context, j *easel.Job, data map[string][]byte) error {
	for _, id := range j.ImageIDs {
		img, err := s.catalog.GetImage(ctx, j.UserID, id)
		if easel.IsCode(err, easel.ENotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		if img.ThumbKey != "" {
			continue
		}
		b := data[id]
		if b == nil {
			if b, err = s.readObject(ctx, img); err != nil {
				return err
			}
		}
		s.thumbSem <- struct{}{}
		out, err := thumbnail.Make(b)
		<-s.thumbSem
		if err != nil {
			// Not an image the thumbnailer can read: the page shows the image itself.
			s.log.Warn("make thumbnail", "id", id, "err", err)
			continue
		}
		key := easel.ThumbKey(id, thumbnail.ContentType)
		if err := s.blobs.Put(ctx, key, out, thumbnail.ContentType); err != nil {
			return fmt.Errorf("store thumbnail %s: %w", id, err)
		}
		if err := s.catalog.SetThumbKey(ctx, j.UserID, id, key); err != nil {
			_ = s.blobs.Delete(ctx, key) // deleted meanwhile: leave nothing behind
			if !easel.IsCode(err, easel.ENotFound) {
				return fmt.Errorf("record thumbnail %s: %w", id, err)
			}
		}
	}
	return nil
}

// readObject reads an image's stored bytes (bounded by its recorded size).
func (s *Service) readObject(ctx context.Context, img *easel.Image) ([]byte, error) {
	rc, _, err := s.blobs.Get(ctx, img.Key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", img.Key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, img.Bytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", img.Key, err)
	}
	return b, nil
}

// webhookBody is what a webhook POSTs: the event's type and time, and the job as it
// was after the event (the image, for image.ready).
type webhookBody struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// deliverWebhook sends the job's events after n.WebhookSeq that its webhook asked
// for, in order, advancing n. It returns when to try again (zero: all sent). Terminal
// events wait for the thumbnails, so that their data carries thumbnail URLs.
func (s *Service) deliverWebhook(ctx context.Context, j *easel.Job, n *easel.JobNotify, thumbsPending bool) time.Time {
	var keys []string
	for _, ev := range j.Events {
		if ev.Seq <= n.WebhookSeq {
			continue
		}
		if !slices.Contains(j.Spec.WebhookEvents, ev.Type) {
			n.WebhookSeq = ev.Seq
			continue
		}
		if easel.IsTerminalEvent(ev.Type) && thumbsPending {
			return time.Time{} // the thumbnails' retry brings us back
		}
		if keys == nil {
			var err error
			if keys, err = s.signingKeys(ctx, j.UserID); err != nil {
				s.log.Warn("webhook keys", "user", j.UserID, "err", err)
				return s.now().Add(backoffAfter(1))
			}
		}
		body, err := s.eventBody(ctx, j, ev)
		if err == nil {
			// Receivers check webhook-timestamp against their own clock: it is the wall
			// clock's, whatever s.now says.
			err = s.jobs.Webhooks.Send(ctx, &easel.WebhookMessage{
				URL: j.Spec.Webhook, ID: eventID(j, ev), Timestamp: time.Now(), Body: body, Keys: keys,
			})
		}
		if err == nil {
			n.WebhookSeq, n.WebhookAttempts = ev.Seq, 0
			s.obs.Webhook("delivered")
			continue
		}
		n.WebhookAttempts++
		if easel.IsCode(err, easel.EInvalid) || s.now().Sub(ev.At) >= s.jobs.WebhookGiveUp {
			// A refused address (it resolves somewhere private now) or the retry
			// period is over: trying again would not help.
			s.log.Warn("webhook: giving up on an event", "job", j.ID, "event", ev.Type, "attempts", n.WebhookAttempts, "err", err)
			n.WebhookSeq, n.WebhookAttempts = ev.Seq, 0
			s.obs.Webhook("dropped")
			continue
		}
		s.log.Info("webhook: will try again", "job", j.ID, "event", ev.Type, "attempts", n.WebhookAttempts, "err", err)
		s.obs.Webhook("failed")
		return s.now().Add(webhookBackoff(n.WebhookAttempts))
	}
	return time.Time{}
}

// publishEvents publishes the job's terminal events after n.BusSeq to the event bus.
func (s *Service) publishEvents(ctx context.Context, j *easel.Job, n *easel.JobNotify, thumbsPending bool) time.Time {
	var batch []easel.Event
	last := n.BusSeq
	for _, ev := range j.Events {
		if ev.Seq <= n.BusSeq {
			continue
		}
		if easel.IsTerminalEvent(ev.Type) {
			if thumbsPending {
				break
			}
			detail, err := s.busDetail(ctx, j, ev)
			if err != nil {
				s.log.Warn("event detail", "job", j.ID, "err", err)
				return s.now().Add(backoffAfter(n.BusAttempts + 1))
			}
			batch = append(batch, easel.Event{ID: eventID(j, ev), Type: ev.Type, Time: ev.At, UserID: j.UserID, Detail: detail})
		}
		last = ev.Seq
	}
	if len(batch) > 0 {
		if err := s.jobs.Events.Publish(ctx, batch); err != nil {
			n.BusAttempts++
			if s.now().Sub(batch[0].Time) < s.jobs.WebhookGiveUp {
				s.log.Warn("publish job events: will try again", "job", j.ID, "attempts", n.BusAttempts, "err", err)
				return s.now().Add(webhookBackoff(n.BusAttempts))
			}
			s.log.Error("publish job events: giving up", "job", j.ID, "attempts", n.BusAttempts, "err", err)
		}
	}
	n.BusSeq, n.BusAttempts = last, 0
	return time.Time{}
}

// eventBody is what a webhook POSTs for an event: the envelope with the job as it
// was after the event (the image, for image.ready).
func (s *Service) eventBody(ctx context.Context, j *easel.Job, ev easel.JobEvent) ([]byte, error) {
	var data any
	if ev.Type == easel.EventImageReady {
		img, err := s.catalog.GetImage(ctx, j.UserID, ev.ImageID)
		switch {
		case easel.IsCode(err, easel.ENotFound):
			data = map[string]string{"id": ev.ImageID, "status": "deleted"}
		case err != nil:
			return nil, err
		default:
			if data, err = s.ViewImage(ctx, img); err != nil {
				return nil, err
			}
		}
	} else {
		v, err := s.ViewJob(ctx, j.AsOf(ev.Seq), ViewOptions{})
		if err != nil {
			return nil, err
		}
		data = v
	}
	return json.Marshal(webhookBody{Type: ev.Type, Timestamp: ev.At, Data: data})
}

// busDetail is the detail of a published event: the job as it was after the event.
func (s *Service) busDetail(ctx context.Context, j *easel.Job, ev easel.JobEvent) ([]byte, error) {
	v, err := s.ViewJob(ctx, j.AsOf(ev.Seq), ViewOptions{OmitPrompts: !s.jobs.EventsIncludePrompt})
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// eventID identifies an event across retries.
func eventID(j *easel.Job, ev easel.JobEvent) string {
	return "evt_" + j.ID + "_" + strconv.Itoa(ev.Seq)
}

// webhookBackoff is the wait before the next try of a failed delivery: about a second,
// then 5 s, 30 s (the third retry within a minute of the first try), 2, 5, 15 and
// 30 minutes, then hourly; each with jitter.
func webhookBackoff(attempt int) time.Duration {
	steps := []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute,
		5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour}
	d := steps[min(max(attempt, 1), len(steps))-1]
	return d*4/5 + time.Duration(rand.Int64N(int64(d*2/5)+1)) // within 20% of d
}

// backoffAfter is a plain capped exponential backoff with jitter.
func backoffAfter(attempt int) time.Duration {
	return jitter(min(time.Second<<min(attempt, 10), 10*time.Minute))
}
