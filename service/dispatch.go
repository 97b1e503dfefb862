package service

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/easelhq/easel"
)

// The dispatcher feeds this instance's workers from the queue, fairly between users:
//
//   - a receiver long-polls the queue and hands over what it gets; the dispatcher
//     holds received messages (at most maxHeld, renewing their visibility) instead
//     of starting them in arrival order;
//   - whenever a worker and an instance slot are free, it starts a held job of the
//     user who has the fewest jobs running here (the oldest of theirs), skipping
//     users at their concurrency limit;
//   - held messages count as in flight, so a queue that knows tenants (the SQLite
//     queue; SQS fair queues, by MessageGroupId) gives the next receives to users
//     with fewer messages in flight: one user's 500 queued jobs do not keep another
//     user's one waiting behind them.
type dispatcher struct {
	s       *Service
	q       easel.Queue
	maxHeld int

	held    map[string][]*easel.Delivery // by user, oldest first
	heldN   int
	running map[string]int // queued jobs running here, by user
	active  int

	recv   chan []*easel.Delivery
	want   chan int
	asking bool
	wake   chan struct{}
	wg     sync.WaitGroup // runs started by the dispatcher

	mu       sync.Mutex
	finished []string // users whose runs ended since the last pick
}

// receiveWait is the long-polling wait of one Receive.
const receiveWait = 20 * time.Second

// StartWorkers starts this instance's job machinery: the dispatcher and its workers
// (when a queue is configured) and the reaper. (The after-work of jobs run here,
// thumbnails and notifications, runs from New on.) StopWorkers stops it.
func (s *Service) StartWorkers() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopBackground = cancel
	if s.jobs.RecoverOnStart {
		s.recoverRunning(ctx)
	}
	if s.jobs.Queue != nil {
		d := &dispatcher{
			s: s, q: s.jobs.Queue, maxHeld: max(2*s.jobs.Workers, 10),
			held: map[string][]*easel.Delivery{}, running: map[string]int{},
			recv: make(chan []*easel.Delivery), want: make(chan int, 1), wake: s.dispatchWake,
		}
		s.dispatcher = d
		s.background.Go(func() { d.receive(ctx) })
		s.background.Go(func() { d.loop(ctx) })
	}
	s.background.Go(func() { s.runReaper(ctx) })
}

// StopWorkers drains the job machinery: it stops taking jobs, hands held messages
// back, lets running jobs finish until ctx ends, then hands the rest back to the queue
// (keeping their stored images) so that another worker runs them.
func (s *Service) StopWorkers(ctx context.Context) {
	s.StopTaking()
	defer s.stopAfterWork(ctx)
	done := make(chan struct{})
	go func() {
		if s.dispatcher != nil {
			s.dispatcher.wg.Wait()
		}
		s.waitRuns() // synchronous requests' runs
		close(done)
	}()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	s.runsMu.Lock()
	for _, r := range s.runs {
		r.cancel(errDrain)
	}
	s.runsMu.Unlock()
	// The hand-backs are a few catalog and queue writes each.
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.log.Warn("some jobs did not hand back in time; their leases will end")
	}
}

// stopAfterWork lets the after-work queued in memory finish until ctx ends, then stops
// the after-work goroutines. What is left is found again by a reaper (Job.Notify.DueAt).
func (s *Service) stopAfterWork(ctx context.Context) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.afterPending.Load() > 0 {
		select {
		case <-ctx.Done():
			s.log.Info("after-work left for later", "jobs", s.afterPending.Load())
			s.stopAfter()
			s.afterDone.Wait()
			return
		case <-t.C:
		}
	}
	s.stopAfter()
	s.afterDone.Wait()
}

