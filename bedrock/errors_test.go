package bedrock_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/bedrock"
	"github.com/easelhq/easel/bedrock/bedrocktest"
)

// TestExceptionMapping injects every exception of Bedrock's InvokeModel table and
// checks the domain code, the retries (counted by the fake) and Retry-After.
func TestExceptionMapping(t *testing.T) {
	const maxRetries = 2
	tests := []struct {
		exception  string
		message    string
		code       string
		calls      int
		retryAfter bool
	}{
		{"ValidationException", "Malformed input request: #/seed: bad", easel.EInvalid, 1, false},
		{"ValidationException", "This request has been blocked by our content filters.", easel.EContentPolicy, 1, false},
		{"ServiceQuotaExceededException", "", easel.ERateLimited, 1, true},
		{"AccessDeniedException", "You don't have access to the model with the specified model ID.", easel.EModelUnavailable, 1, false},
		{"ResourceNotFoundException", "Model not found", easel.EModelUnavailable, 1, false},
		{"ModelTimeoutException", "", easel.EModelTimeout, 2, false},
		{"ModelErrorException", "", easel.EModelError, 1, false},
		{"ThrottlingException", "Too many requests", easel.ERateLimited, 1 + maxRetries, true},
		{"ModelNotReadyException", "", easel.ERateLimited, 1 + maxRetries, true},
		{"InternalServerException", "", easel.EModelUnavailable, 1 + maxRetries, true},
		{"ServiceUnavailableException", "", easel.EModelUnavailable, 1 + maxRetries, true},
	}
	for _, tt := range tests {
		t.Run(tt.exception, func(t *testing.T) {
			srv, client := newFake(t)
			m := newModel(t, client, "titan", bedrock.Options{MaxRetries: maxRetries})
			srv.SetFault(bedrocktest.Fault{Exception: tt.exception, Message: tt.message})
			_, err := m.Generate(context.Background(), &easel.GenerateRequest{Prompt: "a fox", Width: 512, Height: 512})
			var e *easel.Error
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Fatalf("Generate = %v, want code %s", err, tt.code)
			}
			if got := srv.Calls(bedrock.IDTitanImageV2); got != tt.calls {
				t.Errorf("Calls = %d, want %d", got, tt.calls)
			}
			if (e.RetryAfter > 0) != tt.retryAfter {
				t.Errorf("RetryAfter = %v, want set: %v", e.RetryAfter, tt.retryAfter)
			}
			if strings.Contains(e.Message, "Injected") {
				t.Errorf("Message %q leaks the backend's text", e.Message)
			}
		})
	}
}

func TestThrottlingRetriedThenSucceeds(t *testing.T) {
	srv, client := newFake(t)
	m := newModel(t, client, "core", bedrock.Options{MaxRetries: 3})
	srv.SetFault(bedrocktest.Fault{Exception: "ThrottlingException", Times: 2})
	g, err := m.Generate(context.Background(), &easel.GenerateRequest{Prompt: "a fox"})
	if err != nil || len(g.Images) != 1 {
		t.Fatalf("Generate = %v, %v; want one image", g, err)
	}
	if got := srv.Calls(bedrock.IDStableImageCore); got != 3 {
		t.Errorf("Calls = %d, want 3", got)
	}
}

func TestRetryAfterFromBackoff(t *testing.T) {
	srv, client := newFake(t)
	m := newModel(t, client, "core", bedrock.Options{MaxRetries: -1, BackoffBase: 3 * time.Second, BackoffMax: 10 * time.Second})
	srv.SetFault(bedrocktest.Fault{Exception: "ThrottlingException"})
	_, err := m.Generate(context.Background(), &easel.GenerateRequest{Prompt: "a fox"})
	var e *easel.Error
	if !errors.As(err, &e) || e.Code != easel.ERateLimited || e.RetryAfter != 3*time.Second {
		t.Fatalf("Generate = %v (RetryAfter %v), want rate_limited after 3s", err, e.RetryAfter)
	}
	if got := srv.Calls(bedrock.IDStableImageCore); got != 1 {
		t.Errorf("Calls = %d, want 1 with retries off", got)
	}
}

