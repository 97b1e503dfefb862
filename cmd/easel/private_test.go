package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/cloudfrontcdn/cloudfronttest"
	"github.com/easelhq/easel/internal/awstest"
	"github.com/easelhq/easel/internal/secretstest"
)

// Private images on the local setup: every URL Easel answers with is signed and
// expires, and /images/ serves only valid ones.

// getURL fetches u and returns its status, headers and body.
func getURL(t *testing.T, u string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// checkSigned fails unless u carries an expiry no further than expiry from now.
func checkSigned(t *testing.T, where, u string, expiry time.Duration) {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("%s: URL %q: %v", where, u, err)
	}
	exp, err := strconv.ParseInt(p.Query().Get("expires"), 10, 64)
	if err != nil || p.Query().Get("signature") == "" {
		t.Fatalf("%s: URL %q is not signed", where, u)
	}
	left := time.Until(time.Unix(exp, 0))
	if left <= 0 || left > expiry+time.Second {
		t.Errorf("%s: URL %q expires in %s, want within %s", where, u, left, expiry)
	}
}

// checkForbidden fails unless u answers 403 with a JSON error.
func checkForbidden(t *testing.T, what, u string) {
	t.Helper()
	st, h, body := getURL(t, u)
	if st != http.StatusForbidden || !strings.HasPrefix(h.Get("Content-Type"), "application/json") || !bytes.Contains(body, []byte(`"code":"forbidden"`)) {
		t.Errorf("%s: GET %s = %d %s %s, want 403 and a JSON forbidden error", what, u, st, h.Get("Content-Type"), body)
	}
}

