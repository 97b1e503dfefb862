package service

import (
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/easelhq/easel"
)

// RateStatus describes a user's request budget, for the RateLimit-* headers of the
// IETF draft (draft-ietf-httpapi-ratelimit-headers-06): a quota of Limit requests per
// Window, served from a token bucket of Burst.
type RateStatus struct {
	Limit     int           // requests per Window: the rate
	Window    time.Duration // the rate's time window
	Burst     int           // bucket size: requests that may come at once
	Remaining int           // whole tokens left now
	Reset     time.Duration // until the bucket is full again
}

// quota expresses a rate of perMinute requests per minute as whole requests per a
// whole number of seconds: 60 per 60 s, or for a fractional rate 1 per 60/rate s
// (0.5 per minute: 1 per 120 s; 1.5: 1 per 40 s).
func quota(perMinute float64) (int, time.Duration) {
	if perMinute >= 1 && perMinute == math.Trunc(perMinute) {
		return int(perMinute), time.Minute
	}
	return 1, time.Duration(math.Ceil(60/perMinute)) * time.Second
}

// userLimiter holds per-user token buckets and in-progress counts. Idle users are
// forgotten, so memory stays bounded by the users active in the last few minutes.
type userLimiter struct {
	limits Limits
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	running map[string]int
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newUserLimiter(l Limits, now func() time.Time) *userLimiter {
	return &userLimiter{limits: l, now: now, buckets: map[string]*bucket{}, running: map[string]int{}}
}

func (u *userLimiter) burst() int {
	if u.limits.UserBurst > 0 {
		return u.limits.UserBurst
	}
	return max(1, int(u.limits.UserRate/6))
}

// allow takes one token from the user's bucket, or returns ERateLimited with the wait.
// The returned func gives the token back (for a request that turns out to cost nothing).
func (u *userLimiter) allow(user string) (func(), error) {
	if u.limits.UserRate <= 0 {
		return func() {}, nil
	}
	now := u.now()
	u.mu.Lock()
	defer u.mu.Unlock()
	u.forgetIdle(now)
	b := u.buckets[user]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(u.limits.UserRate/60), u.burst())}
		u.buckets[user] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return nil, &easel.Error{
			Code:       easel.ERateLimited,
			Message:    "Too many requests: try again in " + seconds(d) + ".",
			RetryAfter: d,
		}
	}
	return func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		// At the reservation's own time: Cancel restores nothing for a reservation
		// that has acted already (its time is past), which an immediate one has.
		r.CancelAt(now)
	}, nil
}

// status returns the user's budget now, without taking from it.
func (u *userLimiter) status(user string) RateStatus {
	if u.limits.UserRate <= 0 {
		return RateStatus{}
	}
	now := u.now()
	u.mu.Lock()
	defer u.mu.Unlock()
	lim := rate.NewLimiter(rate.Limit(u.limits.UserRate/60), u.burst())
	if b := u.buckets[user]; b != nil {
		lim = b.lim
	}
	tokens := lim.TokensAt(now)
	burst := lim.Burst()
	missing := float64(burst) - tokens
	reset := time.Duration(missing / float64(lim.Limit()) * float64(time.Second))
	limit, window := quota(u.limits.UserRate)
	return RateStatus{Limit: limit, Window: window, Burst: burst, Remaining: max(0, int(math.Floor(tokens))), Reset: reset}
}

// forgetIdle drops buckets that have been full for a while (at most once a minute).
func (u *userLimiter) forgetIdle(now time.Time) {
	if now.Sub(u.swept) < time.Minute {
		return
	}
	u.swept = now
	for user, b := range u.buckets {
		if now.Sub(b.seen) > 10*time.Minute {
			delete(u.buckets, user)
		}
	}
}

// begin counts a generation in progress for user, or returns ERateLimited when the
// user has UserConcurrency of them already. The returned func ends it.
func (u *userLimiter) begin(user string) (func(), error) {
	if u.limits.UserConcurrency <= 0 {
		return func() {}, nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.running[user] >= u.limits.UserConcurrency {
		return nil, &easel.Error{
			Code:       easel.ERateLimited,
			Message:    "You have " + strconv.Itoa(u.limits.UserConcurrency) + " generations in progress already; wait for one to finish.",
			RetryAfter: time.Second,
		}
	}
	u.running[user]++
	return func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		if u.running[user]--; u.running[user] <= 0 {
			delete(u.running, user)
		}
	}, nil
}

// canBegin reports whether user may start one more generation now.
func (u *userLimiter) canBegin(user string) bool {
	if u.limits.UserConcurrency <= 0 {
		return true
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.running[user] < u.limits.UserConcurrency
}

// RateStatus returns the user's request budget, for RateLimit-* headers. Limit is 0
// when requests are not rate limited.
func (s *Service) RateStatus(user string) RateStatus { return s.users.status(user) }

// AcquireInflight reserves one of the instance's generation slots without waiting.
// It returns EOverloaded when none is free; callers do this before reading the body,
// so overload is shed cheaply. The returned func frees the slot.
func (s *Service) AcquireInflight() (func(), error) {
	if s.inflight == nil {
		return func() {}, nil
	}
	select {
	case s.inflight <- struct{}{}:
		return func() { <-s.inflight; s.wakeDispatcher() }, nil
	default:
		s.obs.Rejected("inflight")
		return nil, &easel.Error{
			Code:       easel.EOverloaded,
			Message:    "The service is at capacity; try again shortly.",
			RetryAfter: 2 * time.Second,
		}
	}
}

// InFlight returns the generations in progress on this instance.
func (s *Service) InFlight() int { return len(s.inflight) }

func seconds(d time.Duration) string {
	n := int(math.Ceil(d.Seconds()))
	if n == 1 {
		return "1 second"
	}
	return strconv.Itoa(n) + " seconds"
}
