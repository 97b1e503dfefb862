package service_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/eventbridge"
	"github.com/easelhq/easel/eventbridge/eventbridgetest"
	"github.com/easelhq/easel/service"
)

// Terminal job events reach the event bus through the real EventBridge adapter (to its
// wire fake): one per job, with the job as detail and without prompts unless asked.
func TestJobEventsPublished(t *testing.T) {
	for _, withPrompt := range []bool{false, true} {
		t.Run(map[bool]string{false: "without prompts", true: "with prompts"}[withPrompt], func(t *testing.T) {
			bus := eventbridgetest.NewServer(t, eventbridgetest.WithBus("easel-events"))
			ak, sk := bus.Credentials()
			cfg := aws.Config{Region: bus.Region(), BaseEndpoint: aws.String(bus.URL()), RetryMaxAttempts: 1,
				Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")}
			pub, err := eventbridge.Open(context.Background(), cfg, "eventbridge://easel-events")
			if err != nil {
				t.Fatal(err)
			}
			e := newJobEnv(t, func(c *service.Config) {
				c.Jobs.Events = pub
				c.Jobs.EventsIncludePrompt = withPrompt
			})
			e.svc.StartWorkers()
			ok := e.submit(t, e.alice, "a secret prompt", service.JobOptions{})
			canceled := e.submit(t, e.alice, "never run", service.JobOptions{})
			_, _ = e.svc.CancelJob(context.Background(), e.alice, canceled.ID) // may have started already
			e.wait(t, e.alice, ok.ID)
			e.wait(t, e.alice, canceled.ID)
			deadline := time.Now().Add(10 * time.Second)
			for len(bus.Events()) < 2 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			evs := bus.Events()
			if len(evs) != 2 {
				t.Fatalf("the bus got %d events, want 2 (one per ended job)", len(evs))
			}
			for _, ev := range evs {
				var d struct {
					ID, Type string
					UserID   string `json:"user_id"`
					Data     struct {
						ID      string
						Status  easel.JobStatus
						Request struct{ Prompt string }
					}
				}
				if err := json.Unmarshal([]byte(ev.Detail), &d); err != nil {
					t.Fatalf("detail %s: %v", ev.Detail, err)
				}
				if ev.Source != "easel" || !strings.HasPrefix(ev.DetailType, "Image Generation ") || d.UserID != "alice" ||
					(d.Data.ID != ok.ID && d.Data.ID != canceled.ID) || !d.Data.Status.Terminal() {
					t.Errorf("event = %+v, detail %+v", ev, d)
				}
				if hasPrompt := strings.Contains(ev.Detail, "secret prompt") || strings.Contains(ev.Detail, "never run"); hasPrompt != withPrompt {
					t.Errorf("prompt in the published detail = %v, want %v: %s", hasPrompt, withPrompt, ev.Detail)
				}
			}
		})
	}
}