// waitRuns returns when no job runs here. (Runs of synchronous requests may start
// while it waits: the HTTP server is still draining them.)
func (s *Service) waitRuns() {
	for {
		s.runsMu.Lock()
		n := len(s.runs)
		s.runsMu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// StopTaking stops taking jobs from the queue (held messages are handed back) and
// stops the reaper and the after-work; jobs running go on. It returns when those have
// stopped. StopWorkers calls it.
func (s *Service) StopTaking() {
	if s.stopBackground != nil {
		s.stopBackground()
	}
	s.background.Wait()
}

// wakeDispatcher tells the dispatcher that a slot may be free.
func (s *Service) wakeDispatcher() {
	select {
	case s.dispatchWake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) receive(ctx context.Context) {
	backoff := time.Second
	for {
		var room int
		select {
		case <-ctx.Done():
			return
		case room = <-d.want:
		}
		var ds []*easel.Delivery
		for {
			var err error
			ds, err = d.q.Receive(ctx, min(room, 10), receiveWait, d.s.jobs.Lease)
			if err == nil || ctx.Err() != nil {
				backoff = time.Second
				break
			}
			d.s.log.Warn("receive from the job queue", "err", err, "retry_in", backoff.String())
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
		}
		select {
		case <-ctx.Done():
			d.handBackAll(ds)
			return
		case d.recv <- ds:
		}
	}
}

func (d *dispatcher) loop(ctx context.Context) {
	extend := time.NewTicker(d.s.jobs.Lease / 3)
	defer extend.Stop()
	for {
		d.start()
		if !d.asking && d.heldN < d.maxHeld {
			d.asking = true
			d.want <- d.maxHeld - d.heldN
		}
		select {
		case <-ctx.Done():
			for _, ds := range d.held {
				d.handBackAll(ds)
			}
			d.held, d.heldN = map[string][]*easel.Delivery{}, 0
			return
		case ds := <-d.recv:
			d.asking = false
			for _, del := range ds {
				d.held[del.Group] = append(d.held[del.Group], del)
				d.heldN++
			}
		case <-d.wake:
		case <-extend.C:
			d.extendHeld(ctx)
		}
	}
}

// start starts held jobs while workers and instance slots are free.
func (d *dispatcher) start() {
	d.collect()
	for d.active < d.s.jobs.Workers && d.heldN > 0 {
		user := d.pick()
		if user == "" {
			return
		}
		slot, err := d.s.AcquireInflight()
		if err != nil {
			return // synchronous requests hold every slot; a release wakes us
		}
		userDone, err := d.s.users.begin(user)
		if err != nil {
			slot() // raced with a synchronous request of the same user
			return
		}
		del := d.held[user][0]
		d.held[user] = d.held[user][1:]
		if len(d.held[user]) == 0 {
			delete(d.held, user)
		}
		d.heldN--
		d.active++
		d.running[user]++
		d.wg.Go(func() {
			d.s.runDelivery(del, func() { userDone(); slot() })
			d.ended(user)
		})
	}
}

// ended is called by a run's goroutine when it is over.
func (d *dispatcher) ended(user string) {
	d.mu.Lock()
	d.finished = append(d.finished, user)
	d.mu.Unlock()
	d.s.wakeDispatcher()
}

// pick returns the user whose held job should start next: fewest running here, then
// the oldest held message; users at their concurrency limit are skipped.
func (d *dispatcher) pick() string {
	best := ""
	for user, ds := range d.held {
		if !d.s.users.canBegin(user) {
			continue
		}
		if best == "" || d.running[user] < d.running[best] ||
			(d.running[user] == d.running[best] && ds[0].SentAt.Before(d.held[best][0].SentAt)) {
			best = user
		}
	}
	return best
}

// collect counts the runs that ended.
func (d *dispatcher) collect() {
	d.mu.Lock()
	for _, u := range d.finished {
		d.active--
		if d.running[u]--; d.running[u] <= 0 {
			delete(d.running, u)
		}
	}
	d.finished = d.finished[:0]
	d.mu.Unlock()
}

func (d *dispatcher) extendHeld(ctx context.Context) {
	for user, ds := range d.held {
		kept := ds[:0]
		for _, del := range ds {
			err := d.q.Extend(ctx, del, d.s.jobs.Lease)
			if easel.IsCode(err, easel.ENotFound) {
				d.heldN-- // deleted or redelivered elsewhere
				continue
			}
			if err != nil {
				d.s.log.Warn("extend held queue message", "job", del.JobID, "err", err)
			}
			kept = append(kept, del)
		}
		if len(kept) == 0 {
			delete(d.held, user)
		} else {
			d.held[user] = kept
		}
	}
}

// handBackAll makes received messages visible again at once.
func (d *dispatcher) handBackAll(ds []*easel.Delivery) {
	for _, del := range ds {
		if err := d.q.Extend(context.Background(), del, 0); err != nil && !easel.IsCode(err, easel.ENotFound) {
			d.s.log.Warn("hand back queue message", "job", del.JobID, "err", err)
		}
	}
}

// runDelivery claims the job of a queue message and runs it; release frees the slots
// the dispatcher took for it.
func (s *Service) runDelivery(del *easel.Delivery, release func()) {
	ctx := context.Background()
	if del.Dead {
		release()
		s.failDead(ctx, del)
		return
	}
	j, lease, err := s.claim(ctx, del.JobID)
	switch {
	case errors.Is(err, errSkip) || easel.IsCode(err, easel.ENotFound):
		// Ended, held by a live worker (a duplicate), or gone: the message is spent.
		release()
		s.deleteDelivery(del)
		return
	case errors.Is(err, errNotYet):
		// Backing off after throttling: a new message with the delay (SQS caps delays
		// at 15 minutes; a message that comes too early is delayed again).
		release()
		if serr := s.send(ctx, j, j.NotBefore.Sub(s.now())); serr == nil {
			s.deleteDelivery(del)
		}
		return
	case err != nil:
		release()
		s.log.Warn("claim job", "job", del.JobID, "err", err)
		return // the message comes back after its visibility timeout
	}
	s.execute(s.newRun(j, lease, del, release))
}
