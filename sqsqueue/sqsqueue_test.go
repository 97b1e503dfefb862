package sqsqueue_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/sqsqueue"
	"github.com/easelhq/easel/sqsqueue/sqstest"
)

func TestParseURL(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want sqsqueue.Location
		err  string
	}{
		{"sqs://jobs", sqsqueue.Location{Name: "jobs"}, ""},
		{"sqs://easel-jobs_1?dlq=easel-dead&max_receives=5&region=eu-west-1",
			sqsqueue.Location{Name: "easel-jobs_1", DeadLetter: "easel-dead", MaxReceives: 5, Region: "eu-west-1"}, ""},
		{"https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
			sqsqueue.Location{Name: "jobs", URL: "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"}, ""},
		{"https://sqs.us-east-1.amazonaws.com/123456789012/jobs?dlq=https://sqs.us-east-1.amazonaws.com/123456789012/dead&max_receives=3",
			sqsqueue.Location{Name: "jobs", URL: "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
				DeadLetter: "https://sqs.us-east-1.amazonaws.com/123456789012/dead", MaxReceives: 3}, ""},
		{"sqs://jobs.fifo", sqsqueue.Location{}, "FIFO"},
		{"sqs://jobs?dlq=dead.fifo&max_receives=3", sqsqueue.Location{}, "FIFO"},
		{"sqs://jobs?max_receives=0", sqsqueue.Location{}, "max_receives"},
		{"sqs://jobs?max_receives=1001", sqsqueue.Location{}, "max_receives"},
		{"sqs://jobs?max_receives=x", sqsqueue.Location{}, "max_receives"},
		{"sqs://jobs?dlq=jobs&max_receives=2", sqsqueue.Location{}, "itself"},
		{"sqs://jobs?visibility=30", sqsqueue.Location{}, "unknown parameter"},
		{"sqs://jobs?dlq=a&dlq=b", sqsqueue.Location{}, "one non-empty value"},
		{"sqs://jobs/extra", sqsqueue.Location{}, "want sqs://NAME"},
		{"sqs://", sqsqueue.Location{}, "1 to 80"},
		{"sqs://job$", sqsqueue.Location{}, "not allowed"},
		{"sqs://" + strings.Repeat("a", 81), sqsqueue.Location{}, "1 to 80"},
		{"https://sqs.us-east-1.amazonaws.com/jobs", sqsqueue.Location{}, "ACCOUNT/NAME"},
		{"amqp://jobs", sqsqueue.Location{}, "scheme"},
	} {
		got, err := sqsqueue.ParseURL(tt.in)
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

// TestStandardSettings opens the queue with a configuration loaded the way the service
// loads it: AWS_ENDPOINT_URL_SQS, AWS_REGION and the default credential chain.
func TestStandardSettings(t *testing.T) {
	e := newEnv(t, true, 3)
	ak, sk := e.fake.Credentials()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_SQS": e.url, "AWS_REGION": e.fake.Region(),
		"AWS_ACCESS_KEY_ID": ak, "AWS_SECRET_ACCESS_KEY": sk, "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	q, err := sqsqueue.Open(context.Background(), cfg, "sqs://jobs")
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	if q.Name() != "jobs" || q.MaxReceives() != 3 {
		t.Errorf("Open read name %q, max receives %d; want jobs and the RedrivePolicy's 3", q.Name(), q.MaxReceives())
	}
	if err := q.Ping(context.Background()); err != nil {
		t.Errorf("Ping = %v", err)
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	native := newEnv(t, true, 4)
	plain := newEnv(t, false, 4)
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		e    *env
		url  string
		max  int
		err  string
	}{
		{"RedrivePolicy", native, "sqs://jobs", 4, ""},
		{"RedrivePolicy and agreeing parameters", native, "sqs://jobs?dlq=jobs-dead&max_receives=4", 4, ""},
		{"queue URL", native, native.queueURL("jobs"), 4, ""},
		{"queue URL with a dead-letter queue URL", plain, native.queueURL("jobs") + "?dlq=" + plain.queueURL("jobs-dead") + "&max_receives=2", 2, ""},
		{"no dead-letter queue", plain, "sqs://jobs", 0, ""},
		{"adapter redrive", plain, "sqs://jobs?dlq=jobs-dead&max_receives=7", 7, ""},
		{"max_receives disagrees", native, "sqs://jobs?max_receives=5", 0, "maxReceiveCount 4"},
		{"dlq disagrees", native, "sqs://jobs?dlq=other", 0, `"jobs-dead"`},
		{"dlq without max_receives", plain, "sqs://jobs?dlq=jobs-dead", 0, "give max_receives"},
		{"max_receives without dlq", plain, "sqs://jobs?max_receives=3", 0, "without a dead-letter queue"},
		{"missing queue", plain, "sqs://nope", 0, `"nope" does not exist`},
		{"missing dead-letter queue", plain, "sqs://jobs?dlq=gone&max_receives=3", 0, `"gone" does not exist`},
	} {
		q, err := sqsqueue.Open(ctx, tt.e.cfg, tt.url)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: Open(%q) = %v", tt.name, tt.url, err)
		case tt.err == "" && q.MaxReceives() != tt.max:
			t.Errorf("%s: MaxReceives = %d, want %d", tt.name, q.MaxReceives(), tt.max)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: Open(%q) = %v, want an error with %q", tt.name, tt.url, err, tt.err)
		}
	}
	// Without a dead-letter queue, ReceiveDead answers none.
	q, err := sqsqueue.Open(ctx, plain.cfg, "sqs://jobs")
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := q.ReceiveDead(ctx, 10, time.Minute); ds != nil || err != nil {
		t.Errorf("ReceiveDead without a dead-letter queue = %v, %v", ds, err)
	}
	if _, err := sqsqueue.Open(ctx, aws.Config{}, "sqs://jobs"); err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("Open without a region = %v", err)
	}
}

