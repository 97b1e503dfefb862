package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/easelhq/easel/internal/awstest"
)

// Image URLs and the page's Content-Security-Policy, wherever the images live.

// postWithHost generates one small image, sending the request to the server's address
// with the Host header host (as a browser on another machine would), and returns the
// image's URL.
func postWithHost(t *testing.T, s *testServer, host string, hdr ...string) string {
	t.Helper()
	req, err := http.NewRequest("POST", s.url+"/v1/images", strings.NewReader(`{"prompt":"a lighthouse","width":256,"height":256}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Images []struct {
			URL string `json:"url"`
		} `json:"images"`
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 || json.Unmarshal(body, &out) != nil || len(out.Images) != 1 {
		t.Fatalf("POST /v1/images (Host %s) = %d %s", host, resp.StatusCode, body)
	}
	return out.Images[0].URL
}

func TestImageURLsFollowTheRequestHost(t *testing.T) {
	// Listening on every interface: the URLs must not say 127.0.0.1 to a caller on the LAN.
	s := startServerOn(t, t.TempDir(), "--addr", "0.0.0.0:0", "--user-rate=0")
	u, _ := url.Parse(s.url)
	port := u.Port()
	for _, tc := range []struct {
		name, host string
		hdr        []string
		want       string
	}{
		{"a LAN name", "easel-box.lan:" + port, nil, "http://easel-box.lan:" + port + "/images/"},
		{"a LAN address", "192.0.2.20:" + port, nil, "http://192.0.2.20:" + port + "/images/"},
		{"a mapped port", "localhost:9000", nil, "http://localhost:9000/images/"},
		{"behind a TLS proxy", "easel.example.com", []string{"X-Forwarded-Proto", "https"}, "https://easel.example.com/images/"},
		{"loopback", "127.0.0.1:" + port, nil, "http://127.0.0.1:" + port + "/images/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := postWithHost(t, s, tc.host, tc.hdr...); !strings.HasPrefix(got, tc.want) {
				t.Errorf("image URL = %q, want it on %s", got, tc.want)
			}
		})
	}
	// The URL made for the loopback caller serves the image.
	got := postWithHost(t, s, "127.0.0.1:"+port)
	(&apiClient{t: t}).fetch(got)

	// The page needs no other image origin than its own.
	csp := pageCSP(t, s.url)
	if !strings.Contains(csp, "img-src 'self' data: blob:;") {
		t.Errorf("CSP = %q, want img-src 'self' data: blob: only", csp)
	}
}

func pageCSP(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Content-Security-Policy")
}

func TestPageCSPAllowsThePublicURL(t *testing.T) {
	s := startServerOn(t, t.TempDir(), "--public-url", "https://cdn.example.test/images/")
	if csp := pageCSP(t, s.url); !strings.Contains(csp, "img-src 'self' data: blob: https://cdn.example.test;") {
		t.Errorf("CSP = %q, want img-src to allow https://cdn.example.test", csp)
	}
	if got := postWithHost(t, s, "easel-box.lan:8080"); !strings.HasPrefix(got, "https://cdn.example.test/images/") {
		t.Errorf("image URL = %q, want it under the public URL", got)
	}
}

// TestBrowserS3ImagesWithoutPublicURL: images in S3 (versitygw), no --public-url, so the
// page shows presigned URLs on the S3 endpoint: the CSP must allow that origin and the
// gallery's images must load in a real browser.
func TestBrowserS3ImagesWithoutPublicURL(t *testing.T) {
	exe := chromiumPath(t)
	s3ep := awstest.S3(t)
	cfg := awstest.Config(t, s3ep)
	bucket := awstest.NewBucket(t, cfg)
	s := startServerOn(t, t.TempDir(), "--blob", "s3://"+bucket+"?prefix=images/&use_path_style=true", "--user-rate=0")

	endpoint, _ := url.Parse(s3ep.URL)
	origin := "http://" + endpoint.Host
	if csp := pageCSP(t, s.url); !strings.Contains(csp, "img-src 'self' data: blob: "+origin+";") {
		t.Errorf("CSP = %q, want img-src to allow the S3 endpoint %s", csp, origin)
	}
	api := &pageAPI{t: t, base: s.url, key: s.key}
	prompts := []string{"a lighthouse on a cliff", "a red fox in snow"}
	for _, p := range prompts {
		api.generate(map[string]any{"prompt": p, "width": 256, "height": 256})
	}
	imgs := api.images(10)
	for _, img := range imgs {
		if !strings.HasPrefix(img.URL, origin+"/"+bucket+"/images/") || !strings.Contains(img.URL, "X-Amz-Signature=") {
			t.Fatalf("image URL = %q, want a presigned URL on %s", img.URL, origin)
		}
	}

	p := newPage(t, newBrowser(t, exe))
	p.do(chromedp.Navigate(s.url + "/#key=" + s.key))
	p.waitJS(fmt.Sprintf(`document.querySelectorAll("#gallery img").length === %d`, len(prompts)))
	// Every tile's image comes from S3 and has loaded (a CSP refusal leaves it broken).
	p.waitJS(`[...document.querySelectorAll("#gallery img")].every(i => i.complete && i.naturalWidth > 0)`)
	srcs := evalJS[[]string](p, `[...document.querySelectorAll("#gallery img")].map(i => i.currentSrc)`)
	for _, src := range srcs {
		if !strings.HasPrefix(src, origin+"/") {
			t.Errorf("tile image %q, want it from S3 at %s", src, origin)
		}
	}
	// The detail view's full image loads too.
	p.openTile(imgs[0].ID)
	p.waitJS(`(() => { const i = document.getElementById("detail-img"); return i.complete && i.naturalWidth > 0; })()`)
	p.checkConsole()
}
