package bedrock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/easelhq/easel"
)

// errAttemptTimeout is the cause of a call cut off by Options.Timeout.
var errAttemptTimeout = errors.New("bedrock: call timed out")

// quotaRetryAfter is what a caller is told to wait after ServiceQuotaExceededException:
// Bedrock's on-demand quotas are per minute.
const quotaRetryAfter = time.Minute

// outcome is what to do about a failed call.
type outcome int

const (
	giveUp     outcome = iota // return the mapped error
	retryLater                // throttled, 5xx or not sent: retry after a backoff, boundedly
	retryOnce                 // timed out or cut off: the model may have billed it; retry at most once
)

// invoke calls InvokeModel with the Model's retry policy and returns the answer body,
// in a pooled buffer.
func (m *Model) invoke(ctx context.Context, body []byte) (*answerBuf, error) {
	retries, resent := 0, 0
	for attempt := 1; ; attempt++ {
		out, timedOut, err := m.attempt(ctx, body)
		if err == nil {
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, contextError(ctx)
		}
		what, final := m.classify(err, timedOut)
		switch {
		case what == retryLater && retries < m.opts.MaxRetries:
			retries++
			d := m.backoff(retries)
			m.log.Warn("bedrock call failed; retrying", "attempt", attempt, "code", final.Code, "wait", d, "err", err)
			if err := sleep(ctx, d); err != nil {
				return nil, contextError(ctx)
			}
		case what == retryOnce && resent < 1:
			resent++
			m.log.Warn("bedrock call timed out or was cut off; retrying once (it may be billed twice)", "attempt", attempt, "err", err)
		default:
			if what == retryLater { // throttled or 5xx: tell the caller when to come back
				final.RetryAfter = max(m.backoffCap(retries+1), time.Second)
			}
			if what != giveUp {
				m.log.Error("bedrock call failed; giving up", "attempts", attempt, "code", final.Code, "err", err)
			}
			return nil, final
		}
	}
}

// attempt makes one call, holding a concurrency slot for it. timedOut reports that
// Options.Timeout, not the caller, cut it off.
func (m *Model) attempt(ctx context.Context, body []byte) (out *answerBuf, timedOut bool, err error) {
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	defer func() { <-m.sem }()
	actx, cancel := context.WithTimeoutCause(ctx, m.opts.Timeout, errAttemptTimeout)
	defer cancel()
	res, err := m.client.InvokeModel(actx, &bedrockruntime.InvokeModelInput{
		ModelId:     aws.String(m.modelID),
		Body:        body,
		ContentType: aws.String("application/json"),
		Accept:      aws.String("application/json"),
	}, func(o *bedrockruntime.Options) {
		o.Retryer = aws.NopRetryer{}
		o.HTTPClient = ownBody{o.HTTPClient}
		o.APIOptions = append(o.APIOptions, m.readAnswer)
	})
	if err != nil {
		return nil, errors.Is(context.Cause(actx), errAttemptTimeout) && ctx.Err() == nil, err
	}
	if b, ok := res.ResultMetadata.Get(rawBodyKey{}).(*answerBuf); ok {
		return b, false, nil
	}
	return &answerBuf{b: res.Body}, false, nil
}

