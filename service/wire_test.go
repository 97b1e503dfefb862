package service_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/bedrock"
	"github.com/easelhq/easel/bedrock/bedrocktest"
	"github.com/easelhq/easel/dynamostore"
	"github.com/easelhq/easel/internal/awstest"
	"github.com/easelhq/easel/s3blob"
	"github.com/easelhq/easel/service"
)

// The fault suite over the wire: the service on the AWS adapters, with real SDK clients,
// against dynalite, versitygw and the Bedrock wire fake, with faults injected at each
// step. The invariants hold and the statuses are as mapped.

type wireEnv struct {
	svc    *service.Service
	fake   *bedrocktest.Handler
	blobs  *faultyBlobs
	cat    *faultyCatalog
	s3     *s3.Client
	bucket string
	clock  *clock
	alice  *service.Principal
}

// slowBlobs delays Put, calling onPut first (to cancel the caller mid-store).
type slowBlobs struct {
	*faultyBlobs
	delay time.Duration
	onPut func()
}

func newWireEnv(t *testing.T, wrap func(*faultyBlobs) easel.BlobStore) *wireEnv {
	t.Helper()
	ak, sk := awstest.Credentials()
	fake := bedrocktest.NewHandler(ak, sk, bedrocktest.WithRegion(awstest.Region), bedrocktest.WithSmallImages())
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg := awstest.Config(t, awstest.S3(t), awstest.DynamoDB(t), awstest.BedrockRuntime(srv.URL))
	ctx := context.Background()

	bucket := awstest.NewBucket(t, cfg)
	s3b, err := s3blob.Open(ctx, cfg, "s3://"+bucket+"?prefix=images/&use_path_style=true", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	ddb, err := dynamostore.Open(ctx, cfg, "dynamodb://"+awstest.TableName(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := ddb.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	model, err := bedrock.New(bedrockruntime.NewFromConfig(cfg), "core", bedrock.Options{
		Timeout: 2 * time.Second, MaxRetries: 2, BackoffBase: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &wireEnv{
		fake: fake, blobs: &faultyBlobs{BlobStore: s3b}, cat: &faultyCatalog{Catalog: ddb},
		s3: awstest.S3Client(cfg), bucket: bucket, clock: &clock{t: time.Now()},
		alice: &service.Principal{UserID: "alice"},
	}
	var blobs easel.BlobStore = e.blobs
	if wrap != nil {
		blobs = wrap(e.blobs)
	}
	l := unlimited()
	l.DailyQuota = 100
	e.svc, err = service.New(service.Config{
		Models: []easel.Model{model}, Catalog: e.cat, Blobs: blobs, Limits: l,
		SweepAfter: 10 * time.Minute, Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.svc.Close(context.Background()) })
	if err := e.svc.CheckBlobStore(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

func (s *slowBlobs) Put(ctx context.Context, key string, data []byte, ct string) error {
	if s.onPut != nil {
		s.onPut()
	}
	time.Sleep(s.delay)
	return s.faultyBlobs.Put(ctx, key, data, ct)
}

// objects lists the bucket's keys behind the adapter's back.
func (e *wireEnv) objects(t *testing.T) []string {
	t.Helper()
	out, err := e.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(e.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		if k := aws.ToString(o.Key); k != "images/.easel-owner" {
			keys = append(keys, k)
		}
	}
	return keys
}

// checkInvariants: every listed image's object exists, and no object is unlisted.
func (e *wireEnv) checkInvariants(t *testing.T) {
	t.Helper()
	page, err := e.svc.ListImages(context.Background(), e.alice, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, img := range page.Images {
		listed["images/"+img.Key] = true
		if _, err := e.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(e.bucket), Key: aws.String("images/" + img.Key)}); err != nil {
			t.Errorf("ready image %s has no object: %v", img.ID, err)
		}
	}
	for _, k := range e.objects(t) {
		if !listed[k] && !isThumb(k) {
			t.Errorf("object %s has no ready record", k)
		}
	}
}

func isThumb(key string) bool {
	id, ok := easel.IDFromKey(key[len("images/"):])
	return ok && key == "images/"+easel.ThumbKey(id, "image/jpeg")
}

func TestWireGenerate(t *testing.T) {
	e := newWireEnv(t, nil)
	res, err := e.svc.Generate(context.Background(), e.alice, &easel.GenerateRequest{Prompt: "a kite", N: 2}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Images) != 2 || len(e.objects(t)) != 2 {
		t.Errorf("%d images, %d objects; want 2 and 2", len(res.Images), len(e.objects(t)))
	}
	e.checkInvariants(t)
}

func TestWireBedrockFaults(t *testing.T) {
	e := newWireEnv(t, nil)
	for _, tc := range []struct {
		fault bedrocktest.Fault
		code  string
	}{
		{bedrocktest.Fault{Exception: "ThrottlingException"}, easel.ERateLimited},
		{bedrocktest.Fault{Exception: "ServiceQuotaExceededException"}, easel.ERateLimited},
		{bedrocktest.Fault{Exception: "ModelTimeoutException"}, easel.EModelTimeout},
		{bedrocktest.Fault{Exception: "AccessDeniedException"}, easel.EModelUnavailable},
		{bedrocktest.Fault{Exception: "ResourceNotFoundException"}, easel.EModelUnavailable},
		{bedrocktest.Fault{Exception: "ModelErrorException"}, easel.EModelError},
		{bedrocktest.Fault{Exception: "InternalServerException"}, easel.EModelUnavailable},
		{bedrocktest.Fault{Exception: "ServiceUnavailableException"}, easel.EModelUnavailable},
		{bedrocktest.Fault{FilterPrompt: true}, easel.EContentPolicy},
		{bedrocktest.Fault{FilterPromptInBody: true}, easel.EContentPolicy},
		{bedrocktest.Fault{FilterOutput: 1}, easel.EContentPolicy},
		{bedrocktest.Fault{Delay: 3 * time.Second}, easel.EModelTimeout},
	} {
		name := tc.fault.Exception
		if name == "" {
			name = tc.code
		}
		t.Run(name, func(t *testing.T) {
			e.fake.SetFault(tc.fault)
			defer e.fake.SetFault(bedrocktest.Fault{})
			_, err := e.svc.Generate(context.Background(), e.alice, &easel.GenerateRequest{Prompt: "fault " + name}, "")
			if got := easel.ErrorCode(err); got != tc.code {
				t.Errorf("Generate under %+v = %v, want %s", tc.fault, err, tc.code)
			}
			if n := len(e.objects(t)); n != 0 {
				t.Errorf("%d objects stored after a failed generation", n)
			}
		})
	}
	// Quota was refunded for every failure: all 100 images are still available.
	l, err := e.cat.AddUsage(context.Background(), "alice", e.clock.Now().UTC().Format(time.DateOnly), 0, 0)
	if err != nil || l != 0 {
		t.Errorf("usage after failures = %d, %v; want 0 (refunded)", l, err)
	}
}

func TestWirePartialFilterKeepsTheRest(t *testing.T) {
	e := newWireEnv(t, nil)
	e.fake.SetFault(bedrocktest.Fault{FilterOutput: 1, Times: 1})
	res, err := e.svc.Generate(context.Background(), e.alice, &easel.GenerateRequest{Prompt: "three kites", N: 3}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Images) != 2 || res.Filtered != 1 {
		t.Errorf("got %d images, %d filtered; want 2 and 1", len(res.Images), res.Filtered)
	}
	e.checkInvariants(t)
}

func TestWireStorageFaults(t *testing.T) {
	e := newWireEnv(t, nil)
	ctx := context.Background()
	e.blobs.failPut.Store(true)
	if _, err := e.svc.Generate(ctx, e.alice, &easel.GenerateRequest{Prompt: "put fails"}, ""); err == nil {
		t.Error("Generate with S3 PUT failing succeeded")
	}
	e.blobs.failPut.Store(false)
	e.cat.failReady.Store(true)
	if _, err := e.svc.Generate(ctx, e.alice, &easel.GenerateRequest{Prompt: "dynamodb fails after the put"}, ""); err == nil {
		t.Error("Generate with DynamoDB failing after the PUT succeeded")
	}
	e.cat.failReady.Store(false)
	if n := len(e.objects(t)); n != 0 {
		t.Errorf("%d objects left after failed writes, want 0", n)
	}
	e.checkInvariants(t)

	// A crash after the PUT (the cleanup fails too) leaves a pending record and an
	// object; the sweep removes both once they are past the window.
	e.cat.failReady.Store(true)
	e.blobs.failDelete.Store(true)
	_, _ = e.svc.Generate(ctx, e.alice, &easel.GenerateRequest{Prompt: "crash"}, "")
	e.cat.failReady.Store(false)
	e.blobs.failDelete.Store(false)
	if n := len(e.objects(t)); n != 1 {
		t.Fatalf("%d objects after the crash, want 1", n)
	}
	e.clock.Add(11 * time.Minute)
	st, err := e.svc.Sweep(ctx)
	if err != nil || st.PendingRecords != 1 {
		t.Errorf("Sweep = %+v, %v; want 1 pending record removed", st, err)
	}
	if n := len(e.objects(t)); n != 0 {
		t.Errorf("%d objects after the sweep, want 0", n)
	}
}

// A slow PUT, with the client gone mid-store: the work the model was paid for is kept,
// and the client's retry with the same Idempotency-Key gets it without a second call.
func TestWireSlowPutClientGoneIdempotentRetry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	e := newWireEnv(t, func(b *faultyBlobs) easel.BlobStore {
		return &slowBlobs{faultyBlobs: b, delay: 300 * time.Millisecond, onPut: func() { once.Do(cancel) }}
	})
	r := &easel.GenerateRequest{Prompt: "slow storage"}
	// The caller goes away; its job does not.
	if _, err := e.svc.Generate(ctx, e.alice, r, "retry-me"); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate with the client gone mid-store = %v", err)
	}
	again, err := e.svc.Generate(context.Background(), e.alice, r, "retry-me")
	if err != nil || !again.Replayed || len(again.Images) != 1 {
		t.Fatalf("retry = %+v, %v; want the first request's image, replayed", again, err)
	}
	if n := e.fake.Calls("stability.stable-image-core-v1:1"); n != 1 {
		t.Errorf("model billed %d times, want 1", n)
	}
	e.checkInvariants(t)
}

// The stored idempotent answer holds image ids, not images: with n=4 and the longest
// prompts of characters JSON escapes ('<' is 6 bytes as \u003c), the answer with whole
// records would pass DynamoDB's 400 KB item limit, the finish would fail, and retries
// would get 409 and then pay again. The replay reads the records again.
func TestWireIdempotentAnswerFitsDynamoDB(t *testing.T) {
	e := newWireEnv(t, nil)
	long := strings.Repeat("<", 9000)
	r := &easel.GenerateRequest{Prompt: long, NegativePrompt: long, N: 4}
	first, err := e.svc.Generate(context.Background(), e.alice, r, "big-answer")
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.Generate(context.Background(), e.alice, r, "big-answer")
	if err != nil || !again.Replayed {
		t.Fatalf("replay = %+v, %v; want the stored answer", again, err)
	}
	if len(again.Images) != 4 {
		t.Fatalf("replay has %d images, want 4", len(again.Images))
	}
	for i := range first.Images {
		if again.Images[i].ID != first.Images[i].ID || again.Images[i].Prompt != long {
			t.Errorf("replayed image %d = %s, want %s with the prompt", i, again.Images[i].ID, first.Images[i].ID)
		}
	}
	if n := e.fake.Calls("stability.stable-image-core-v1:1"); n != 4 {
		t.Errorf("model billed %d times, want 4 (one call per image, once)", n)
	}
}

// usage reads alice's quota counter for today.
func (e *wireEnv) usage(t *testing.T) int {
	t.Helper()
	n, err := e.cat.AddUsage(context.Background(), "alice", e.clock.Now().UTC().Format(time.DateOnly), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// One failed call of a fan-out does not throw away its siblings' images, which were
// paid for: the answer has them and says how many failed, and only the failed one's
// quota is refunded.
func TestWireFailedSiblingKeepsPaidImages(t *testing.T) {
	e := newWireEnv(t, nil)
	e.fake.SetFault(bedrocktest.Fault{Exception: "ModelErrorException", Times: 1})
	res, err := e.svc.Generate(context.Background(), e.alice, &easel.GenerateRequest{Prompt: "three boats", N: 3}, "")
	if err != nil {
		t.Fatalf("Generate with one of three calls failing = %v, want the other two", err)
	}
	if len(res.Images) != 2 || res.Failed != 1 {
		t.Errorf("got %d images, %d failed; want 2 and 1", len(res.Images), res.Failed)
	}
	if n := e.usage(t); n != 2 {
		t.Errorf("quota used = %d, want 2 (the failed image refunded)", n)
	}
	if n := len(e.objects(t)); n != 2 {
		t.Errorf("%d objects, want 2", n)
	}
	e.checkInvariants(t)
}

// One failed upload keeps the images that were stored: before, the whole batch was
// deleted, paid for and lost.
func TestWireFailedUploadKeepsTheRest(t *testing.T) {
	e := newWireEnv(t, nil)
	e.blobs.failPuts.Store(1)
	res, err := e.svc.Generate(context.Background(), e.alice, &easel.GenerateRequest{Prompt: "three kites", N: 3}, "paid")
	if err != nil {
		t.Fatalf("Generate with one of three uploads failing = %v, want the other two", err)
	}
	if len(res.Images) != 2 || res.Failed != 1 {
		t.Errorf("got %d images, %d failed; want 2 and 1", len(res.Images), res.Failed)
	}
	if n := e.usage(t); n != 2 {
		t.Errorf("quota used = %d, want 2 (the failed image refunded)", n)
	}
	if n := len(e.objects(t)); n != 2 {
		t.Errorf("%d objects, want 2", n)
	}
	e.checkInvariants(t)
	again, err := e.svc.Generate(context.Background(), e.alice, &easel.GenerateRequest{Prompt: "three kites", N: 3}, "paid")
	if err != nil || !again.Replayed || len(again.Images) != 2 || again.Failed != 1 {
		t.Errorf("replay = %+v, %v; want the 2 images and failed 1", again, err)
	}
	if n := e.fake.Calls("stability.stable-image-core-v1:1"); n != 3 {
		t.Errorf("model billed %d times, want 3", n)
	}
}
