package service

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/easelhq/easel"
)

// modelBudget takes the model calls that n images need from the model's per-minute
// budget (JobConfig.ModelRates), shared by every instance through the catalog: a
// counter per model and minute. It returns how long to wait when this minute's
// budget is spent. If the catalog cannot count, the call goes ahead (the model's own
// throttling still protects the account).
func (s *Service) modelBudget(ctx context.Context, spec easel.ModelSpec, n int) (time.Duration, error) {
	limit := s.jobs.ModelRates[spec.ID]
	if limit <= 0 {
		return 0, nil
	}
	calls := 1
	if spec.ImagesPerCall > 0 {
		calls = (n + spec.ImagesPerCall - 1) / spec.ImagesPerCall
	}
	calls = min(calls, limit) // a request bigger than a minute's budget takes it all
	now := s.now().UTC()
	window := now.Truncate(time.Minute)
	_, err := s.catalog.AddUsage(ctx, modelBudgetUser(spec.ID), window.Format(modelBudgetPeriod), calls, limit)
	switch {
	case err == nil:
		return 0, nil
	case easel.IsCode(err, easel.EQuotaExceeded):
		s.obs.Rejected("model_rate")
		return window.Add(time.Minute).Sub(now) + jitter(2*time.Second), nil
	default:
		s.log.Warn("model budget: counting failed; calling anyway", "model", spec.ID, "err", err)
		return 0, nil
	}
}

// modelBudgetPeriod names a one-minute window of a model's budget.
const modelBudgetPeriod = "2006-01-02T15:04"

// modelBudgetUser is the usage counter owner of a model's budget: user ids cannot
// hold ':', so it never meets a real user's counter.
func modelBudgetUser(model string) string { return "model:" + model }

// jitter returns a random duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