// TestBackoffHonoursContext checks that a caller's deadline ends a retry wait.
func TestBackoffHonoursContext(t *testing.T) {
	srv, client := newFake(t)
	m := newModel(t, client, "core", bedrock.Options{BackoffBase: time.Hour, BackoffMax: time.Hour})
	srv.SetFault(bedrocktest.Fault{Exception: "ThrottlingException"})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := m.Generate(ctx, &easel.GenerateRequest{Prompt: "a fox"})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Generate took %v; the backoff ignored the context", d)
	}
	if err == nil {
		t.Errorf("Generate = nil error, want one")
	}
}

// TestTimeoutRetriedAtMostOnce: InvokeModel has no idempotency token, so a call that
// timed out is retried once and no more; the fake's counter shows the model was
// billed at most twice.
func TestTimeoutRetriedAtMostOnce(t *testing.T) {
	srv, client := newFake(t)
	m := newModel(t, client, "ultra", bedrock.Options{Timeout: 500 * time.Millisecond, MaxRetries: 5})
	srv.SetFault(bedrocktest.Fault{Delay: 10 * time.Second})
	start := time.Now()
	_, err := m.Generate(context.Background(), &easel.GenerateRequest{Prompt: "a fox"})
	if got := easel.ErrorCode(err); got != easel.EModelTimeout {
		t.Errorf("Generate = %v, want code %s", err, easel.EModelTimeout)
	}
	if got := srv.Calls(bedrock.IDStableImageUltra); got != 2 {
		t.Errorf("Calls = %d, want 2 (one retry after a timeout)", got)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Generate took %v, want about 2 × 500ms", d)
	}

	// One slow call, then a quick one: the retry succeeds.
	srv.SetFault(bedrocktest.Fault{Delay: 10 * time.Second, Times: 1})
	g, err := m.Generate(context.Background(), &easel.GenerateRequest{Prompt: "a fox"})
	if err != nil || len(g.Images) != 1 {
		t.Errorf("Generate after one timeout = %v, %v; want one image", g, err)
	}
	if got := srv.Calls(bedrock.IDStableImageUltra); got != 4 {
		t.Errorf("Calls = %d, want 4", got)
	}
}

