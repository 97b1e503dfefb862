package boottest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/easelhq/easel/infra/stacks"
)

// TestFirstDeployCleanup runs the first-deploy cleanup function (the same code the
// template inlines) in Node.js with the AWS SDK clients the Lambda runtime provides,
// against versitygw and dynalite over the wire and a CloudFormation fake (its
// DescribeStacks answers the stack status the case needs). It must empty and delete
// the buckets only while the stack's creation rolls back, never touch them otherwise,
// and always answer CloudFormation with SUCCESS so that a rollback is never blocked.
// (dynalite knows no deletion protection: turning it off is proven on paper only.)
func TestFirstDeployCleanup(t *testing.T) {
	if os.Getenv(RequireEnv) != "1" {
		t.Skipf("set %s=1 to run it (needs root for the sandbox; scripts/test.sh runs it)", RequireEnv)
	}
	sdk, err := filepath.Abs("testdata/lambda-sdk/node_modules")
	if err != nil || !fileExists(filepath.Join(sdk, "@aws-sdk/client-s3")) {
		t.Fatalf("the Lambda SDK clients are not installed: (cd infra/boottest/testdata/lambda-sdk && npm ci)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("the test needs node on PATH")
	}
	dir := t.TempDir()
	repo, _ := filepath.Abs("../..")
	sb, err := NewSandbox(filepath.Join(dir, "sandbox"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	w := &world{sb: sb, dir: dir, repo: repo, ak: "CLEAN" + strings.ToUpper(randomString(10, lowerDigits)), sk: randomString(32, lowerDigits)}
	w.startEmulators(t, map[string]string{
		"node": node, "versitygw": versitygw(t),
		"dynalite": filepath.Join(repo, "scripts/dynalite/node_modules/dynalite/cli.js"),
	}, "")
	cfn := &cfnFake{accessKey: w.ak}
	serve(t, sb, "127.0.0.1:8002", cfn)
	responses := &responseSink{}
	serve(t, sb, "127.0.0.1:8003", responses)

	ctx := context.Background()
	httpClient := &http.Client{Transport: &http.Transport{DialContext: sb.DialContext}}
	creds := credentials.NewStaticCredentialsProvider(w.ak, w.sk, "")
	ddb := dynamodb.New(dynamodb.Options{Region: region, Credentials: creds, HTTPClient: httpClient,
		BaseEndpoint: aws.String("http://" + dynamoAddr)})
	table := "Easel-CatalogTable-" + randomString(8, upperDigits)
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
	}); err != nil {
		t.Fatal(err)
	}

	// fill makes the two buckets; with many, the log bucket holds more objects than one
	// listing returns, as logs pile up during a failed first deploy.
	fill := func(t *testing.T, many bool) []string {
		buckets := []string{"easel-imagebucket-" + randomString(8, lowerDigits), "easel-logbucket-" + randomString(8, lowerDigits)}
		for i, b := range buckets {
			if _, err := w.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
				t.Fatal(err)
			}
			n := 3
			if many && i == 1 {
				n = 1005
			}
			var wg sync.WaitGroup
			sem := make(chan struct{}, 16)
			for j := 0; j < n; j++ {
				wg.Add(1)
				sem <- struct{}{}
				go func(j int) {
					defer wg.Done()
					defer func() { <-sem }()
					if _, err := w.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b),
						Key: aws.String(fmt.Sprintf("alb/AWSLogs/%04d.log.gz", j)), Body: bytes.NewReader([]byte("log line"))}); err != nil {
						t.Error(err)
					}
				}(j)
			}
			wg.Wait()
		}
		return buckets
	}
	exists := func(bucket string) bool {
		_, err := w.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
		var nf *s3types.NotFound
		if err != nil && !errors.As(err, &nf) {
			t.Fatalf("HeadBucket %s: %v", bucket, err)
		}
		return err == nil
	}
	run := func(t *testing.T, requestType, status string, buckets []string) map[string]interface{} {
		cfn.setStatus(status)
		event := map[string]interface{}{
			"RequestType":       requestType,
			"ResponseURL":       "http://127.0.0.1:8003/response?signature=x",
			"StackId":           "arn:aws:cloudformation:us-east-1:123456789012:stack/Easel/0d4b5c10-0000-0000-0000-000000000000",
			"RequestId":         randomString(12, lowerDigits),
			"LogicalResourceId": "FirstDeployCleanup",
			"ResourceType":      stacks.CleanupResourceType,
			"ResourceProperties": map[string]interface{}{
				"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:cleanup",
				"TableName":    table,
				"Buckets":      buckets,
			},
		}
		if requestType != "Create" {
			event["PhysicalResourceId"] = "first-deploy-cleanup"
		}
		data, _ := json.Marshal(event)
		script := "require(process.argv[1]).handler(JSON.parse(process.argv[2]))" +
			".then(() => process.exit(0), (e) => { console.error(e); process.exit(1); })"
		cmd := exec.Command(node, "-e", script, filepath.Join(repo, "infra/stacks/cleanup/index.js"), string(data))
		cmd.Env = []string{"PATH=/usr/bin:/bin", "NODE_PATH=" + sdk, "AWS_REGION=" + region,
			"AWS_ACCESS_KEY_ID=" + w.ak, "AWS_SECRET_ACCESS_KEY=" + w.sk,
			"AWS_ENDPOINT_URL_S3=http://127.0.0.1:" + s3Port, "AWS_ENDPOINT_URL_DYNAMODB=http://" + dynamoAddr,
			"AWS_ENDPOINT_URL_CLOUDFORMATION=http://127.0.0.1:8002", "AWS_EC2_METADATA_DISABLED=true",
			"HOME=" + dir}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := sb.Start(cmd, false); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("handler: %v\n%s", err, out.String())
		}
		resp := responses.last()
		if resp == nil || resp["Status"] != "SUCCESS" || resp["RequestId"] != event["RequestId"] ||
			resp["PhysicalResourceId"] != "first-deploy-cleanup" || resp["LogicalResourceId"] != "FirstDeployCleanup" {
			t.Fatalf("response to CloudFormation %v, want SUCCESS for this request\nhandler output:\n%s", resp, out.String())
		}
		return resp
	}

	t.Run("create does nothing", func(t *testing.T) {
		buckets := fill(t, false)
		run(t, "Create", "CREATE_IN_PROGRESS", buckets)
		if !exists(buckets[0]) || !exists(buckets[1]) {
			t.Error("a Create removed a bucket")
		}
	})
	for _, status := range []string{"DELETE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS"} {
		t.Run("delete during "+status+" keeps the data", func(t *testing.T) {
			buckets := fill(t, false)
			resp := run(t, "Delete", status, buckets)
			if !exists(buckets[0]) || !exists(buckets[1]) {
				t.Errorf("a Delete during %s removed a bucket", status)
			}
			if !strings.Contains(fmt.Sprint(resp["Reason"]), "data kept") {
				t.Errorf("reason %q", resp["Reason"])
			}
		})
	}
	t.Run("delete during the creation rollback removes the buckets", func(t *testing.T) {
		buckets := fill(t, true)
		resp := run(t, "Delete", "ROLLBACK_IN_PROGRESS", buckets)
		for _, b := range buckets {
			if exists(b) {
				t.Errorf("bucket %s survived the creation rollback", b)
			}
		}
		if !strings.Contains(fmt.Sprint(resp["Reason"]), "buckets removed") {
			t.Errorf("reason %q", resp["Reason"])
		}
		if _, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err != nil {
			t.Errorf("the table is CloudFormation's to delete, not the cleanup's: %v", err)
		}
		// Run again (CloudFormation retries a delete): the buckets are gone, still SUCCESS.
		run(t, "Delete", "ROLLBACK_IN_PROGRESS", buckets)
	})
	t.Run("a failing cleanup never blocks the rollback", func(t *testing.T) {
		buckets := fill(t, false)
		cfn.fail(true)
		defer cfn.fail(false)
		resp := run(t, "Delete", "ROLLBACK_IN_PROGRESS", buckets)
		if !strings.Contains(fmt.Sprint(resp["Reason"]), "cleanup failed") {
			t.Errorf("reason %q, want the failure reported", resp["Reason"])
		}
	})
	if n := cfn.signed(); n == 0 {
		t.Error("the CloudFormation fake saw no signed DescribeStacks")
	}
}

