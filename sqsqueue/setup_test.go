package sqsqueue_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/easelhq/easel/sqsqueue"
	"github.com/easelhq/easel/sqsqueue/sqstest"
)

// env is an SQS fake on loopback with a queue "jobs" and a dead-letter queue
// "jobs-dead", an SDK configuration that reaches it through the standard settings
// only, and a plain client for checks behind the adapter's back.
type env struct {
	fake   *sqstest.Handler
	url    string // the fake's endpoint
	cfg    aws.Config
	client *sqs.Client
}

// newEnv starts the fake. With native, "jobs" has a RedrivePolicy (maxReceiveCount
// maxReceives) and SQS moves dead letters; without, it has none and the adapter must
// (opened with dlq and max_receives).
func newEnv(t testing.TB, native bool, maxReceives int) *env {
	t.Helper()
	opts := []sqstest.Option{sqstest.WithQueue("jobs-dead", nil)}
	attrs := map[string]string{}
	if native {
		attrs["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":"arn:aws:sqs:%s:%s:jobs-dead","maxReceiveCount":"%d"}`,
			sqstest.DefaultRegion, sqstest.Account, maxReceives)
	}
	opts = append(opts, sqstest.WithQueue("jobs", attrs))
	fake := sqstest.NewHandler("FAKEKEY"+fmt.Sprint(maxReceives), "fake-secret-generated-for-this-test", opts...)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	ak, sk := fake.Credentials()
	// Tests run in parallel, so the configuration is built here rather than from the
	// environment; TestStandardSettings checks that path.
	cfg := aws.Config{
		Region:           fake.Region(),
		Credentials:      credentials.NewStaticCredentialsProvider(ak, sk, ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
	}
	return &env{fake: fake, url: srv.URL, cfg: cfg, client: sqs.NewFromConfig(cfg)}
}

// open opens the adapter on "jobs" the way the environment needs.
func (e *env) open(t testing.TB, native bool, maxReceives int) *sqsqueue.Queue {
	t.Helper()
	u := "sqs://jobs"
	if !native {
		u = fmt.Sprintf("sqs://jobs?dlq=jobs-dead&max_receives=%d", maxReceives)
	}
	q, err := sqsqueue.Open(context.Background(), e.cfg, u)
	if err != nil {
		t.Fatalf("Open(%q) = %v", u, err)
	}
	return q
}

// queueURL is the URL of a queue of the fake.
func (e *env) queueURL(name string) string { return e.url + "/" + sqstest.Account + "/" + name }
