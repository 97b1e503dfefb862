package eventbridgetest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/easelhq/easel/eventbridge/eventbridgetest"
)

func client(srv *eventbridgetest.Server) *eventbridge.Client {
	ak, sk := srv.Credentials()
	return eventbridge.New(eventbridge.Options{Region: srv.Region(), BaseEndpoint: aws.String(srv.URL()), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")})
}

func entry(bus, detail string) types.PutEventsRequestEntry {
	return types.PutEventsRequestEntry{EventBusName: aws.String(bus), Source: aws.String("easel"),
		DetailType: aws.String("Image Generation Succeeded"), Detail: aws.String(detail)}
}

func TestPutEvents(t *testing.T) {
	srv := eventbridgetest.NewServer(t, eventbridgetest.WithBus("easel"))
	c := client(srv)
	at := time.Date(2026, 11, 27, 10, 0, 0, 500_000_000, time.UTC)
	e1 := entry("easel", `{"id":"j1"}`)
	e1.Time = &at
	e1.Resources = []string{"arn:aws:s3:::bucket/key"}
	e2 := entry("arn:aws:events:us-east-1:000000000000:event-bus/easel", `{"id":"j2"}`)
	out, err := c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{e1, e2}})
	if err != nil || out.FailedEntryCount != 0 || len(out.Entries) != 2 || aws.ToString(out.Entries[0].EventId) == "" {
		t.Fatalf("PutEvents = %+v, %v", out, err)
	}
	got := srv.Events()
	if len(got) != 2 || got[0].Bus != "easel" || got[1].Bus != "easel" || got[0].Detail != `{"id":"j1"}` ||
		!got[0].Time.Equal(at) || got[0].Source != "easel" || got[0].Resources[0] != "arn:aws:s3:::bucket/key" ||
		got[0].EventID != *out.Entries[0].EventId {
		t.Errorf("Events = %+v", got)
	}
}

func TestEntryFailures(t *testing.T) {
	srv := eventbridgetest.NewServer(t)
	c := client(srv)
	noSource := entry("default", `{}`)
	noSource.Source = nil
	for _, tt := range []struct {
		name  string
		entry types.PutEventsRequestEntry
		code  string
	}{
		{"no source", noSource, "InvalidArgument"},
		{"detail not an object", entry("default", `["x"]`), "MalformedDetail"},
		{"detail not JSON", entry("default", `{x`), "MalformedDetail"},
		{"unknown bus", entry("nope", `{}`), "ResourceNotFoundException"},
		{"aws source", func() types.PutEventsRequestEntry {
			e := entry("default", `{}`)
			e.Source = aws.String("aws.s3")
			return e
		}(), "NotAuthorizedForSourceException"},
	} {
		out, err := c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{entry("default", `{}`), tt.entry}})
		if err != nil || out.FailedEntryCount != 1 || out.Entries[0].ErrorCode != nil || aws.ToString(out.Entries[1].ErrorCode) != tt.code {
			t.Errorf("%s: PutEvents = %+v, %v; want entry 1 failed with %s", tt.name, out, err, tt.code)
		}
	}
	if n := len(srv.Events()); n != 5 {
		t.Errorf("recorded %d events, want only the 5 good ones", n)
	}
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestLimits(t *testing.T) {
	srv := eventbridgetest.NewServer(t)
	c := client(srv)
	eleven := make([]types.PutEventsRequestEntry, 11)
	for i := range eleven {
		eleven[i] = entry("default", `{}`)
	}
	if _, err := c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: eleven}); errorCode(err) != "ValidationException" {
		t.Errorf("PutEvents(11 entries) = %v, want ValidationException", err)
	}
	// Two entries of 130 KB pass 256 KB together.
	big := `{"x":"` + strings.Repeat("a", 130*1024) + `"}`
	_, err := c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{entry("default", big), entry("default", big)}})
	if errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), "Total size") {
		t.Errorf("PutEvents(2×130 KB) = %v, want ValidationException about the total size", err)
	}
	if _, err := c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{entry("default", big)}}); err != nil {
		t.Errorf("PutEvents(130 KB) = %v", err)
	}
	if n := eventbridgetest.EntrySize(true, "easel", "Image Generation Succeeded", `{}`, []string{"r"}); n != 14+5+26+2+1 {
		t.Errorf("EntrySize = %d", n)
	}
}