// rawReceive receives from a queue behind the adapter's back.
func rawReceive(t *testing.T, e *env, name string) []types.Message {
	t.Helper()
	out, err := e.client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queueURL(name)),
		MaxNumberOfMessages: 10, VisibilityTimeout: 60, MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Messages
}

// TestWireFormat checks what the adapter puts on the queue: a JSON body naming the job
// and the tenant as MessageGroupId (hashed when SQS would refuse it).
func TestWireFormat(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 3)
	q := e.open(t, true, 3)
	ctx := context.Background()
	mustSend(t, q, "j1", "alice@example.com", 0)
	mustSend(t, q, "j2", "ユーザー", 0)
	mustSend(t, q, "j3", "", 0)
	got := map[string]string{}
	for _, m := range rawReceive(t, e, "jobs") {
		got[*m.Body] = m.Attributes["MessageGroupId"]
	}
	if g := got[`{"job_id":"j1","group":"alice@example.com"}`]; g != "alice@example.com" {
		t.Errorf("MessageGroupId of j1 = %q, want the user", g)
	}
	if g := got[`{"job_id":"j2","group":"ユーザー"}`]; !strings.HasPrefix(g, "sha256-") || len(g) > 128 {
		t.Errorf("MessageGroupId of j2 = %q, want a hash SQS accepts", g)
	}
	if g, ok := got[`{"job_id":"j3","group":""}`]; !ok || g != "" {
		t.Errorf("j3 = %q (present %v), want no MessageGroupId; got %v", g, ok, got)
	}
	if err := q.Send(ctx, easel.QueueMessage{Group: "alice"}, 0); err == nil {
		t.Errorf("Send without a job id = nil error")
	}
	// A delay past SQS's 15 minutes is capped, not refused.
	if err := q.Send(ctx, easel.QueueMessage{JobID: "j4"}, 2*time.Hour); err != nil {
		t.Errorf("Send(delay 2h) = %v", err)
	}
	if s := e.fake.Stats("jobs"); s.Delayed != 1 {
		t.Errorf("Stats = %+v, want 1 delayed message", s)
	}
}