func TestPrivateImagesLocally(t *testing.T) {
	const expiry = 4 * time.Second
	s := startServerOn(t, t.TempDir(), "--private-images", "--private-image-expiry", expiry.String(), "--thumbnails=true", "--user-rate=0")
	c := &apiClient{t: t, base: s.url}

	imgs := c.generate(s.key, small("a private lighthouse"))
	img := imgs[0]
	id, signed := img["id"].(string), img["url"].(string)
	checkSigned(t, "POST /v1/images", signed, expiry)

	t.Run("signed URL serves the image, privately cached", func(t *testing.T) {
		st, h, body := getURL(t, signed)
		if st != http.StatusOK || len(body) == 0 {
			t.Fatalf("GET %s = %d, want 200", signed, st)
		}
		cc := h.Get("Cache-Control")
		if !strings.HasPrefix(cc, "private, max-age=") {
			t.Errorf("Cache-Control = %q, want private with a max-age within the URL's life", cc)
		}
	})

	u, _ := url.Parse(signed)
	unsigned := *u
	unsigned.RawQuery = ""
	t.Run("unsigned URL is refused", func(t *testing.T) {
		checkForbidden(t, "unsigned", unsigned.String())
		// Even for a key with no object: a refusal tells nothing about what exists.
		checkForbidden(t, "unsigned missing", s.url+"/images/"+easel.ImageKey(easel.NewID(), "image/png"))
	})

	t.Run("tampered URLs are refused", func(t *testing.T) {
		q := u.Query()
		sig := q.Get("signature")
		flip := "A"
		if sig[0] == 'A' {
			flip = "B"
		}
		exp, _ := strconv.ParseInt(q.Get("expires"), 10, 64)
		for name, mod := range map[string]func(q url.Values){
			"signature changed":   func(q url.Values) { q.Set("signature", flip+sig[1:]) },
			"expiry extended":     func(q url.Values) { q.Set("expires", strconv.FormatInt(exp+3600, 10)) },
			"signature dropped":   func(q url.Values) { q.Del("signature") },
			"expiry not a number": func(q url.Values) { q.Set("expires", "soon") },
		} {
			q := u.Query()
			mod(q)
			v := *u
			v.RawQuery = q.Encode()
			checkForbidden(t, name, v.String())
		}
		// Another object's key with this image's signature.
		other := *u
		other.Path = "/images/" + easel.ImageKey(easel.NewID(), "image/png")
		checkForbidden(t, "signature of another key", other.String())
	})

	t.Run("every answer signs its URLs", func(t *testing.T) {
		r := c.do("GET", "/v1/images/"+id, s.key, nil)
		checkSigned(t, "GET /v1/images/{id}", r.json(t)["url"].(string), expiry)
		list := c.do("GET", "/v1/images", s.key, nil).json(t)
		for _, im := range list["images"].([]any) {
			checkSigned(t, "GET /v1/images", im.(map[string]any)["url"].(string), expiry)
		}
		// The thumbnail, once made.
		deadline := time.Now().Add(10 * time.Second)
		for {
			m := c.do("GET", "/v1/images/"+id, s.key, nil).json(t)
			if th, _ := m["thumbnail_url"].(string); th != "" {
				checkSigned(t, "thumbnail_url", th, expiry)
				if st, _, _ := getURL(t, th); st != http.StatusOK {
					t.Errorf("GET thumbnail %s = %d, want 200", th, st)
				}
				th, _ := url.Parse(th)
				th.RawQuery = ""
				checkForbidden(t, "unsigned thumbnail", th.String())
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no thumbnail_url after 10 s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		// The OpenAI endpoint's url format.
		oa := c.do("POST", "/v1/images/generations", s.key, map[string]any{"prompt": "p", "size": "256x256", "response_format": "url"})
		data, _ := oa.json(t)["data"].([]any)
		if oa.status != http.StatusOK || len(data) != 1 {
			t.Fatalf("POST /v1/images/generations = %d %s", oa.status, oa.body)
		}
		ou := data[0].(map[string]any)["url"].(string)
		checkSigned(t, "OpenAI url", ou, expiry)
		if st, _, _ := getURL(t, ou); st != http.StatusOK {
			t.Errorf("GET OpenAI url = %d, want 200", st)
		}
		// A job's answer and its events.
		jr := c.do("POST", "/v1/images", s.key, small("a queued fox"), "Prefer", "respond-async")
		if jr.status != http.StatusAccepted {
			t.Fatalf("POST async = %d %s", jr.status, jr.body)
		}
		jid := jr.json(t)["id"].(string)
		evs := readEvents(t, s.url, s.key, jid, 0)
		last := evs[len(evs)-1]
		eimgs, _ := last.data["images"].([]any)
		if last.event != "job.succeeded" || len(eimgs) != 1 {
			t.Fatalf("last event = %s %v", last.event, last.data)
		}
		checkSigned(t, "job.succeeded event", eimgs[0].(map[string]any)["url"].(string), expiry)
		job := c.do("GET", "/v1/jobs/"+jid, s.key, nil).json(t)
		jimgs, _ := job["images"].([]any)
		if len(jimgs) != 1 {
			t.Fatalf("job = %v", job)
		}
		checkSigned(t, "GET /v1/jobs/{id}", jimgs[0].(map[string]any)["url"].(string), expiry)
	})

	t.Run("expired URL is refused", func(t *testing.T) {
		exp, _ := strconv.ParseInt(u.Query().Get("expires"), 10, 64)
		time.Sleep(time.Until(time.Unix(exp, 0)) + 50*time.Millisecond)
		checkForbidden(t, "expired", signed)
		// A fresh answer gives a fresh URL that works.
		fresh := c.do("GET", "/v1/images/"+id, s.key, nil).json(t)["url"].(string)
		if st, _, _ := getURL(t, fresh); st != http.StatusOK {
			t.Errorf("GET fresh %s = %d, want 200", fresh, st)
		}
	})

	t.Run("deleted image's signed URL stops working", func(t *testing.T) {
		fresh := c.do("GET", "/v1/images/"+id, s.key, nil).json(t)["url"].(string)
		if st, _, _ := getURL(t, fresh); st != http.StatusOK {
			t.Fatalf("GET %s before delete = %d, want 200", fresh, st)
		}
		if r := c.do("DELETE", "/v1/images/"+id, s.key, nil); r.status != http.StatusNoContent {
			t.Fatalf("DELETE = %d %s", r.status, r.body)
		}
		if st, _, _ := getURL(t, fresh); st != http.StatusNotFound {
			t.Errorf("GET %s after delete = %d, want 404", fresh, st)
		}
	})
}

// The signing key lives in the catalog: a second instance on the same catalog accepts
// the first one's URLs, and so does the first after a restart.
func TestPrivateImagesSharedKey(t *testing.T) {
	data := t.TempDir()
	a := startServerOn(t, data, "--private-images")
	signed := (&apiClient{t: t, base: a.url}).generate(a.key, small("shared"))[0]["url"].(string)
	b := startServerOn(t, data, "--private-images", "--queue", "none")
	onB := strings.Replace(signed, a.url, b.url, 1)
	if st, _, _ := getURL(t, onB); st != http.StatusOK {
		t.Errorf("GET %s on the second instance = %d, want 200", onB, st)
	}
}

func TestPrivateImagesFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // in the error; "" for none
	}{
		{"expiry zero", []string{"--private-images", "--private-image-expiry", "0s"}, nil, "--private-image-expiry"},
		{"expiry below a second", []string{"--private-images", "--private-image-expiry", "500ms"}, nil, "--private-image-expiry"},
		{"expiry negative from the environment", []string{"--private-images"}, map[string]string{"EASEL_PRIVATE_IMAGE_EXPIRY": "-1h"}, "--private-image-expiry"},
		{"not a bool", nil, map[string]string{"EASEL_PRIVATE_IMAGES": "maybe"}, "EASEL_PRIVATE_IMAGES"},
		{"key pair id without its secret", []string{"--private-images", "--blob", "s3://bucket", "--public-url", "https://cdn.example.com/images/", "--cloudfront-key-pair-id", "K1"}, nil, "--cloudfront-private-key-secret"},
		{"secret from the environment without a key pair id", []string{"--private-images", "--blob", "s3://bucket", "--public-url", "https://cdn.example.com/images/"}, map[string]string{"EASEL_CLOUDFRONT_PRIVATE_KEY_SECRET": "arn:aws:secretsmanager:us-east-1:000000000000:secret:x"}, "--cloudfront-key-pair-id"},
		{"CloudFront signing of a local folder", []string{"--private-images", "--cloudfront-key-pair-id", "K1", "--cloudfront-private-key-secret", "x"}, nil, "--blob s3://"},
		{"a CDN URL with no way to sign it", []string{"--private-images", "--public-url", "https://cdn.example.com/images/", "--blob", "s3://bucket"}, map[string]string{"AWS_REGION": "us-east-1"}, "--private-images"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out, errOut bytes.Buffer
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...)
			err := run(ctx, args, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("serve %v = %v, want an error naming %s", tc.args, err, tc.want)
			}
			if exitCode(err) != 2 {
				t.Errorf("exit code %d, want 2 (a wrong call)", exitCode(err))
			}
		})
	}
	t.Run("the environment turns it on", func(t *testing.T) {
		t.Setenv("EASEL_PRIVATE_IMAGES", "true")
		t.Setenv("EASEL_PRIVATE_IMAGE_EXPIRY", "90s")
		s := startServerOn(t, t.TempDir())
		u := (&apiClient{t: t, base: s.url}).generate(s.key, small("env"))[0]["url"].(string)
		checkSigned(t, "EASEL_PRIVATE_IMAGES=true", u, 90*time.Second)
	})
}

