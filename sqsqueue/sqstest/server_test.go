package sqstest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/easelhq/easel/sqsqueue/sqstest"
)

func client(srv *sqstest.Server) *sqs.Client {
	ak, sk := srv.Credentials()
	return sqs.New(sqs.Options{Region: srv.Region(), BaseEndpoint: aws.String(srv.URL()), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")})
}

// setup starts a fake with a dead-letter queue "dead" and a queue "work" that redrives
// to it after maxReceives receives.
func setup(t *testing.T, maxReceives int) (*sqstest.Server, *sqs.Client, string, string) {
	t.Helper()
	srv := sqstest.NewServer(t)
	c := client(srv)
	ctx := context.Background()
	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("dead")})
	if err != nil {
		t.Fatalf("CreateQueue(dead) = %v", err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("GetQueueAttributes(dead) = %v", err)
	}
	policy := fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`, attrs.Attributes["QueueArn"], maxReceives)
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("work"),
		Attributes: map[string]string{"RedrivePolicy": policy}})
	if err != nil {
		t.Fatalf("CreateQueue(work) = %v", err)
	}
	return srv, c, *q.QueueUrl, *dlq.QueueUrl
}

func send(t *testing.T, c *sqs.Client, url, body string, delay int32) string {
	t.Helper()
	out, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body,
		DelaySeconds: delay, MessageGroupId: aws.String("alice")})
	if err != nil {
		t.Fatalf("SendMessage = %v", err)
	}
	return *out.MessageId
}

func receive(t *testing.T, c *sqs.Client, url string, max, vis, wait int32) []types.Message {
	t.Helper()
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url,
		MaxNumberOfMessages: max, VisibilityTimeout: vis, WaitTimeSeconds: wait,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
	if err != nil {
		t.Fatalf("ReceiveMessage = %v", err)
	}
	return out.Messages
}

func count(m types.Message) int {
	n, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	return n
}

func TestSendReceiveDelete(t *testing.T) {
	srv, c, url, _ := setup(t, 3)
	ctx := context.Background()
	got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("work")})
	if err != nil || *got.QueueUrl != url || url != srv.QueueURL("work") {
		t.Fatalf("GetQueueUrl = %v, %v; want %s", got, err, url)
	}
	before := time.Now().Add(-time.Second)
	id := send(t, c, url, `{"job_id":"j1"}`, 0)
	msgs := receive(t, c, url, 10, 30, 0) // the SDK checks MD5OfBody
	if len(msgs) != 1 || *msgs[0].MessageId != id || *msgs[0].Body != `{"job_id":"j1"}` {
		t.Fatalf("ReceiveMessage = %+v, want the message sent", msgs)
	}
	a := msgs[0].Attributes
	sent, _ := strconv.ParseInt(a["SentTimestamp"], 10, 64)
	if count(msgs[0]) != 1 || a["MessageGroupId"] != "alice" || time.UnixMilli(sent).Before(before) || a["SenderId"] == "" {
		t.Errorf("Attributes = %v, want count 1, group alice, a recent SentTimestamp and a SenderId", a)
	}
	if again := receive(t, c, url, 10, 30, 0); len(again) != 0 {
		t.Errorf("received an invisible message: %+v", again)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: msgs[0].ReceiptHandle}); err != nil {
		t.Fatalf("DeleteMessage = %v", err)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: msgs[0].ReceiptHandle}); err != nil {
		t.Errorf("DeleteMessage of a deleted message = %v, want success (as SQS)", err)
	}
	if s := srv.Stats("work"); s != (sqstest.QueueStats{}) {
		t.Errorf("Stats after delete = %+v, want empty", s)
	}
	qa, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
	if err != nil || qa.Attributes["VisibilityTimeout"] != "30" || !strings.Contains(qa.Attributes["RedrivePolicy"], `"maxReceiveCount":"3"`) {
		t.Errorf("GetQueueAttributes(All) = %v, %v", qa, err)
	}
}

func TestVisibilityAndReceipts(t *testing.T) {
	_, c, url, _ := setup(t, 10)
	ctx := context.Background()
	send(t, c, url, "m", 0)
	first := receive(t, c, url, 1, 1, 0)
	if len(first) != 1 {
		t.Fatalf("first receive got %d messages", len(first))
	}
	time.Sleep(1100 * time.Millisecond)
	second := receive(t, c, url, 1, 30, 0)
	if len(second) != 1 || count(second[0]) != 2 || *second[0].ReceiptHandle == *first[0].ReceiptHandle {
		t.Fatalf("after the visibility timeout got %+v, want the message again with count 2 and a new receipt", second)
	}
	// The first receipt is stale: visibility changes are refused, deletes succeed
	// without deleting.
	_, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: first[0].ReceiptHandle, VisibilityTimeout: 5})
	if code := errorCode(err); code != "InvalidParameterValue" || !strings.Contains(err.Error(), "ReceiptHandle") {
		t.Errorf("ChangeMessageVisibility(stale receipt) = %v, want InvalidParameterValue about the ReceiptHandle", err)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: first[0].ReceiptHandle}); err != nil {
		t.Errorf("DeleteMessage(stale receipt) = %v, want success", err)
	}
	// Hand it back with visibility 0: receivable at once.
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: second[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatalf("ChangeMessageVisibility(0) = %v", err)
	}
	third := receive(t, c, url, 1, 1, 0)
	if len(third) != 1 || count(third[0]) != 3 {
		t.Fatalf("after visibility 0 got %+v, want the message (still there after the stale delete) with count 3", third)
	}
	// Extending keeps it invisible past its first timeout.
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: third[0].ReceiptHandle, VisibilityTimeout: 3}); err != nil {
		t.Fatalf("ChangeMessageVisibility(3) = %v", err)
	}
	time.Sleep(1100 * time.Millisecond)
	if got := receive(t, c, url, 1, 1, 0); len(got) != 0 {
		t.Errorf("an extended message was received again: %+v", got)
	}
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: third[0].ReceiptHandle, VisibilityTimeout: 43200})
	if errorCode(err) != "InvalidParameterValue" {
		t.Errorf("ChangeMessageVisibility past 12 h from the receive = %v, want InvalidParameterValue", err)
	}
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: third[0].ReceiptHandle, VisibilityTimeout: 0})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: third[0].ReceiptHandle, VisibilityTimeout: 5})
	var notInflight *types.MessageNotInflight
	if !errors.As(err, &notInflight) {
		t.Errorf("ChangeMessageVisibility of a visible message = %v, want MessageNotInflight", err)
	}
}

func TestLongPoll(t *testing.T) {
	_, c, url, _ := setup(t, 10)
	start := time.Now()
	if got := receive(t, c, url, 1, 30, 1); len(got) != 0 || time.Since(start) < 900*time.Millisecond {
		t.Errorf("empty long poll of 1 s returned %d messages after %v", len(got), time.Since(start))
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		_, _ = c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("late")})
	}()
	start = time.Now()
	got := receive(t, c, url, 10, 30, 10)
	if len(got) != 1 || time.Since(start) > 3*time.Second {
		t.Errorf("long poll of 10 s got %d messages after %v, want 1 soon after the send", len(got), time.Since(start))
	}
}

func TestDelay(t *testing.T) {
	srv, c, url, _ := setup(t, 10)
	ctx := context.Background()
	start := time.Now()
	send(t, c, url, "later", 1)
	if got := receive(t, c, url, 1, 30, 0); len(got) != 0 {
		t.Fatalf("a delayed message was received at once")
	}
	if s := srv.Stats("work"); s.Delayed != 1 {
		t.Errorf("Stats = %+v, want 1 delayed", s)
	}
	got := receive(t, c, url, 1, 30, 5)
	if len(got) != 1 || time.Since(start) < time.Second {
		t.Errorf("long poll got %d messages after %v, want 1 after the 1 s delay", len(got), time.Since(start))
	}
	// The queue's DelaySeconds applies when a message has none.
	if _, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &url, Attributes: map[string]string{"DelaySeconds": "1"}}); err != nil {
		t.Fatal(err)
	}
	send(t, c, url, "queue delay", 0)
	if got := receive(t, c, url, 1, 30, 0); len(got) != 0 {
		t.Errorf("a message was received before the queue's delay")
	}
}

func TestRedrive(t *testing.T) {
	srv, c, url, dlq := setup(t, 2)
	ctx := context.Background()
	id := send(t, c, url, "poison", 0)
	for i := 1; i <= 2; i++ {
		got := receive(t, c, url, 1, 30, 0)
		if len(got) != 1 || count(got[0]) != i {
			t.Fatalf("receive %d = %+v", i, got)
		}
		if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: got[0].ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
	if got := receive(t, c, url, 1, 30, 0); len(got) != 0 {
		t.Fatalf("receive 3 = %+v, want none: the message is past maxReceiveCount", got)
	}
	if s := srv.Stats("dead"); s.Visible != 1 {
		t.Errorf("Stats(dead) = %+v, want the message", s)
	}
	dead := receive(t, c, dlq, 10, 30, 1)
	if len(dead) != 1 || *dead[0].MessageId != id || count(dead[0]) != 3 ||
		dead[0].Attributes["DeadLetterQueueSourceArn"] != "arn:aws:sqs:us-east-1:000000000000:work" {
		t.Fatalf("dead-letter queue = %+v, want the message from work with its receive counted", dead)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &dlq, ReceiptHandle: dead[0].ReceiptHandle}); err != nil {
		t.Errorf("DeleteMessage(dead) = %v", err)
	}
	if s := srv.Stats("dead"); s != (sqstest.QueueStats{}) {
		t.Errorf("Stats(dead) after delete = %+v", s)
	}
}

func TestConcurrentReceivers(t *testing.T) {
	_, c, url, _ := setup(t, 10)
	const n = 60
	for i := range n {
		send(t, c, url, strconv.Itoa(i), 0)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for {
				out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 7, VisibilityTimeout: 60})
				if err != nil {
					t.Error(err)
					return
				}
				if len(out.Messages) == 0 {
					return
				}
				mu.Lock()
				for _, m := range out.Messages {
					seen[*m.Body]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("received %d distinct messages, want %d", len(seen), n)
	}
	for b, k := range seen {
		if k != 1 {
			t.Errorf("message %s received %d times while invisible", b, k)
		}
	}
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestErrorShapes(t *testing.T) {
	_, c, url, _ := setup(t, 10)
	ctx := context.Background()
	missing := strings.Replace(url, "/work", "/nope", 1)
	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &missing, MessageBody: aws.String("x")})
	var dne *types.QueueDoesNotExist
	if !errors.As(err, &dne) || errorCode(err) != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Errorf("SendMessage(missing queue) = %v (code %q), want QueueDoesNotExist with the query code", err, errorCode(err))
	}
	_, err = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: aws.String("garbage")})
	var rhi *types.ReceiptHandleIsInvalid
	if !errors.As(err, &rhi) {
		t.Errorf("DeleteMessage(garbage) = %v, want ReceiptHandleIsInvalid", err)
	}
	_, err = c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("work"), Attributes: map[string]string{"VisibilityTimeout": "5"}})
	var exists *types.QueueNameExists
	if !errors.As(err, &exists) {
		t.Errorf("CreateQueue(work, other attributes) = %v, want QueueNameExists", err)
	}
	if _, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("work"), Attributes: map[string]string{"VisibilityTimeout": "30"}}); err != nil {
		t.Errorf("CreateQueue(work, same attributes) = %v, want success", err)
	}
	for _, tt := range []struct {
		name string
		call func() error
		code string
	}{
		{"delay over 900", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x"), DelaySeconds: 901})
			return err
		}, "InvalidParameterValue"},
		{"deduplication id on a standard queue", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x"), MessageDeduplicationId: aws.String("d")})
			return err
		}, "InvalidParameterValue"},
		{"group id with a space", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x"), MessageGroupId: aws.String("a b")})
			return err
		}, "InvalidParameterValue"},
		{"control character in the body", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("a\x01")})
			return err
		}, "InvalidMessageContents"},
		{"body over the queue's maximum", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(strings.Repeat("x", 1<<20+1))})
			return err
		}, "InvalidParameterValue"},
		{"message attributes", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x"),
				MessageAttributes: map[string]types.MessageAttributeValue{"a": {DataType: aws.String("String"), StringValue: aws.String("b")}}})
			return err
		}, "AWS.SimpleQueueService.UnsupportedOperation"},
		{"11 messages", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 11})
			return err
		}, "InvalidParameterValue"},
		{"wait over 20 s", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 21})
			return err
		}, "InvalidParameterValue"},
		{"unknown system attribute", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MessageSystemAttributeNames: []types.MessageSystemAttributeName{"Colour"}})
			return err
		}, "InvalidAttributeName"},
		{"unknown queue attribute", func() error {
			_, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &url, Attributes: map[string]string{"Colour": "red"}})
			return err
		}, "InvalidAttributeName"},
		{"visibility out of range", func() error {
			_, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &url, Attributes: map[string]string{"VisibilityTimeout": "43201"}})
			return err
		}, "InvalidAttributeValue"},
		{"redrive to a missing queue", func() error {
			_, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &url, Attributes: map[string]string{
				"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:gone","maxReceiveCount":"3"}`}})
			return err
		}, "InvalidParameterValue"},
		{"FIFO queue", func() error {
			_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("jobs.fifo")})
			return err
		}, "AWS.SimpleQueueService.UnsupportedOperation"},
		{"batch send", func() error {
			_, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: []types.SendMessageBatchRequestEntry{{Id: aws.String("1"), MessageBody: aws.String("x")}}})
			return err
		}, "AWS.SimpleQueueService.UnsupportedOperation"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); errorCode(err) != tt.code {
				t.Errorf("error = %v (code %q), want code %q", err, errorCode(err), tt.code)
			}
		})
	}
}