// startEmulators starts dynalite and versitygw in the sandbox (with virtualDomain,
// versitygw also serves virtual-hosted buckets under it, as S3 does) and makes an S3
// client for the test.
func (w *world) startEmulators(t *testing.T, tools map[string]string, virtualDomain string) {
	dyn := exec.Command(tools["node"], tools["dynalite"], "--host", "127.0.0.1", "--port", portOf(dynamoAddr),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	dyn.Stdout, dyn.Stderr = w.logFile(t, "dynalite"), w.logFile(t, "dynalite.err")
	if err := w.sb.Start(dyn, false); err != nil {
		t.Fatal(err)
	}
	s3dir := filepath.Join(w.dir, "s3data")
	_ = os.MkdirAll(s3dir, 0o755)
	args := []string{"--port", "127.0.0.1:" + s3Port}
	if virtualDomain != "" {
		args = append(args, "--virtual-domain", virtualDomain)
	}
	gw := exec.Command(tools["versitygw"], append(args, "posix", s3dir)...)
	gw.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+w.ak, "ROOT_SECRET_KEY="+w.sk)
	gw.Stdout, gw.Stderr = w.logFile(t, "versitygw"), w.logFile(t, "versitygw.err")
	if err := w.sb.Start(gw, false); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{dynamoAddr, "127.0.0.1:" + s3Port} {
		if err := w.sb.WaitListening(addr, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	w.s3 = s3.New(s3.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(w.ak, w.sk, ""),
		BaseEndpoint: aws.String("http://127.0.0.1:" + s3Port),
		UsePathStyle: true,
		HTTPClient:   &http.Client{Transport: &http.Transport{DialContext: w.sb.DialContext}},
	})
}

// logFile creates a log file in the test's directory, closed when the test ends.
func (w *world) logFile(t *testing.T, name string) *os.File {
	f, err := os.Create(filepath.Join(w.dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func serve(t *testing.T, sb *Sandbox, addr string, h http.Handler) {
	ln, err := sb.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
}

// cfnFake answers CloudFormation's DescribeStacks (query protocol) with a settable
// stack status. It is a fake: it checks only that the call is signed for
// CloudFormation with the expected access key.
type cfnFake struct {
	accessKey string
	mu        sync.Mutex
	status    string
	failing   bool
	calls     int
}

func (f *cfnFake) setStatus(s string) { f.mu.Lock(); f.status = s; f.mu.Unlock() }
func (f *cfnFake) fail(b bool)        { f.mu.Lock(); f.failing = b; f.mu.Unlock() }
func (f *cfnFake) signed() int        { f.mu.Lock(); defer f.mu.Unlock(); return f.calls }

func (f *cfnFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	auth := r.Header.Get("Authorization")
	if !strings.Contains(auth, "Credential="+f.accessKey+"/") || !strings.Contains(auth, "/"+region+"/cloudformation/aws4_request") {
		http.Error(w, "<ErrorResponse><Error><Code>InvalidClientTokenId</Code></Error></ErrorResponse>", http.StatusForbidden)
		return
	}
	if !bytes.Contains(body, []byte("Action=DescribeStacks")) {
		http.Error(w, "<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls++
	status, failing := f.status, f.failing
	f.mu.Unlock()
	if failing {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>`+
			`<Code>ValidationError</Code><Message>Stack with id Easel does not exist</Message></Error><RequestId>1</RequestId></ErrorResponse>`)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>`+
		`<StackName>Easel</StackName><StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/Easel/0d4b5c10</StackId>`+
		`<CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>%s</StackStatus></member></Stacks></DescribeStacksResult>`+
		`<ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></DescribeStacksResponse>`, status)
}

// responseSink receives the custom resource's answer, as CloudFormation's presigned
// response URL does (a PUT of a JSON document).
type responseSink struct {
	mu   sync.Mutex
	resp map[string]interface{}
}

func (s *responseSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m map[string]interface{}
	if r.Method != http.MethodPut || json.NewDecoder(r.Body).Decode(&m) != nil {
		http.Error(w, "want a PUT of JSON", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.resp = m
	s.mu.Unlock()
}

func (s *responseSink) last() map[string]interface{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.resp
	s.resp = nil
	return r
}