// The page still shows the gallery in private mode: it uses the signed URLs it is
// given, and the Content-Security-Policy lets them load.
func TestBrowserPrivateImages(t *testing.T) {
	exe := chromiumPath(t)
	base, key := startServer(t, "--private-images", "--user-rate=0")
	api := &pageAPI{t: t, base: base, key: key}
	api.generate(map[string]any{"prompt": "a private harbour", "width": 256, "height": 256})

	p := newPage(t, newBrowser(t, exe))
	p.do(chromedp.Navigate(base + "/#key=" + key))
	p.waitNewestTile("a private harbour")
	src := evalJS[string](p, `document.querySelector("#gallery li:first-child img").currentSrc`)
	if !strings.Contains(src, "signature=") {
		t.Errorf("gallery image src = %q, want a signed URL", src)
	}
	first := api.images(1)[0]
	p.openTile(first.ID)
	p.waitJS(`(() => { const i = document.getElementById("detail-img"); return i.complete && i.naturalWidth > 0; })()`)
	// An unsigned copy of the URL does not load in the page either.
	unsigned, _, _ := strings.Cut(src, "?")
	p.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		window.__unsigned = "";
		const i = new Image();
		i.onload = () => { window.__unsigned = "loaded"; };
		i.onerror = () => { window.__unsigned = "refused"; };
		i.src = %q;
	})()`, unsigned)))
	p.waitJS(`window.__unsigned !== ""`)
	if evalJS[string](p, `window.__unsigned`) != "refused" {
		t.Errorf("unsigned %s loaded in the page", unsigned)
	}
	// A generation from the page (a job, its images arriving on the event stream) shows
	// in the gallery too.
	p.do(chromedp.KeyEvent(kb.Escape))
	p.waitJS(`!document.getElementById("detail").open`)
	p.selectOption("model", "offline")
	p.smallSize(api.model("offline"))
	p.do(chromedp.SendKeys(byLabel("Prompt"), "a private fox"), chromedp.Click(byButton("Generate")))
	p.waitNewestTile("a private fox")
	if src := evalJS[string](p, `document.querySelector("#gallery li:first-child img").currentSrc`); !strings.Contains(src, "signature=") {
		t.Errorf("new tile src = %q, want a signed URL", src)
	}
	p.checkConsole()
}

// On AWS: S3 behind CloudFront, the private key in Secrets Manager. The edge fake
// checks the canned-policy signatures with the public key of the trusted key group.
func TestPrivateImagesCloudFront(t *testing.T) {
	ak, sk := awstest.Credentials()
	sm := secretstest.NewServer(t, secretstest.WithCredentials(ak, sk))
	cfg := awstest.Config(t, awstest.S3(t), awstest.Endpoint{Var: "AWS_ENDPOINT_URL_SECRETS_MANAGER", URL: sm.URL()})
	bucket := awstest.NewBucket(t, cfg)
	s3c := awstest.S3Client(cfg)

	key, err := rsa.GenerateKey(rand.Reader, 2048) // made at test time
	if err != nil {
		t.Fatal(err)
	}
	arn := sm.Put("easel/cloudfront-private-key", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	const kid = "K3EXAMPLEKEYID"
	edge := cloudfronttest.NewEdge(t, func(path string) ([]byte, string, bool) {
		out, err := s3c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(strings.TrimPrefix(path, "/"))})
		if err != nil {
			return nil, "", false
		}
		defer out.Body.Close()
		b, _ := io.ReadAll(out.Body)
		return b, aws.ToString(out.ContentType), true
	}, map[string]*rsa.PublicKey{kid: &key.PublicKey})

	const expiry = 10 * time.Minute
	s := startServerOn(t, t.TempDir(), "--blob", "s3://"+bucket+"?prefix=images/&use_path_style=true",
		"--public-url", edge.URL()+"/images/", "--private-images", "--private-image-expiry", expiry.String(),
		"--cloudfront-key-pair-id", kid, "--cloudfront-private-key-secret", arn, "--user-rate=0")
	c := &apiClient{t: t, base: s.url}
	img := c.generate(s.key, small("a lighthouse behind a CDN"))[0]
	signed := img["url"].(string)
	u, _ := url.Parse(signed)
	q := u.Query()
	if !strings.HasPrefix(signed, edge.URL()+"/images/") || q.Get("Key-Pair-Id") != kid || q.Get("Signature") == "" {
		t.Fatalf("image URL %q: want a CloudFront signed URL on the edge for key %s", signed, kid)
	}
	exp, _ := strconv.ParseInt(q.Get("Expires"), 10, 64)
	if left := time.Until(time.Unix(exp, 0)); left <= 0 || left > expiry {
		t.Errorf("URL expires in %s, want within %s", left, expiry)
	}
	if st, _, body := getURL(t, signed); st != http.StatusOK || !bytes.HasPrefix(body, []byte("\x89PNG")) {
		t.Errorf("GET signed %s at the edge = %d, want 200 and the PNG", signed, st)
	}
	unsigned := *u
	unsigned.RawQuery = ""
	if st, _, _ := getURL(t, unsigned.String()); st != http.StatusForbidden {
		t.Errorf("GET unsigned at the edge = %d, want 403", st)
	}
	q.Set("Expires", strconv.FormatInt(exp+3600, 10))
	longer := *u
	longer.RawQuery = q.Encode()
	if st, _, _ := getURL(t, longer.String()); st != http.StatusForbidden {
		t.Errorf("GET with a later Expires at the edge = %d, want 403", st)
	}
	if n := sm.Calls(); n != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1 (read once at start)", n)
	}
	// The page may load images from the distribution.
	if csp := pageCSP(t, s.url); !strings.Contains(csp, edge.URL()) {
		t.Errorf("CSP = %q, want the distribution's origin in img-src", csp)
	}
}

// A key that cannot be read stops the start, with the secret named.
func TestPrivateImagesCloudFrontBadSecret(t *testing.T) {
	awstest.Config(t)
	sm := secretstest.NewServer(t, secretstest.WithCredentials(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")))
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", sm.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	missing := "arn:aws:secretsmanager:us-east-1:000000000000:secret:absent-abcdef"
	var out, errOut bytes.Buffer
	err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--blob", "s3://bucket?use_path_style=true",
		"--public-url", "https://cdn.example.com/images/", "--private-images",
		"--cloudfront-key-pair-id", "K1", "--cloudfront-private-key-secret", missing}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("serve with a missing secret = %v, want an error naming it", err)
	}
}
