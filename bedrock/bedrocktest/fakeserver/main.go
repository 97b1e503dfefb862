// Command fakeserver runs the Bedrock wire fake (package bedrocktest) as a process, for
// end-to-end scripts and the benchmark command. It is a fake: it answers InvokeModel
// (and GetFoundationModel: every model ACTIVE) like Bedrock, with images from Easel's offline generator, and checks that requests are
// signed with the key pair in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/easelhq/easel/bedrock/bedrocktest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bedrock fake:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	latency := flag.Duration("latency", 0, "added latency per call, like a real model")
	region := flag.String("region", bedrocktest.DefaultRegion, "region requests must be signed for")
	fixed := flag.Bool("fixed-image", false, "answer every call with one pre-rendered ~1.5 MB PNG (benchmarks)")
	flag.Parse()
	ak, sk := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if ak == "" || sk == "" {
		return errors.New("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: requests must be signed with them")
	}
	opts := []bedrocktest.Option{bedrocktest.WithRegion(*region), bedrocktest.WithLatency(*latency)}
	if *fixed {
		img, err := bedrocktest.NoisyPNG(1024, 1024, 1)
		if err != nil {
			return err
		}
		opts = append(opts, bedrocktest.WithFixedImage(img))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Printf("bedrock fake listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: bedrocktest.NewHandler(ak, sk, opts...), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.NewTextHandler(os.Stderr, nil), slog.LevelWarn)}
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
