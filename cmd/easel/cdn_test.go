package main

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easelhq/easel/cloudfrontcdn/cloudfronttest"
	"github.com/easelhq/easel/internal/awstest"
)

// Deleting images invalidates their paths and their thumbnails' in CloudFront: the
// deletes of one window become one CreateInvalidation, and what is left at shutdown
// is sent before the process exits.
func TestDeletesBecomeOneInvalidation(t *testing.T) {
	const dist = "E2QWRUHAPOMQZL"
	awstest.Config(t)
	api := cloudfronttest.NewAPI(t, os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), dist)
	t.Setenv("AWS_ENDPOINT_URL_CLOUDFRONT", api.URL())

	s := startServerOn(t, t.TempDir(), "--public-url", "https://cdn.example.com/images/", "--thumbnails=true", "--user-rate=0",
		"--cloudfront-distribution", dist, "--cloudfront-invalidation-window", "2s")
	c := &apiClient{t: t, base: s.url}
	imgs := c.generate(s.key, map[string]any{"prompt": "three to delete", "n": 3, "width": 256, "height": 256})
	var want []string
	for _, img := range imgs {
		id := img["id"].(string)
		// Wait for the thumbnail, so there are two objects per image.
		deadline := time.Now().Add(10 * time.Second)
		for {
			m := c.do("GET", "/v1/images/"+id, s.key, nil).json(t)
			if th, _ := m["thumbnail_url"].(string); th != "" {
				want = append(want, strings.TrimPrefix(m["url"].(string), "https://cdn.example.com"), strings.TrimPrefix(th, "https://cdn.example.com"))
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no thumbnail after 10 s")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, img := range imgs {
		if r := c.do("DELETE", "/v1/images/"+img["id"].(string), s.key, nil); r.status != http.StatusNoContent {
			t.Fatalf("DELETE = %d %s", r.status, r.body)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(api.Invalidations()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2500 * time.Millisecond) // a second window would have ended
	got := api.Invalidations()
	if len(got) != 1 {
		t.Fatalf("invalidations = %d (%+v), want 1 for the 3 deletes; logs:\n%s", len(got), got, s.logs.String())
	}
	slices.Sort(want)
	paths := slices.Sorted(slices.Values(got[0].Paths))
	if !slices.Equal(paths, want) {
		t.Errorf("invalidated paths = %v, want the images' and thumbnails' %v", paths, want)
	}

	// A delete just before shutdown is sent at shutdown, not lost with the window.
	last := c.generate(s.key, small("deleted at the end"))[0]
	if r := c.do("DELETE", "/v1/images/"+last["id"].(string), s.key, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE = %d", r.status)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	got = api.Invalidations()
	lastPath := strings.TrimPrefix(last["url"].(string), "https://cdn.example.com")
	if len(got) != 2 || !slices.Contains(got[1].Paths, lastPath) {
		t.Errorf("after shutdown: invalidations %+v, want a second one with %s", got, lastPath)
	}
}

func TestInvalidationFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"distribution without a public URL", []string{"--cloudfront-distribution", "E1"}, "--public-url"},
		{"window zero", []string{"--cloudfront-invalidation-window", "0s"}, "--cloudfront-invalidation-window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCmd(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != 2 {
				t.Errorf("serve %v = %v, want a usage error naming %s", tc.args, err, tc.want)
			}
		})
	}
}
