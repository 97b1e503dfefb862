//go:build unix

package bench_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/bedrock"
	"github.com/easelhq/easel/bedrock/bedrocktest"
	"github.com/easelhq/easel/bench"
	"github.com/easelhq/easel/dynamostore"
	"github.com/easelhq/easel/internal/awstest"
	"github.com/easelhq/easel/s3blob"
	"github.com/easelhq/easel/service"
)

// awsPath is the AWS-emulated request path: the Bedrock wire fake, versitygw as S3 and
// dynalite as DynamoDB, reached through the same adapters and SDK settings as
// `easel serve --model bedrock:core --catalog dynamodb://T --blob s3://B`.
type awsPath struct {
	model  *bedrock.Model
	blobs  *s3blob.Store
	cat    *dynamostore.Store
	png    []byte // the image the fake answers with
	remote bool   // the fake runs in another process (its CPU is not ours)
}

// newAWSPath connects to the emulators named by EASEL_TEST_S3_ENDPOINT and
// EASEL_TEST_DYNAMODB_ENDPOINT (scripts/services.sh) through internal/awstest, and skips
// when they are unset. The Bedrock fake is EASEL_BENCH_BEDROCK_ENDPOINT when set (a
// fakeserver process started with --fixed-image --region us-east-1 and the S3 key pair
// as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, as scripts/bench.sh does), else an
// in-process fake, whose CPU time then counts in cpu-ms/image.
func newAWSPath(b *testing.B) *awsPath {
	b.Helper()
	s3ep, ddbep := awstest.S3(b), awstest.DynamoDB(b)
	p := &awsPath{}
	var err error
	if p.png, err = bedrocktest.NoisyPNG(1024, 1024, 1); err != nil {
		b.Fatal(err)
	}
	fakeURL := os.Getenv("EASEL_BENCH_BEDROCK_ENDPOINT")
	if p.remote = fakeURL != ""; !p.remote {
		ak, sk := awstest.Credentials()
		fake := httptest.NewServer(bedrocktest.NewHandler(ak, sk,
			bedrocktest.WithFixedImage(p.png), bedrocktest.WithRegion(awstest.Region)))
		b.Cleanup(fake.Close)
		fakeURL = fake.URL
	}
	cfg := awstest.Config(b, s3ep, ddbep, awstest.BedrockRuntime(fakeURL))
	ctx := context.Background()
	p.model, err = bedrock.New(bedrockruntime.NewFromConfig(cfg), "core",
		bedrock.Options{MaxConcurrency: 64, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	bucket := awstest.NewBucket(b, cfg)
	if p.blobs, err = s3blob.Open(ctx, cfg, "s3://"+bucket+"?prefix=images/&use_path_style=true", "", 0); err != nil {
		b.Fatal(err)
	}
	if p.cat, err = dynamostore.Open(ctx, cfg, "dynamodb://"+awstest.TableName(b, cfg)); err != nil {
		b.Fatal(err)
	}
	if err := p.cat.Migrate(ctx); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	return p
}

func (p *awsPath) service(b *testing.B) *service.Service {
	b.Helper()
	limits := service.DefaultLimits()
	limits.UserRate, limits.UserConcurrency, limits.MaxInflight = 0, 0, 0
	svc, err := service.New(service.Config{Models: []easel.Model{p.model}, Catalog: p.cat, Blobs: p.blobs, Limits: limits})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close(context.Background()) })
	return svc
}

func request(i int64) *easel.GenerateRequest {
	seed := uint64(i%4294967294) + 1
	return &easel.GenerateRequest{
		Prompt: "a lighthouse on a cliff at dusk, oil on canvas, variation " + strconv.FormatInt(i, 10),
		Seed:   &seed,
	}
}