func TestCallerDeadlineIsModelTimeout(t *testing.T) {
	srv, client := newFake(t)
	m := newModel(t, client, "core", bedrock.Options{})
	srv.SetFault(bedrocktest.Fault{Delay: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := m.Generate(ctx, &easel.GenerateRequest{Prompt: "a fox"})
	if got := easel.ErrorCode(err); got != easel.EModelTimeout {
		t.Errorf("Generate = %v, want code %s", err, easel.EModelTimeout)
	}
	if got := srv.Calls(bedrock.IDStableImageCore); got != 1 {
		t.Errorf("Calls = %d, want 1: the caller's own deadline is not retried", got)
	}
}

func TestContentFilters(t *testing.T) {
	tests := []struct {
		name     string
		model    string
		req      easel.GenerateRequest
		fault    bedrocktest.Fault
		code     string // "" for success
		param    string
		images   int
		filtered int
		calls    int
	}{
		{"prompt 400 stability", "core", easel.GenerateRequest{Prompt: "bad", N: 3},
			bedrocktest.Fault{FilterPrompt: true}, easel.EContentPolicy, "prompt", 0, 0, -1},
		{"prompt 400 amazon", "titan", easel.GenerateRequest{Prompt: "bad", Width: 512, Height: 512, N: 2},
			bedrocktest.Fault{FilterPrompt: true}, easel.EContentPolicy, "prompt", 0, 0, 1},
		{"prompt finish reason", "ultra", easel.GenerateRequest{Prompt: "bad"},
			bedrocktest.Fault{FilterPromptInBody: true}, easel.EContentPolicy, "prompt", 0, 0, 1},
		{"output finish reason", "sd3.5", easel.GenerateRequest{Prompt: "ok"},
			bedrocktest.Fault{FilterOutput: 1}, easel.EContentPolicy, "", 0, 0, 1},
		{"output partial stability", "core", easel.GenerateRequest{Prompt: "ok", N: 3},
			bedrocktest.Fault{FilterOutput: 1, Times: 1}, "", "", 2, 1, 3},
		{"output partial amazon", "nova-canvas", easel.GenerateRequest{Prompt: "ok", Width: 320, Height: 320, N: 3},
			bedrocktest.Fault{FilterOutput: 1}, "", "", 2, 1, 1},
		{"output all amazon", "titan", easel.GenerateRequest{Prompt: "ok", Width: 512, Height: 512, N: 2},
			bedrocktest.Fault{FilterOutput: 2}, easel.EContentPolicy, "", 0, 0, 1},
		{"output sdxl", bedrock.IDSDXL, easel.GenerateRequest{Prompt: "ok", Width: 640, Height: 1536},
			bedrocktest.Fault{FilterOutput: 1}, easel.EContentPolicy, "", 0, 0, 1},
		{"inference error", "core", easel.GenerateRequest{Prompt: "ok"},
			bedrocktest.Fault{InferenceError: true}, easel.EModelError, "", 0, 0, 1},
		{"only matching prompt", "core", easel.GenerateRequest{Prompt: "a harmless fox"},
			bedrocktest.Fault{FilterPrompt: true, Prompt: "forbidden"}, "", "", 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, client := newFake(t)
			m := newModel(t, client, tt.model, bedrock.Options{MaxRetries: 3})
			srv.SetFault(tt.fault)
			g, err := m.Generate(context.Background(), &tt.req)
			if got := easel.ErrorCode(err); got != tt.code {
				t.Fatalf("Generate = %v, want code %q", err, tt.code)
			}
			if err != nil {
				var e *easel.Error
				errors.As(err, &e)
				if e.Param != tt.param {
					t.Errorf("Param = %q, want %q", e.Param, tt.param)
				}
				want := "generated image"
				if tt.param == "prompt" {
					want = "prompt"
				}
				if tt.code == easel.EContentPolicy && !strings.Contains(e.Message, want) {
					t.Errorf("Message %q does not say the %s was filtered", e.Message, want)
				}
			} else if len(g.Images) != tt.images || g.Filtered != tt.filtered {
				t.Errorf("Generate = %d images, %d filtered; want %d, %d", len(g.Images), g.Filtered, tt.images, tt.filtered)
			}
			// A filter is never retried. A prompt refused in one of several parallel
			// calls cancels the others, so their count is not fixed.
			if got := srv.Calls(bedrock.ResolveAlias(tt.model)); tt.calls >= 0 && got != tt.calls {
				t.Errorf("Calls = %d, want %d", got, tt.calls)
			}
		})
	}
}

// TestConcurrencyLimit checks that a model never has more calls in flight than
// MaxConcurrency, across the fan-out of one request and across requests.
func TestConcurrencyLimit(t *testing.T) {
	srv, client := newFake(t, bedrocktest.WithLatency(60*time.Millisecond))
	m := newModel(t, client, "core", bedrock.Options{MaxConcurrency: 2})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			g, err := m.Generate(context.Background(), &easel.GenerateRequest{Prompt: "a fox", N: 4})
			if err != nil || len(g.Images) != 4 {
				t.Errorf("Generate = %v, %v; want 4 images", g, err)
			}
		})
	}
	wg.Wait()
	if got := srv.MaxInFlight(bedrock.IDStableImageCore); got != 2 {
		t.Errorf("MaxInFlight = %d, want 2", got)
	}
	if got := srv.Calls(bedrock.IDStableImageCore); got != 12 {
		t.Errorf("Calls = %d, want 12", got)
	}

	// Waiting for a slot honours the caller's context.
	srv.SetFault(bedrocktest.Fault{Delay: 2 * time.Second})
	busy, cancelBusy := context.WithCancel(context.Background())
	var holders sync.WaitGroup
	defer func() { cancelBusy(); holders.Wait() }()
	for range 2 {
		holders.Go(func() { _, _ = m.Generate(busy, &easel.GenerateRequest{Prompt: "a slow fox"}) })
	}
	for srv.MaxInFlight(bedrock.IDStableImageCore) < 2 || srv.Calls(bedrock.IDStableImageCore) < 14 {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := m.Generate(ctx, &easel.GenerateRequest{Prompt: "a fox"})
	if got := easel.ErrorCode(err); got != easel.EModelTimeout || time.Since(start) > time.Second {
		t.Errorf("Generate while the slots are busy = %v after %v, want model_timeout after ~100ms", err, time.Since(start))
	}
	if got := srv.Calls(bedrock.IDStableImageCore); got != 14 {
		t.Errorf("Calls = %d, want 14: the waiting request never reached the model", got)
	}
}