// TestForeignBody: a message that names no job is deleted, not handed to a worker.
func TestForeignBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 3)
	q := e.open(t, true, 3)
	for _, body := range []string{"not json", `{"job":"x"}`} {
		if _, err := e.client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(e.queueURL("jobs")), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	if ds := mustReceive(t, q, 10, time.Second, time.Minute); len(ds) != 0 {
		t.Errorf("Receive = %+v, want none", ds)
	}
	if s := e.fake.Stats("jobs"); s != (sqstest.QueueStats{}) {
		t.Errorf("Stats = %+v, want the foreign messages deleted", s)
	}
}

// TestAdapterRedriveKeepsHistory: a message the adapter moves keeps its first send
// time and its receive count.
func TestAdapterRedriveKeepsHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, 1)
	q := e.open(t, false, 1)
	ctx := context.Background()
	mustSend(t, q, "j1", "alice", 0)
	first := mustReceive(t, q, 1, time.Second, time.Minute)
	if len(first) != 1 {
		t.Fatal("no message")
	}
	if err := q.Extend(ctx, first[0], 0); err != nil {
		t.Fatal(err)
	}
	if ds := mustReceive(t, q, 1, time.Second, time.Minute); len(ds) != 0 {
		t.Fatalf("a message past max_receives was delivered: %+v", ds[0])
	}
	if s := e.fake.Stats("jobs"); s != (sqstest.QueueStats{}) {
		t.Errorf("Stats(jobs) = %+v, want the message moved out", s)
	}
	dead, err := q.ReceiveDead(ctx, 10, time.Minute)
	if err != nil || len(dead) != 1 {
		t.Fatalf("ReceiveDead = %v, %v", dead, err)
	}
	if d := dead[0]; !d.SentAt.Equal(first[0].SentAt) || d.ReceiveCount != 2 || d.Group != "alice" {
		t.Errorf("dead Delivery = %+v, want SentAt %v, count 2, group alice", d, first[0].SentAt)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 3)
	q := e.open(t, true, 3)
	ctx := context.Background()
	for _, tt := range []struct {
		exception string
		code      string
	}{
		{"RequestThrottled", easel.ERateLimited},
		{"OverLimit", easel.ERateLimited},
		{"ServiceUnavailable", easel.ERateLimited},
		{"QueueDoesNotExist", easel.EInternal},
		{"AccessDenied", easel.EInternal},
		{"InternalFailure", easel.EInternal},
	} {
		e.fake.SetFault(sqstest.Fault{Exception: tt.exception})
		err := q.Send(ctx, easel.QueueMessage{JobID: "j"}, 0)
		if easel.ErrorCode(err) != tt.code {
			t.Errorf("Send under %s = %v (code %s), want %s", tt.exception, err, easel.ErrorCode(err), tt.code)
		}
		var de *easel.Error
		if tt.code == easel.ERateLimited && (!errors.As(err, &de) || de.RetryAfter <= 0) {
			t.Errorf("Send under %s: no RetryAfter", tt.exception)
		}
		if err := q.Ping(ctx); easel.ErrorCode(err) != tt.code {
			t.Errorf("Ping under %s = %v, want %s", tt.exception, err, tt.code)
		}
	}
	e.fake.SetFault(sqstest.Fault{})
	if err := q.Extend(ctx, &easel.Delivery{Receipt: "forged"}, time.Minute); !easel.IsCode(err, easel.ENotFound) {
		t.Errorf("Extend(forged receipt) = %v, want ENotFound", err)
	}
	if _, err := e.client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(e.queueURL("jobs"))}); err != nil {
		t.Fatal(err)
	}
	if err := q.Ping(ctx); !easel.IsCode(err, easel.EInternal) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Ping after DeleteQueue = %v, want EInternal saying the queue does not exist", err)
	}
}
