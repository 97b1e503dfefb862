//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/easelhq/easel/bedrock/bedrocktest"
	"github.com/easelhq/easel/bench"
)

// BenchmarkServe runs the real `easel serve` wiring in this process (run, as main
// does) with the Bedrock model core against an in-process Bedrock fake answering every
// call with a ~1.5 MB PNG, and POSTs /v1/images over loopback HTTP from concurrent
// clients (4×GOMAXPROCS). It exists to profile the whole request path, HTTP layer
// included, with -cpuprofile and -memprofile (easel exposes no /debug/pprof):
//
//	go test -run '^$' -bench Serve -cpuprofile cpu.out ./cmd/easel
//
// Its figures include the fake's and the clients' CPU and allocations (they share the
// process): for the server's own CPU per image, see the load test in scripts/bench.sh.
// Sub-benchmarks: local (SQLite and a folder) and aws (dynalite and versitygw, when
// scripts/services.sh has exported EASEL_TEST_DYNAMODB_ENDPOINT and EASEL_TEST_S3_*).
func BenchmarkServe(b *testing.B) {
	png, err := bedrocktest.NoisyPNG(1024, 1024, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("local", func(b *testing.B) {
		ak, sk := "BENCH"+strings.ToUpper(randomHex(8)), randomHex(20)
		benchServe(b, png, ak, sk)
	})
	b.Run("aws", func(b *testing.B) {
		s3URL, ddbURL := os.Getenv("EASEL_TEST_S3_ENDPOINT"), os.Getenv("EASEL_TEST_DYNAMODB_ENDPOINT")
		if s3URL == "" || ddbURL == "" {
			b.Skip("EASEL_TEST_S3_ENDPOINT and EASEL_TEST_DYNAMODB_ENDPOINT are not set: start the services with scripts/services.sh")
		}
		ak, sk := os.Getenv("EASEL_TEST_S3_ACCESS_KEY"), os.Getenv("EASEL_TEST_S3_SECRET_KEY")
		b.Setenv("AWS_ENDPOINT_URL_S3", s3URL)
		b.Setenv("AWS_ENDPOINT_URL_DYNAMODB", ddbURL)
		name := "easel-bench-" + randomHex(6)
		createBucket(b, s3URL, name, ak, sk)
		benchServe(b, png, ak, sk, "--catalog", "dynamodb://"+name, "--blob", "s3://"+name+"?prefix=images/&use_path_style=true")
	})
}

// benchServe starts the fake and easel serve with the key pair ak/sk and extra flags,
// then measures generations over HTTP.
func benchServe(b *testing.B, png []byte, ak, sk string, extra ...string) {
	fake := httptest.NewServer(bedrocktest.NewHandler(ak, sk, bedrocktest.WithFixedImage(png), bedrocktest.WithRegion("us-east-1")))
	b.Cleanup(fake.Close)
	noFile := filepath.Join(b.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": fake.URL,
		"AWS_ENDPOINT_URL":                 "",
		"AWS_ACCESS_KEY_ID":                ak,
		"AWS_SECRET_ACCESS_KEY":            sk,
		"AWS_SESSION_TOKEN":                "",
		"AWS_REGION":                       "us-east-1",
		"AWS_PROFILE":                      "",
		"AWS_CONFIG_FILE":                  noFile,
		"AWS_SHARED_CREDENTIALS_FILE":      noFile,
		"AWS_EC2_METADATA_DISABLED":        "true",
	} {
		b.Setenv(k, v)
	}
	data := b.TempDir()
	stores := append([]string{"--data", data}, extra...)
	ctx := context.Background()
	var out, logs bytes.Buffer
	if err := run(ctx, append([]string{"migrate"}, stores...), &out, &logs); err != nil {
		b.Fatalf("easel migrate: %v\n%s", err, logs.String())
	}
	out.Reset()
	if err := run(ctx, append([]string{"keys", "create", "--user", "bench"}, stores...), &out, &logs); err != nil {
		b.Fatalf("easel keys create: %v\n%s", err, logs.String())
	}
	key := strings.TrimSpace(out.String())
	base := startServe(b, append(stores, "--model", "bedrock:core", "--user-rate=0", "--user-concurrency=0",
		"--max-inflight=256", "--thumbnails=false", "--public-url", "http://127.0.0.1/images/")...)

	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	var next atomic.Int64
	b.SetBytes(int64(len(png)))
	b.ReportAllocs()
	b.SetParallelism(4)
	m := bench.StartMeter()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			body := fmt.Sprintf(`{"prompt":"a lighthouse on a cliff at dusk, oil on canvas, variation %d"}`, i)
			req, _ := http.NewRequest(http.MethodPost, base+"/v1/images", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			res, err := client.Do(req)
			if err != nil {
				b.Errorf("POST /v1/images: %v", err)
				return
			}
			answer, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				b.Errorf("POST /v1/images = %d %s, want 201", res.StatusCode, answer)
				return
			}
		}
	})
	m.Report(b, int(next.Load()))
}

// startServe boots `easel serve` on 127.0.0.1:0 with args and returns its base URL; it
// is stopped, like on SIGTERM, when the benchmark ends.
func startServe(b *testing.B, args ...string) string {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logPath := filepath.Join(b.TempDir(), "serve.log")
	logs, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "warn", "--sweep-every", "1h"}, args...), pw, logs)
		pw.Close()
		done <- err
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("easel serve: %v", err)
		}
		logs.Close()
	})
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "Easel is serving on "); ok {
			go func() { _, _ = io.Copy(io.Discard, pr) }()
			return strings.TrimSuffix(u, "/")
		}
	}
	l, _ := os.ReadFile(logPath)
	b.Fatalf("easel serve did not start; logs:\n%s", l)
	return ""
}

// createBucket makes an S3 bucket for the benchmark and empties and removes it after.
func createBucket(b *testing.B, endpoint, bucket, ak, sk string) {
	b.Helper()
	c := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, ""),
	})
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		b.Fatalf("CreateBucket(%q): %v", bucket, err)
	}
	b.Cleanup(func() {
		pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				b.Logf("list %s: %v", bucket, err)
				return
			}
			for _, o := range page.Contents {
				_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			}
		}
		_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	})
}

func randomHex(n int) string {
	p := make([]byte, n)
	_, _ = rand.Read(p)
	return hex.EncodeToString(p)
}