// TestBadSignatureRejected checks the fake's SigV4 check end to end: a client with a
// wrong secret is refused (and not billed), and the adapter reports the model as
// unavailable.
func TestBadSignatureRejected(t *testing.T) {
	srv := bedrocktest.NewServer(t, bedrocktest.WithSmallImages())
	key, _ := srv.Credentials()
	setAWSEnv(t, srv.URL(), srv.Region(), key, "not-the-secret")
	m := newModel(t, runtimeClient(t), "core", bedrock.Options{})
	_, err := m.Generate(context.Background(), &easel.GenerateRequest{Prompt: "a fox"})
	if got := easel.ErrorCode(err); got != easel.EModelUnavailable {
		t.Errorf("Generate with a bad secret = %v, want code %s", err, easel.EModelUnavailable)
	}
	if !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Errorf("error %v does not name InvalidSignatureException", err)
	}
	if got := srv.Calls(bedrock.IDStableImageCore); got != 0 {
		t.Errorf("Calls = %d, want 0", got)
	}

	// Unsigned: 403 with Bedrock's error header.
	resp, err := http.Post(srv.URL()+"/model/stability.stable-image-core-v1%3A1/invoke", "application/json", strings.NewReader(`{"prompt":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("X-Amzn-ErrorType"), "MissingAuthenticationTokenException:") {
		t.Errorf("unsigned POST = %d %q, want 403 MissingAuthenticationTokenException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}

	// Signed for the wrong region.
	secretKey, secret := srv.Credentials()
	setAWSEnv(t, srv.URL(), "eu-west-1", secretKey, secret)
	m = newModel(t, runtimeClient(t), "core", bedrock.Options{})
	if _, err := m.Generate(context.Background(), &easel.GenerateRequest{Prompt: "a fox"}); easel.ErrorCode(err) != easel.EModelUnavailable {
		t.Errorf("Generate signed for another region = %v, want model_unavailable", err)
	}
}

// TestUnreachableIsUnavailable: nothing listens, the dial fails, the call is retried
// (nothing was sent) and then reported as unavailable.
func TestUnreachableIsUnavailable(t *testing.T) {
	srv := bedrocktest.NewServer(t)
	key, secret := srv.Credentials()
	url := srv.URL()
	srv.Close()
	setAWSEnv(t, url, srv.Region(), key, secret)
	m := newModel(t, runtimeClient(t), "core", bedrock.Options{MaxRetries: 1})
	_, err := m.Generate(context.Background(), &easel.GenerateRequest{Prompt: "a fox"})
	if got := easel.ErrorCode(err); got != easel.EModelUnavailable {
		t.Errorf("Generate = %v, want code %s", err, easel.EModelUnavailable)
	}
}
