//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
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

	"github.com/easelhq/easel/bedrock/bedrocktest"
	"github.com/easelhq/easel/bench"
	"github.com/easelhq/easel/internal/awstest"
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
		benchServe(b, png, nil)
	})
	b.Run("aws", func(b *testing.B) {
		s3ep, ddbep := awstest.S3(b), awstest.DynamoDB(b)
		cfg := awstest.Config(b, s3ep, ddbep)
		bucket, table := awstest.NewBucket(b, cfg), awstest.TableName(b, cfg)
		benchServe(b, png, []awstest.Endpoint{s3ep, ddbep},
			"--catalog", "dynamodb://"+table, "--blob", "s3://"+bucket+"?prefix=images/&use_path_style=true")
	})
}

// benchServe starts the fake and easel serve, configured through the SDK's standard
// settings for the given emulator endpoints (internal/awstest) and the extra flags, then
// measures generations over HTTP.
func benchServe(b *testing.B, png []byte, endpoints []awstest.Endpoint, extra ...string) {
	ak, sk := awstest.Credentials()
	fake := httptest.NewServer(bedrocktest.NewHandler(ak, sk, bedrocktest.WithFixedImage(png), bedrocktest.WithRegion(awstest.Region)))
	b.Cleanup(fake.Close)
	awstest.Config(b, append(endpoints, awstest.BedrockRuntime(fake.URL))...)
	data := b.TempDir()
	stores := append([]string{"--data", data}, extra...)
	ctx := context.Background()
	var out, logs bytes.Buffer
	if err := run(ctx, append([]string{"migrate"}, stores...), &out, &logs); err != nil {
		b.Fatalf("easel migrate: %v\n%s", err, logs.String())
	}
	out.Reset()
	keyArgs := []string{"keys", "create", "--user", "bench"}
	for i := 0; i < len(stores); i++ {
		if stores[i] == "--blob" { // keys use the catalog only
			i++
			continue
		}
		keyArgs = append(keyArgs, stores[i])
	}
	if err := run(ctx, keyArgs, &out, &logs); err != nil {
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
