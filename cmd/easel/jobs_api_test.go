package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/easelhq/easel/bedrock/bedrocktest"
)

// sseEvent is one event of a text/event-stream.
type sseEvent struct {
	id, event string
	data      map[string]any
}

// readEvents reads a job's event stream to its end (or a minute), with Last-Event-ID
// when after > 0.
func readEvents(t *testing.T, base, key, id string, after int) []sseEvent {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/jobs/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if after > 0 {
		req.Header.Set("Last-Event-ID", strconv.Itoa(after))
	}
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET events = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.event != "" {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data); err != nil {
				t.Fatalf("event data is not JSON: %v: %s", err, line)
			}
		}
	}
	return out
}

// TestJobsAcrossInstances (issue 8, done when 3): an event stream opened on one
// instance sees, in order, the events of a job that another instance runs, and
// Last-Event-ID resumes after the event it names. The second instance shares the
// catalog and runs no jobs itself (--queue none).
func TestJobsAcrossInstances(t *testing.T) {
	data := t.TempDir()
	a := startServerOn(t, data, "--thumbnails=false")
	b := startServerOn(t, data, "--queue", "none")
	ca, cb := &apiClient{t, a.url}, &apiClient{t, b.url}

	r := ca.do("POST", "/v1/images", a.key, map[string]any{"prompt": "a lighthouse", "n": 2, "width": 256, "height": 256},
		"Prefer", "respond-async")
	if r.status != http.StatusAccepted {
		t.Fatalf("POST async = %d %s, want 202", r.status, r.body)
	}
	job := r.json(t)
	id, _ := job["id"].(string)
	if loc := r.header.Get("Location"); loc != "/v1/jobs/"+id || r.header.Get("Preference-Applied") != "respond-async" {
		t.Errorf("202 headers = Location %q, Preference-Applied %q", loc, r.header.Get("Preference-Applied"))
	}
	if urls, _ := job["urls"].(map[string]any); urls["events"] != "/v1/jobs/"+id+"/events" {
		t.Errorf("job urls = %v", job["urls"])
	}

	evs := readEvents(t, b.url, a.key, id, 0)
	var types, ids []string
	for _, ev := range evs {
		types, ids = append(types, ev.event), append(ids, ev.id)
	}
	want := []string{"job.queued", "job.running", "image.ready", "image.ready", "job.succeeded"}
	if !slices.Equal(types, want) || !slices.Equal(ids, []string{"1", "2", "3", "4", "5"}) {
		t.Fatalf("events on the other instance = %v %v, want %v with ids 1..5", types, ids, want)
	}
	if imgs, _ := evs[4].data["images"].([]any); len(imgs) != 2 || evs[4].data["status"] != "succeeded" {
		t.Errorf("job.succeeded data = %v", evs[4].data)
	}
	if evs[2].data["url"] == nil || evs[2].data["sha256"] == nil {
		t.Errorf("image.ready data = %v, want the image", evs[2].data)
	}
	if evs[0].data["status"] != "queued" || evs[1].data["status"] != "running" {
		t.Errorf("each event's data is the job after it: %v, %v", evs[0].data["status"], evs[1].data["status"])
	}
	resumed := readEvents(t, b.url, a.key, id, 3)
	if len(resumed) != 2 || resumed[0].id != "4" || resumed[1].event != "job.succeeded" {
		t.Errorf("events after Last-Event-ID 3 = %v, want 4 and 5", resumed)
	}

	if r := cb.do("GET", "/v1/jobs/"+id, a.key, nil); r.status != 200 || r.json(t)["status"] != "succeeded" {
		t.Errorf("GET job on the other instance = %d %s", r.status, r.body)
	}
	if r := cb.do("POST", "/v1/jobs/"+id+"/cancel", a.key, nil); r.status != http.StatusConflict {
		t.Errorf("cancel an ended job = %d %s, want 409", r.status, r.body)
	}
	if r := ca.do("GET", "/v1/jobs?status=succeeded,failed&limit=5", a.key, nil); r.status != 200 || !strings.Contains(string(r.body), id) {
		t.Errorf("list jobs = %d %s", r.status, r.body)
	}
	// Another user's job is not there at all.
	bob := createKey(t, data, "bob")
	for _, path := range []string{"/v1/jobs/" + id, "/v1/jobs/" + id + "/events"} {
		if r := ca.do("GET", path, bob, nil); r.status != http.StatusNotFound {
			t.Errorf("bob GET %s = %d, want 404", path, r.status)
		}
	}
	if r := ca.do("POST", "/v1/jobs/"+id+"/cancel", bob, nil); r.status != http.StatusNotFound {
		t.Errorf("bob cancels alice's job = %d, want 404", r.status)
	}
	if r := ca.do("GET", "/v1/jobs?status=succeeded", bob, nil); strings.Contains(string(r.body), id) {
		t.Errorf("bob's job list shows alice's job: %s", r.body)
	}

	// The instance without a queue refuses to queue, and says so.
	if r := cb.do("POST", "/v1/images", a.key, map[string]any{"prompt": "x"}, "Prefer", "respond-async"); r.status != http.StatusBadRequest {
		t.Errorf("async on an instance without a queue = %d %s, want 400", r.status, r.body)
	}
}