func TestFault(t *testing.T) {
	srv, c, url, _ := setup(t, 10)
	srv.SetFault(sqstest.Fault{Operation: "SendMessage", Exception: "RequestThrottled", Times: 1})
	_, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x")})
	var throttled *types.RequestThrottled
	if !errors.As(err, &throttled) {
		t.Errorf("SendMessage under a fault = %v, want RequestThrottled", err)
	}
	send(t, c, url, "x", 0) // the fault cleared itself
	if n := srv.Calls("SendMessage"); n != 2 {
		t.Errorf("Calls(SendMessage) = %d, want 2", n)
	}
}

// raw sends a hand-made request, signed for sqs unless sign is false.
func raw(t *testing.T, srv *sqstest.Server, target, contentType, body string, sign bool) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Amz-Target", target)
	if sign {
		ak, sk := srv.Credentials()
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk},
			req, hex.EncodeToString(sum[:]), "sqs", srv.Region(), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Amzn-Query-Error"), string(b)
}

func TestStrictRequests(t *testing.T) {
	srv, _, url, _ := setup(t, 10)
	const js = "application/x-amz-json-1.0"
	for _, tt := range []struct {
		name, target, contentType, body string
		sign                            bool
		status                          int
		want                            string
	}{
		{"valid", "AmazonSQS.SendMessage", js, `{"QueueUrl":"` + url + `","MessageBody":"x"}`, true, 200, "MD5OfMessageBody"},
		{"unsigned", "AmazonSQS.SendMessage", js, `{"QueueUrl":"` + url + `","MessageBody":"x"}`, false, 403, "MissingAuthenticationToken"},
		{"unknown member", "AmazonSQS.SendMessage", js, `{"QueueUrl":"` + url + `","MessageBody":"x","Priority":1}`, true, 400, `Unknown member \"Priority\"`},
		{"member in the wrong case", "AmazonSQS.SendMessage", js, `{"queueUrl":"` + url + `","MessageBody":"x"}`, true, 400, "Unknown member"},
		{"string for a number", "AmazonSQS.SendMessage", js, `{"QueueUrl":"` + url + `","MessageBody":"x","DelaySeconds":"5"}`, true, 400, "SerializationException"},
		{"fraction for an integer", "AmazonSQS.ReceiveMessage", js, `{"QueueUrl":"` + url + `","MaxNumberOfMessages":1.5}`, true, 400, "SerializationException"},
		{"not an object", "AmazonSQS.SendMessage", js, `["x"]`, true, 400, "SerializationException"},
		{"missing body", "AmazonSQS.SendMessage", js, `{"QueueUrl":"` + url + `"}`, true, 400, "MessageBody"},
		{"missing queue URL", "AmazonSQS.ReceiveMessage", js, `{}`, true, 400, "QueueUrl"},
		{"bad queue URL", "AmazonSQS.ReceiveMessage", js, `{"QueueUrl":"work"}`, true, 404, "InvalidAddress"},
		{"query protocol", "", "application/x-www-form-urlencoded", `Action=SendMessage`, true, 400, "UnknownOperation"},
		{"JSON 1.1", "AmazonSQS.SendMessage", "application/x-amz-json-1.1", `{"QueueUrl":"` + url + `","MessageBody":"x"}`, true, 400, "Content-Type"},
		{"unknown operation", "AmazonSQS.Peek", js, `{}`, true, 400, "UnknownOperation"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := raw(t, srv, tt.target, tt.contentType, tt.body, tt.sign)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("%s = %d %s, want %d with %q", tt.target, status, body, tt.status, tt.want)
			}
		})
	}
	_, query, _ := raw(t, srv, "AmazonSQS.GetQueueUrl", js, `{"QueueName":"nope"}`, true)
	if query != "AWS.SimpleQueueService.NonExistentQueue;Sender" {
		t.Errorf("x-amzn-query-error = %q", query)
	}
}

func TestWithQueue(t *testing.T) {
	srv := sqstest.NewServer(t, sqstest.WithQueue("dlq", nil),
		sqstest.WithQueue("jobs", map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":5}`}))
	c := client(srv)
	out, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(srv.QueueURL("jobs")),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy}})
	if err != nil || !strings.Contains(out.Attributes["RedrivePolicy"], "maxReceiveCount") {
		t.Errorf("GetQueueAttributes(jobs) = %v, %v", out, err)
	}
}