// classify maps a failed call's error to what to do and the domain error to return
// when no retry is left.
func (m *Model) classify(err error, timedOut bool) (outcome, *easel.Error) {
	if timedOut {
		return retryOnce, easel.WrapError(easel.EModelTimeout, err, "The model did not answer in time.")
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return m.classifyAPI(err, apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		// Nothing was sent: safe to retry like a 5xx.
		return retryLater, easel.WrapError(easel.EModelUnavailable, err, "The model service cannot be reached.")
	}
	// A connection cut after the request went out: the model may have run.
	return retryOnce, easel.WrapError(easel.EModelUnavailable, err, "The model service cannot be reached.")
}

func (m *Model) classifyAPI(err error, code, msg string) (outcome, *easel.Error) {
	switch code {
	case "ValidationException":
		switch messageSide(msg) {
		case filteredPrompt:
			return giveUp, contentPolicy(true, err)
		case filteredOutput:
			return giveUp, contentPolicy(false, err)
		}
		m.log.Warn("bedrock refused the request", "message", msg)
		return giveUp, easel.WrapError(easel.EInvalid, err, "The model refused the request: %s", truncate(msg, 200))
	case "ServiceQuotaExceededException":
		m.log.Error("BEDROCK SERVICE QUOTA EXCEEDED: raise the account's quota for this model or lower the load", "message", msg)
		return giveUp, &easel.Error{Code: easel.ERateLimited, RetryAfter: quotaRetryAfter, Err: err,
			Message: "The image model's quota is used up for now; try again later."}
	case "AccessDeniedException", "ResourceNotFoundException", "UnrecognizedClientException",
		"InvalidSignatureException", "ExpiredTokenException", "IncompleteSignatureException",
		"MissingAuthenticationTokenException":
		m.log.Error("bedrock model unavailable: check model access, IAM, region and the model's lifecycle", "code", code, "message", msg)
		return giveUp, easel.WrapError(easel.EModelUnavailable, err, "The image model is not available.")
	case "ModelTimeoutException":
		return retryOnce, easel.WrapError(easel.EModelTimeout, err, "The model did not answer in time.")
	case "ModelErrorException":
		m.log.Error("bedrock model error", "message", msg)
		return giveUp, easel.WrapError(easel.EModelError, err, "The model failed to produce an image.")
	case "ThrottlingException", "ModelNotReadyException", "TooManyRequestsException":
		return retryLater, easel.WrapError(easel.ERateLimited, err, "The image model is busy; try again shortly.")
	case "InternalServerException", "ServiceUnavailableException":
		return retryLater, easel.WrapError(easel.EModelUnavailable, err, "The image model is unavailable; try again shortly.")
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		switch s := respErr.HTTPStatusCode(); {
		case s == 429:
			return retryLater, easel.WrapError(easel.ERateLimited, err, "The image model is busy; try again shortly.")
		case s >= 500:
			return retryLater, easel.WrapError(easel.EModelUnavailable, err, "The image model is unavailable; try again shortly.")
		}
	}
	m.log.Error("bedrock call failed with an unexpected error", "code", code, "message", msg)
	return giveUp, easel.WrapError(easel.EModelError, err, "The model failed to produce an image.")
}

// contextError is the error for a request whose own context ended.
func contextError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return easel.WrapError(easel.EModelTimeout, ctx.Err(), "The model did not answer in time.")
	}
	return ctx.Err()
}

// backoffCap is the longest wait before the n-th retry: min(max, base*2^(n-1)).
func (m *Model) backoffCap(n int) time.Duration {
	if m.opts.BackoffBase < 0 {
		return 0
	}
	d := m.opts.BackoffBase
	for i := 1; i < n && d < m.opts.BackoffMax; i++ {
		d *= 2
	}
	return min(d, m.opts.BackoffMax)
}

// backoff is the wait before the n-th retry: uniform in [0, backoffCap(n)] ("full
// jitter"), so clients throttled together do not come back together.
func (m *Model) backoff(n int) time.Duration {
	c := m.backoffCap(n)
	if c <= 0 {
		return 0
	}
	return rand.N(c + 1)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ownBody hands the HTTP transport a request body of its own. The SDK closes the body
// it built as soon as response headers arrive; Go's transport may still be finishing
// the request write then (its check for extra body bytes), sees io.EOF as an error and
// closes the connection under the response being read ("use of closed network
// connection"), which turned a good answer into a failure. The body is small; copying
// it costs nothing.
type ownBody struct{ next bedrockruntime.HTTPClient }

func (c ownBody) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	return c.next.Do(req)
}
