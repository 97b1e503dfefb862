package sqsqueue_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/internal/awstest"
	"github.com/easelhq/easel/sqsqueue"
)

// BenchmarkSendReceiveDelete measures one job's trip through the queue over the wire
// (three SigV4-signed HTTP calls to the SQS fake in the test process): the adapter's and
// the SDK's cost per job, not SQS's latency.
func BenchmarkSendReceiveDelete(b *testing.B) {
	roundTrips(b, newEnv(b, true, 3).open(b, true, 3))
}

// BenchmarkSendReceiveDeleteProcess is the same trip to the fake served as a process
// by scripts/services.sh, as instances of a multi-process test share it.
func BenchmarkSendReceiveDeleteProcess(b *testing.B) {
	ep := awstest.SQS(b)
	ak, sk := awstest.Credentials()
	cfg := aws.Config{Region: awstest.Region, BaseEndpoint: aws.String(ep.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")}
	ctx := context.Background()
	name := "easel-bench-" + awstest.RandomHex(6)
	client := sqs.NewFromConfig(cfg)
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
	q, err := sqsqueue.Open(ctx, cfg, "sqs://"+name)
	if err != nil {
		b.Fatal(err)
	}
	roundTrips(b, q)
}

func roundTrips(b *testing.B, q easel.Queue) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := q.Send(ctx, easel.QueueMessage{JobID: "j", Group: "alice"}, 0); err != nil {
			b.Fatal(err)
		}
		ds, err := q.Receive(ctx, 1, time.Second, time.Minute)
		if err != nil || len(ds) != 1 {
			b.Fatalf("Receive = %v, %v", ds, err)
		}
		if err := q.Delete(ctx, ds[0]); err != nil {
			b.Fatal(err)
		}
	}
}