func TestFaults(t *testing.T) {
	srv := eventbridgetest.NewServer(t)
	c := client(srv)
	srv.SetFault(eventbridgetest.Fault{Exception: "ThrottlingException", Times: 1})
	_, err := c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{entry("default", `{}`)}})
	if errorCode(err) != "ThrottlingException" {
		t.Errorf("PutEvents under a fault = %v", err)
	}
	srv.SetFault(eventbridgetest.Fault{FailEntries: 2, EntryErrorCode: "ThrottlingException", Times: 1})
	out, err := c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{entry("default", `{}`), entry("default", `{}`), entry("default", `{}`)}})
	if err != nil || out.FailedEntryCount != 2 || aws.ToString(out.Entries[1].ErrorCode) != "ThrottlingException" || out.Entries[2].EventId == nil {
		t.Errorf("PutEvents with 2 failed entries = %+v, %v", out, err)
	}
	out, err = c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{entry("default", `{}`)}})
	if err != nil || out.FailedEntryCount != 0 {
		t.Errorf("after the fault cleared: %+v, %v", out, err)
	}
	if n := srv.Calls(); n != 3 {
		t.Errorf("Calls = %d, want 3", n)
	}
}

func TestStrictRequests(t *testing.T) {
	srv := eventbridgetest.NewServer(t)
	send := func(target, contentType, body string, sign bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("X-Amz-Target", target)
		if sign {
			ak, sk := srv.Credentials()
			sum := sha256.Sum256([]byte(body))
			if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk},
				req, hex.EncodeToString(sum[:]), "events", srv.Region(), time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const js = "application/x-amz-json-1.1"
	good := `{"Entries":[{"Source":"easel","DetailType":"d","Detail":"{}","Time":1790000000}]}`
	for _, tt := range []struct {
		name, target, ct, body string
		sign                   bool
		status                 int
		want                   string
	}{
		{"valid", "AWSEvents.PutEvents", js, good, true, 200, `"FailedEntryCount":0`},
		{"unsigned", "AWSEvents.PutEvents", js, good, false, 403, "MissingAuthenticationToken"},
		{"unknown member", "AWSEvents.PutEvents", js, `{"Entries":[{"Source":"easel","DetailType":"d","Detail":"{}","Priority":1}]}`, true, 400, "Unknown member"},
		{"member in the wrong case", "AWSEvents.PutEvents", js, `{"entries":[]}`, true, 400, "Unknown member"},
		{"time as a string", "AWSEvents.PutEvents", js, `{"Entries":[{"Source":"easel","DetailType":"d","Detail":"{}","Time":"2026-11-27T10:00:00Z"}]}`, true, 200, "InvalidArgument"},
		{"detail as an object", "AWSEvents.PutEvents", js, `{"Entries":[{"Source":"easel","DetailType":"d","Detail":{}}]}`, true, 400, "SerializationException"},
		{"no entries", "AWSEvents.PutEvents", js, `{"Entries":[]}`, true, 400, "ValidationException"},
		{"JSON 1.0", "AWSEvents.PutEvents", "application/x-amz-json-1.0", good, true, 400, "Content-Type"},
		{"other operation", "AWSEvents.PutRule", js, `{}`, true, 400, "only PutEvents"},
		{"global endpoint", "AWSEvents.PutEvents", js, `{"EndpointId":"abc.xyz","Entries":[{"Source":"easel","DetailType":"d","Detail":"{}"}]}`, true, 400, "EndpointId"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := send(tt.target, tt.ct, tt.body, tt.sign)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("= %d %s, want %d with %q", status, body, tt.status, tt.want)
			}
		})
	}
	if ev := srv.Events(); len(ev) != 1 || ev[0].Time.Unix() != 1790000000 {
		t.Errorf("Events = %+v, want the one valid event with its time", ev)
	}
}