// TestJobRequestsRefused: bad job options are 400s naming the field, and write
// nothing; a webhook to a private or metadata address is refused before any
// connection.
func TestJobRequestsRefused(t *testing.T) {
	s := startServerOn(t, t.TempDir())
	c := &apiClient{t, s.url}
	for _, tc := range []struct {
		name  string
		body  map[string]any
		hdr   []string
		param string
	}{
		{"metadata webhook", map[string]any{"prompt": "x", "webhook": "https://169.254.169.254/latest/meta-data"}, nil, "webhook"},
		{"loopback webhook", map[string]any{"prompt": "x", "webhook": "https://127.0.0.1:9/hook"}, nil, "webhook"},
		{"http webhook", map[string]any{"prompt": "x", "webhook": "http://example.com/hook"}, nil, "webhook"},
		{"unknown event", map[string]any{"prompt": "x", "webhook": "https://example.com/h", "webhook_events": []string{"job.exploded"}}, nil, "webhook_events"},
		{"events without webhook", map[string]any{"prompt": "x", "webhook_events": []string{"job.succeeded"}}, nil, "webhook_events"},
		{"bad wait", map[string]any{"prompt": "x"}, []string{"Prefer", "wait=soon"}, "Prefer"},
	} {
		hdr := append([]string{"Prefer", "respond-async"}, tc.hdr...)
		r := c.do("POST", "/v1/images", s.key, tc.body, hdr...)
		if r.status != http.StatusBadRequest || r.errorField(t, "param") != tc.param {
			t.Errorf("%s: %d %s, want 400 param %s", tc.name, r.status, r.body, tc.param)
		}
	}
	if r := c.do("GET", "/v1/jobs", s.key, nil); r.status != 200 || strings.Contains(string(r.body), `"id"`) {
		t.Errorf("refused requests left jobs: %s", r.body)
	}
	if r := c.do("GET", "/v1/jobs?status=done", s.key, nil); r.status != http.StatusBadRequest {
		t.Errorf("GET /v1/jobs?status=done = %d, want 400", r.status)
	}
	if r := c.do("GET", "/v1/webhooks/secret", s.key, nil); r.status != 200 || !strings.HasPrefix(r.json(t)["key"].(string), "whsec_") {
		t.Errorf("GET webhook secret = %d %s", r.status, r.body)
	}
}

// TestCancelQueuedJobCallsNoModel (issue 8, done when 5): a queued job canceled before
// a worker takes it never reaches the model: the Bedrock fake's call count does not
// move for it.
func TestCancelQueuedJobCallsNoModel(t *testing.T) {
	const core = "stability.stable-image-core-v1:1"
	fake := bedrockFake(t, bedrocktest.WithSmallImages(), bedrocktest.WithLatency(time.Second))
	base, key := startServer(t, "--model", "bedrock:core", "--workers", "1", "--user-concurrency", "0",
		"--thumbnails=false")
	c := &apiClient{t, base}
	first := c.do("POST", "/v1/images", key, map[string]any{"prompt": "runs"}, "Prefer", "respond-async").json(t)
	second := c.do("POST", "/v1/images", key, map[string]any{"prompt": "waits"}, "Prefer", "respond-async").json(t)
	deadline := time.Now().Add(10 * time.Second)
	for fake.Calls(core) < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	r := c.do("POST", "/v1/jobs/"+second["id"].(string)+"/cancel", key, nil)
	if r.status != http.StatusOK || r.json(t)["status"] != "canceled" {
		t.Fatalf("cancel the queued job = %d %s, want 200 canceled", r.status, r.body)
	}
	done := c.do("GET", "/v1/jobs/"+first["id"].(string), key, nil, "Prefer", "wait=30").json(t)
	if done["status"] != "succeeded" {
		t.Fatalf("the first job = %v, want succeeded", done["status"])
	}
	time.Sleep(1500 * time.Millisecond) // a worker is free: were the canceled job still queued, it would run now
	if n := fake.Calls(core); n != 1 {
		t.Errorf("Bedrock calls = %d, want 1 (the canceled job never reached the model)", n)
	}
}