// BenchmarkAWSPath measures Easel's side of the AWS-emulated generate path, one image
// per call, and its parts:
//
//   - model: bedrock.Model.Generate against the fake: SigV4-signed InvokeModel, reading
//     a ~2 MB JSON answer, base64-decoding the image in place, verifying it;
//   - s3-put: s3blob.Store.Put of the ~1.5 MB PNG (SigV4 payload hash, CRC32);
//   - dynamo-record: dynamostore CreateImage then MarkReady (two conditional writes);
//   - generate: service.Generate, all of the above plus the PNG chunk and SHA-256;
//   - generate-parallel: the same with 4×GOMAXPROCS concurrent callers.
//
// cpu-ms/image is this process's CPU time per image: the emulators (and the fake, when
// EASEL_BENCH_BEDROCK_ENDPOINT names one) run in other processes and do not count.
func BenchmarkAWSPath(b *testing.B) {
	p := newAWSPath(b)
	if !p.remote {
		b.Log("in-process Bedrock fake: its CPU (base64 and JSON encoding of each answer) counts in cpu-ms/image")
	}
	ctx := context.Background()
	loop := func(b *testing.B, bytes int, op func(i int64) error) {
		b.SetBytes(int64(bytes))
		b.ReportAllocs()
		var i int64
		m := bench.StartMeter()
		for b.Loop() {
			i++
			if err := op(i); err != nil {
				b.Fatal(err)
			}
		}
		m.Report(b, int(i))
	}
	b.Run("model", func(b *testing.B) {
		loop(b, len(p.png), func(i int64) error {
			g, err := p.model.Generate(ctx, request(i))
			if err == nil && len(g.Images) != 1 {
				b.Fatalf("Generate made %d images, want 1", len(g.Images))
			}
			g.Release() // as the service does once the image is stored
			return err
		})
	})
	b.Run("s3-put", func(b *testing.B) {
		loop(b, len(p.png), func(int64) error {
			return p.blobs.Put(ctx, easel.ImageKey(easel.NewID(), "image/png"), p.png, "image/png")
		})
	})
	b.Run("dynamo-record", func(b *testing.B) {
		now := time.Now().UTC()
		loop(b, 0, func(i int64) error {
			id := easel.NewID()
			img := &easel.Image{
				ID: id, UserID: "bench", Status: easel.StatusPending, Model: "core",
				Prompt: request(i).Prompt, Width: 1024, Height: 1024, Seed: uint64(i),
				ContentType: "image/png", Bytes: int64(len(p.png)), Key: easel.ImageKey(id, "image/png"),
				SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", CreatedAt: now,
			}
			if err := p.cat.CreateImage(ctx, img); err != nil {
				return err
			}
			return p.cat.MarkReady(ctx, img.UserID, id)
		})
	})
	b.Run("generate", func(b *testing.B) {
		svc := p.service(b)
		u := &service.Principal{UserID: "bench"}
		loop(b, len(p.png), func(i int64) error {
			_, err := svc.Generate(ctx, u, request(i), "")
			return err
		})
	})
	// generate-parallel: 4×GOMAXPROCS callers; generate-c64: 64 callers, as the load
	// test's C=64, with the heap's peak (MB-heap-peak: what 64 generations in flight
	// hold at once, garbage included).
	for _, c := range []struct {
		name    string
		callers int
	}{{"generate-parallel", 4 * runtime.GOMAXPROCS(0)}, {"generate-c64", 64}} {
		b.Run(c.name, func(b *testing.B) {
			svc := p.service(b)
			u := &service.Principal{UserID: "bench"}
			var next atomic.Int64
			b.SetBytes(int64(len(p.png)))
			b.ReportAllocs()
			b.SetParallelism((c.callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			heap := bench.WatchHeap()
			m := bench.StartMeter()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := svc.Generate(ctx, u, request(next.Add(1)), ""); err != nil {
						b.Errorf("Generate = %v", err)
						return
					}
				}
			})
			m.Report(b, int(next.Load()))
			b.ReportMetric(heap(), "MB-heap-peak")
		})
	}
}
