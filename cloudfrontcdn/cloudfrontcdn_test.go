package cloudfrontcdn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/cloudfrontcdn/cloudfronttest"
	"github.com/easelhq/easel/internal/awstest"
	"github.com/easelhq/easel/localfs"
)

const dist = "E2QWRUHAPOMQZL"

// newFake starts the CloudFront API fake and an SDK client pointed at it.
func newFake(t *testing.T, dists ...string) (*cloudfronttest.API, *cloudfront.Client) {
	t.Helper()
	ak, sk := awstest.RandomHex(10), awstest.RandomHex(20)
	api := cloudfronttest.NewAPI(t, ak, sk, dists...)
	client := cloudfront.New(cloudfront.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(ak, sk, ""),
		BaseEndpoint: aws.String(api.URL()),
	})
	return api, client
}

func paths(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("/images/%s.png", easel.NewID())
	}
	return out
}

// safeBuffer is a log sink for concurrent writers.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestInvalidatorSplitsAndFlushesOnClose(t *testing.T) {
	api, client := newFake(t, dist)
	inv, err := New(client, Options{Distribution: dist, Window: time.Hour, MaxPaths: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := paths(7)
	inv.Add(want[:4]...) // a full batch of 3 goes at once
	inv.Add(want[4:]...) // and another
	inv.Add(want[0])     // already queued or sent: not twice in one batch
	deadline := time.Now().Add(10 * time.Second)
	for len(api.Invalidations()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(api.Invalidations()); n != 2 {
		t.Fatalf("invalidations before Close = %d, want 2 full ones (the window is an hour)", n)
	}
	if err := inv.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var got []string
	for _, i := range api.Invalidations() {
		if len(i.Paths) > 3 || i.Distribution != dist {
			t.Errorf("invalidation %+v: want at most 3 paths of %s", i, dist)
		}
		got = append(got, i.Paths...)
	}
	for _, p := range want {
		if !slices.Contains(got, p) {
			t.Errorf("path %s never invalidated (got %v)", p, got)
		}
	}
	if len(api.Invalidations()) != 3 {
		t.Errorf("invalidations = %d, want 3 (3+3+1)", len(api.Invalidations()))
	}
	// After Close, a path goes at once.
	late := paths(1)
	inv.Add(late...)
	for !slices.ContainsFunc(api.Invalidations(), func(i cloudfronttest.Invalidation) bool { return slices.Contains(i.Paths, late[0]) }) {
		if time.Now().After(deadline) {
			t.Fatal("a path added after Close was not sent")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestInvalidatorBatchesAWindow(t *testing.T) {
	api, client := newFake(t, dist)
	inv, _ := New(client, Options{Distribution: dist, Window: 300 * time.Millisecond})
	want := paths(5)
	for _, p := range want {
		inv.Add(p)
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(600 * time.Millisecond)
	got := api.Invalidations()
	if len(got) != 1 || !slices.Equal(got[0].Paths, want) {
		t.Fatalf("invalidations = %+v, want one with the 5 paths in order", got)
	}
	if inv.Sent() != 1 {
		t.Errorf("Sent = %d, want 1", inv.Sent())
	}
}

func TestInvalidatorReportsUnknownDistribution(t *testing.T) {
	api, client := newFake(t, dist)
	var logs safeBuffer
	inv, _ := New(client, Options{Distribution: "ENOSUCHDIST", Window: time.Hour, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	inv.Add(paths(2)...)
	err := inv.Close(context.Background())
	if !errors.Is(err, ErrUnknownDistribution) || !strings.Contains(err.Error(), "ENOSUCHDIST") {
		t.Fatalf("Close = %v, want ErrUnknownDistribution naming the distribution", err)
	}
	if !errors.Is(inv.Err(), ErrUnknownDistribution) {
		t.Errorf("Err = %v", inv.Err())
	}
	if l := logs.String(); !strings.Contains(l, `"level":"ERROR"`) || !strings.Contains(l, "ENOSUCHDIST") || !strings.Contains(l, "NoSuchDistribution") {
		t.Errorf("log = %s, want an error naming the distribution and NoSuchDistribution", l)
	}
	// The paths are dropped, not retried forever.
	if err := inv.Flush(context.Background()); err != nil {
		t.Errorf("Flush after the refusal = %v, want nothing left to send", err)
	}
	if n := api.Calls(); n != 1 {
		t.Errorf("CreateInvalidation calls = %d, want 1", n)
	}
}

func TestInvalidatorRetriesWhenTooManyInProgress(t *testing.T) {
	api, client := newFake(t, dist)
	api.SetInProgressFor(time.Hour)
	inv, _ := New(client, Options{Distribution: dist, Window: time.Hour})
	inv.Add(paths(cloudfronttest.MaxPathsInProgress)...) // a full one, sent at once
	deadline := time.Now().Add(20 * time.Second)
	for len(api.Invalidations()) < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	kept := paths(2)
	inv.Add(kept...)
	err := inv.Flush(context.Background())
	if err == nil || !strings.Contains(err.Error(), "TooManyInvalidationsInProgress") {
		t.Fatalf("Flush = %v, want TooManyInvalidationsInProgress", err)
	}
	api.SetInProgressFor(0) // the first one completes
	if err := inv.Close(context.Background()); err != nil {
		t.Fatalf("Close = %v, want the kept paths sent", err)
	}
	got := api.Invalidations()
	if len(got) != 2 || !slices.Equal(got[1].Paths, kept) {
		t.Errorf("invalidations = %d, last %v, want the 2 kept paths sent after the refusal", len(got), got[len(got)-1].Paths)
	}
}

func TestStoreInvalidatesDeletes(t *testing.T) {
	api, client := newFake(t, dist)
	inv, _ := New(client, Options{Distribution: dist, Window: time.Hour})
	inner, err := localfs.New(t.TempDir(), "https://cdn.example.com/images/")
	if err != nil {
		t.Fatal(err)
	}
	st := NewStore(inner, inv, "/images/")
	ctx := context.Background()
	k := easel.ImageKey(easel.NewID(), "image/png")
	if err := st.Put(ctx, k, []byte("x"), "image/png"); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := inv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := api.Invalidations(); len(got) != 1 || !slices.Equal(got[0].Paths, []string{"/images/" + k}) {
		t.Errorf("invalidations = %+v, want /images/%s", got, k)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, o := range []Options{{}, {Distribution: dist, Window: -time.Second}, {Distribution: dist, MaxPaths: MaxPaths + 1}} {
		if _, err := New(nil, o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}
