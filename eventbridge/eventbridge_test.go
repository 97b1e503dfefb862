package eventbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/eventbridge"
	"github.com/easelhq/easel/eventbridge/eventbridgetest"
	"github.com/easelhq/easel/internal/awstest"
)

// newBus starts the fake with a bus "easel-events" and opens a Publisher on it.
func newBus(t *testing.T) (*eventbridgetest.Server, *eventbridge.Publisher) {
	t.Helper()
	srv := eventbridgetest.NewServer(t, eventbridgetest.WithBus("easel-events"))
	ak, sk := srv.Credentials()
	cfg := aws.Config{Region: srv.Region(), BaseEndpoint: aws.String(srv.URL()), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")}
	p, err := eventbridge.Open(context.Background(), cfg, "eventbridge://easel-events")
	if err != nil {
		t.Fatal(err)
	}
	return srv, p
}

var at = time.Date(2026, 11, 27, 10, 0, 0, 123_000_000, time.UTC)

func event(job string, seq int, typ, detail string) easel.Event {
	return easel.Event{ID: fmt.Sprintf("%s.%d", job, seq), Type: typ, Time: at, UserID: "alice", Detail: []byte(detail)}
}

func TestParseURL(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want eventbridge.Location
		err  string
	}{
		{"eventbridge://default", eventbridge.Location{Bus: "default"}, ""},
		{"eventbridge://Easel_events.prod-1?region=eu-west-1", eventbridge.Location{Bus: "Easel_events.prod-1", Region: "eu-west-1"}, ""},
		{"eventbridge://", eventbridge.Location{}, "1 to 256"},
		{"eventbridge://bus/x", eventbridge.Location{}, "want eventbridge://BUS"},
		{"eventbridge://bus?source=x", eventbridge.Location{}, "unknown parameter"},
		{"eventbridge://bus?region=", eventbridge.Location{}, "non-empty region"},
		{"sns://topic", eventbridge.Location{}, "scheme"},
		{"eventbridge://bu$", eventbridge.Location{}, "not allowed"},
	} {
		got, err := eventbridge.ParseURL(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseURL(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestPublish(t *testing.T) {
	srv, p := newBus(t)
	evs := []easel.Event{
		event("j1", 4, easel.EventJobSucceeded, `{"id":"j1","status":"succeeded"}`),
		event("j2", 3, easel.EventJobFailed, `{"id":"j2","status":"failed","error":{"code":"model_error","message":"x"}}`),
		event("j3", 2, easel.EventJobCanceled, `{"id":"j3","status":"canceled"}`),
	}
	if err := p.Publish(context.Background(), evs); err != nil {
		t.Fatalf("Publish = %v", err)
	}
	got := srv.Events()
	if len(got) != 3 {
		t.Fatalf("the bus got %d events, want 3", len(got))
	}
	wantTypes := []string{"Image Generation Succeeded", "Image Generation Failed", "Image Generation Canceled"}
	for i, g := range got {
		if g.Bus != "easel-events" || g.Source != "easel" || g.DetailType != wantTypes[i] || !g.Time.Equal(at) {
			t.Errorf("event %d = %+v, want bus easel-events, source easel, %q at %v", i, g, wantTypes[i], at)
		}
		var d struct {
			ID, Type, Timestamp string
			UserID              string `json:"user_id"`
			Data                json.RawMessage
		}
		if err := json.Unmarshal([]byte(g.Detail), &d); err != nil {
			t.Fatalf("detail %s: %v", g.Detail, err)
		}
		if d.ID != evs[i].ID || d.Type != evs[i].Type || d.UserID != "alice" || d.Timestamp != "2026-11-27T10:00:00.123Z" || string(d.Data) != string(evs[i].Detail) {
			t.Errorf("detail %d = %+v, want id %s, type %s, user alice, the time and the job", i, d, evs[i].ID, evs[i].Type)
		}
	}
	if err := p.Publish(context.Background(), nil); err != nil || srv.Calls() != 1 {
		t.Errorf("Publish(none) = %v after %d calls, want nothing sent", err, srv.Calls())
	}
}

func TestBatches(t *testing.T) {
	srv, p := newBus(t)
	var evs []easel.Event
	for i := range 25 {
		evs = append(evs, event(fmt.Sprintf("j%02d", i), 1, easel.EventJobSucceeded, `{}`))
	}
	if err := p.Publish(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if srv.Calls() != 3 {
		t.Errorf("25 events took %d calls, want 3 (10 entries each at most)", srv.Calls())
	}
	// 100 KB details: two fit in 256 KB, three do not.
	big := `{"x":"` + strings.Repeat("a", 100*1024) + `"}`
	evs = nil
	for i := range 5 {
		evs = append(evs, event(fmt.Sprintf("b%d", i), 1, easel.EventJobSucceeded, big))
	}
	if err := p.Publish(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls() - 3; n != 3 {
		t.Errorf("5 events of 100 KB took %d calls, want 3", n)
	}
	got := srv.Events()
	if len(got) != 30 {
		t.Fatalf("the bus got %d events, want 30", len(got))
	}
	for i, g := range got[25:] {
		if !strings.Contains(g.Detail, fmt.Sprintf(`"id":"b%d.1"`, i)) {
			t.Errorf("event %d out of order: %.60s", 25+i, g.Detail)
		}
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	srv, p := newBus(t)
	huge := `{"x":"` + strings.Repeat("a", 300*1024) + `"}`
	for _, tt := range []struct {
		name string
		ev   easel.Event
		want string
	}{
		{"entry over 256 KB", event("j", 1, easel.EventJobSucceeded, huge), "over EventBridge"},
		{"not a terminal event", event("j", 1, easel.EventJobRunning, `{}`), "not published"},
		{"detail not JSON", event("j", 1, easel.EventJobSucceeded, `{x`), "not a JSON object"},
		{"detail not an object", event("j", 1, easel.EventJobSucceeded, `[1]`), "not a JSON object"},
	} {
		err := p.Publish(context.Background(), []easel.Event{event("ok", 1, easel.EventJobSucceeded, `{}`), tt.ev})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Publish = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
	if srv.Calls() != 0 {
		t.Errorf("%d calls were made, want none: a batch that cannot be published is not sent in part", srv.Calls())
	}
}

func TestPartialFailures(t *testing.T) {
	ctx := context.Background()
	evs := []easel.Event{event("j1", 1, easel.EventJobSucceeded, `{}`), event("j2", 1, easel.EventJobFailed, `{}`), event("j3", 1, easel.EventJobCanceled, `{}`)}
	t.Run("retryable, then accepted", func(t *testing.T) {
		srv, p := newBus(t)
		srv.SetFault(eventbridgetest.Fault{FailEntries: 2, EntryErrorCode: "ThrottlingException", Times: 1})
		if err := p.Publish(ctx, evs); err != nil {
			t.Fatalf("Publish = %v, want the failed entries retried", err)
		}
		got := srv.Events()
		if srv.Calls() != 2 || len(got) != 3 {
			t.Errorf("%d calls, %d events; want 2 calls and each event once", srv.Calls(), len(got))
		}
		for i, id := range []string{"j3.1", "j1.1", "j2.1"} {
			if !strings.Contains(got[i].Detail, `"id":"`+id+`"`) {
				t.Errorf("event %d = %.40s, want %s: only the failed entries are sent again", i, got[i].Detail, id)
			}
		}
	})
	t.Run("retryable, never accepted", func(t *testing.T) {
		srv, p := newBus(t)
		srv.SetFault(eventbridgetest.Fault{FailEntries: 1})
		err := p.Publish(ctx, evs)
		if !easel.IsCode(err, easel.ERateLimited) || !strings.Contains(err.Error(), "j1.1: InternalFailure") {
			t.Errorf("Publish = %v, want ERateLimited naming j1.1", err)
		}
		if srv.Calls() != 3 {
			t.Errorf("%d calls, want 3 tries", srv.Calls())
		}
	})
	t.Run("not retryable", func(t *testing.T) {
		srv, p := newBus(t)
		srv.SetFault(eventbridgetest.Fault{FailEntries: 1, EntryErrorCode: "AccessDeniedException", Times: 1})
		err := p.Publish(ctx, evs)
		if err == nil || !strings.Contains(err.Error(), "1 of 3 events failed") || !strings.Contains(err.Error(), "AccessDeniedException") {
			t.Errorf("Publish = %v, want an error naming the failed event", err)
		}
		if srv.Calls() != 1 {
			t.Errorf("%d calls, want 1: a refusal is not retried", srv.Calls())
		}
	})
}

func TestErrors(t *testing.T) {
	srv, p := newBus(t)
	ctx := context.Background()
	evs := []easel.Event{event("j1", 1, easel.EventJobSucceeded, `{}`)}
	srv.SetFault(eventbridgetest.Fault{Exception: "ThrottlingException"})
	err := p.Publish(ctx, evs)
	var de *easel.Error
	if !easel.IsCode(err, easel.ERateLimited) || !errors.As(err, &de) || de.RetryAfter <= 0 {
		t.Errorf("Publish while throttled = %v, want ERateLimited with RetryAfter", err)
	}
	srv.SetFault(eventbridgetest.Fault{Exception: "AccessDeniedException"})
	if err := p.Publish(ctx, evs); !easel.IsCode(err, easel.EInternal) || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("Publish when denied = %v, want EInternal", err)
	}
	srv.SetFault(eventbridgetest.Fault{})
	ak, sk := srv.Credentials()
	cfg := aws.Config{Region: srv.Region(), BaseEndpoint: aws.String(srv.URL()), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")}
	missing, err := eventbridge.Open(ctx, cfg, "eventbridge://gone")
	if err != nil {
		t.Fatal(err)
	}
	if err := missing.Publish(ctx, evs); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("Publish to a missing bus = %v", err)
	}
	if _, err := eventbridge.Open(ctx, aws.Config{}, "eventbridge://default"); err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("Open without a region = %v", err)
	}
}

// TestStandardSettings publishes with a configuration loaded the way the service loads
// it: AWS_ENDPOINT_URL_EVENTBRIDGE, AWS_REGION and the default credential chain.
func TestStandardSettings(t *testing.T) {
	srv := eventbridgetest.NewServer(t)
	ak, sk := srv.Credentials()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_EVENTBRIDGE": srv.URL(), "AWS_REGION": srv.Region(),
		"AWS_ACCESS_KEY_ID": ak, "AWS_SECRET_ACCESS_KEY": sk, "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p, err := eventbridge.Open(context.Background(), cfg, "eventbridge://default")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(context.Background(), []easel.Event{event("j1", 1, easel.EventJobSucceeded, `{}`)}); err != nil {
		t.Fatalf("Publish = %v", err)
	}
	if got := srv.Events(); len(got) != 1 || got[0].Bus != "default" {
		t.Errorf("Events = %+v", got)
	}
}

// TestSharedProcess publishes to the EventBridge fake served as a process by
// scripts/services.sh.
func TestSharedProcess(t *testing.T) {
	ep := awstest.EventBridge(t)
	ak, sk := awstest.Credentials()
	cfg := aws.Config{Region: awstest.Region, BaseEndpoint: aws.String(ep.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")}
	p, err := eventbridge.Open(context.Background(), cfg, "eventbridge://default")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(context.Background(), []easel.Event{event("j1", 1, easel.EventJobSucceeded, `{}`)}); err != nil {
		t.Errorf("Publish = %v", err)
	}
}
