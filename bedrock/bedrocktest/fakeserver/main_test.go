package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestMain runs the command itself when the test binary is started as the fake
// process (by TestProcess).
func TestMain(m *testing.M) {
	if os.Getenv("EASEL_FAKESERVER_CHILD") == "1" {
		os.Args = append(os.Args[:1], flagsAfterDashes(os.Args[1:])...)
		main()
		return
	}
	os.Exit(m.Run())
}

func flagsAfterDashes(args []string) []string {
	for i, a := range args {
		if a == "--" {
			return args[i+1:]
		}
	}
	return nil
}

// TestProcess runs the fake as a process, as multi-process tests do, and reaches its
// SQS and EventBridge fakes from separate clients through the one port.
func TestProcess(t *testing.T) {
	const ak, sk, region = "FAKEPROCESSKEY", "fake-process-secret-for-this-test", "us-east-1"
	cmd := exec.Command(os.Args[0], "--", "--region", region,
		"--sqs-queue", "jobs:jobs-dead:2", "--sqs-queue", "other", "--event-bus", "easel")
	cmd.Env = append(os.Environ(), "EASEL_FAKESERVER_CHILD=1", "AWS_ACCESS_KEY_ID="+ak, "AWS_SECRET_ACCESS_KEY="+sk)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the fake exited with %v after SIGTERM, want 0", err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("the fake did not exit within 10 s of SIGTERM")
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the fake's first line: %v", err)
	}
	_, url, ok := strings.Cut(strings.TrimSpace(line), " on ")
	if !ok {
		t.Fatalf("first line %q names no address", line)
	}
	creds := credentials.NewStaticCredentialsProvider(ak, sk, "")
	producer := sqs.New(sqs.Options{Region: region, BaseEndpoint: &url, Credentials: creds, RetryMaxAttempts: 1})
	consumer := sqs.New(sqs.Options{Region: region, BaseEndpoint: &url, Credentials: creds, RetryMaxAttempts: 1})
	ctx := context.Background()
	q, err := consumer.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("jobs")})
	if err != nil {
		t.Fatalf("GetQueueUrl(jobs) = %v", err)
	}
	attrs, err := consumer.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy}})
	if err != nil || !strings.Contains(attrs.Attributes["RedrivePolicy"], "jobs-dead") {
		t.Errorf("RedrivePolicy = %v, %v", attrs, err)
	}
	if _, err := producer.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(`{"job_id":"j1"}`)}); err != nil {
		t.Fatalf("SendMessage = %v", err)
	}
	got, err := consumer.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 2})
	if err != nil || len(got.Messages) != 1 {
		t.Fatalf("ReceiveMessage from another client = %v, %v", got, err)
	}
	if _, err := consumer.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("other")}); err != nil {
		t.Errorf("GetQueueUrl(other) = %v", err)
	}
	eb := eventbridge.New(eventbridge.Options{Region: region, BaseEndpoint: &url, Credentials: creds, RetryMaxAttempts: 1})
	res, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{EventBusName: aws.String("easel"), Source: aws.String("easel"), DetailType: aws.String("t"), Detail: aws.String("{}")},
		{EventBusName: aws.String("nope"), Source: aws.String("easel"), DetailType: aws.String("t"), Detail: aws.String("{}")},
	}})
	if err != nil || res.FailedEntryCount != 1 || res.Entries[0].EventId == nil {
		t.Errorf("PutEvents = %+v, %v; want the easel bus to take one and the unknown bus to refuse one", res, err)
	}
	// A long poll in progress does not hold up SIGTERM for its 20 s.
	go func() {
		_, _ = consumer.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(strings.Replace(*q.QueueUrl, "/jobs", "/other", 1)), WaitTimeSeconds: 20})
	}()
	time.Sleep(100 * time.Millisecond)
}

func TestFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		err  string
	}{
		{[]string{"--sqs-queue", "jobs"}, ""},
		{[]string{"--sqs-queue", "jobs:dead:5", "--sqs-queue", "more:dead:3"}, ""},
		{[]string{"--sqs-queue", "jobs:dead"}, "NAME:DLQ:MAX_RECEIVES"},
		{[]string{"--sqs-queue", "jobs:dead:0"}, "1 to 1000"},
		{[]string{"--sqs-queue", "bad name"}, "--sqs-queue"},
		{[]string{"--sqs-queue", "jobs.fifo"}, "FIFO"},
	} {
		c, err := parseFlags(tt.args)
		if err == nil {
			_, err = newHandler(c, "k", "s")
		}
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%v: %v, want %s", tt.args, err, fmt.Sprintf("%q", tt.err))
		}
	}
}
