// Package sdk_test runs the official OpenAI Go SDK (openai-go v3), unchanged, against a
// running easel server: EASEL_URL (e.g. http://127.0.0.1:8080) and EASEL_KEY, set by
// scripts/openai-sdk/run.sh. The server's default model must be the offline one.
package sdk_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image/png"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func client(t *testing.T, key string) openai.Client {
	t.Helper()
	base := os.Getenv("EASEL_URL")
	if base == "" || os.Getenv("EASEL_KEY") == "" {
		t.Skip("EASEL_URL and EASEL_KEY are not set: run scripts/openai-sdk/run.sh")
	}
	if key == "" {
		key = os.Getenv("EASEL_KEY")
	}
	return openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// checkPNG decodes an image the SDK handed over and checks its size.
func checkPNG(t *testing.T, b []byte, side int) {
	t.Helper()
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width != side || cfg.Height != side {
		t.Fatalf("image is %v (%v), want a %dx%d PNG", cfg, err, side, side)
	}
}

func checkB64(t *testing.T, s string) {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("b64_json: %v", err)
	}
	checkPNG(t, b, 256)
}

func TestModels(t *testing.T) {
	c := client(t, "")
	var ids []string
	iter := c.Models.ListAutoPaging(ctx(t))
	for iter.Next() {
		m := iter.Current()
		ids = append(ids, m.ID)
		if m.Object != "model" || m.Created <= 0 || m.OwnedBy == "" {
			t.Errorf("model %+v: want object model, a created time and an owner", m)
		}
		// Easel's own fields arrive beside OpenAI's.
		if f, ok := m.JSON.ExtraFields["max_prompt_length"]; !ok || f.Raw() == "" {
			t.Errorf("model %s has no max_prompt_length: %s", m.ID, m.RawJSON())
		}
	}
	if err := iter.Err(); err != nil || len(ids) == 0 || ids[0] != "offline" {
		t.Fatalf("Models.ListAutoPaging = %v, %v; want offline first", ids, err)
	}
	m, err := c.Models.Get(ctx(t), "offline")
	if err != nil || m.ID != "offline" {
		t.Fatalf("Models.Get(offline) = %+v, %v", m, err)
	}
	_, err = c.Models.Get(ctx(t), "no-such-model")
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Type != "invalid_request_error" {
		t.Errorf("Models.Get(no-such-model) error = %v, want a 404 *openai.Error of type invalid_request_error", err)
	}
}

func TestGenerateB64(t *testing.T) {
	c := client(t, "")
	res, err := c.Images.Generate(ctx(t), openai.ImageGenerateParams{
		Prompt: "a lighthouse at dusk",
		Model:  openai.ImageModelGPTImage1,
		Size:   "256x256",
		// Fields Easel does not use are accepted.
		Quality:           openai.ImageGenerateParamsQualityHigh,
		Background:        openai.ImageGenerateParamsBackgroundAuto,
		Moderation:        openai.ImageGenerateParamsModerationLow,
		OutputFormat:      openai.ImageGenerateParamsOutputFormatPNG,
		OutputCompression: openai.Int(90),
		PartialImages:     openai.Int(0),
		User:              openai.String("user-1234"),
		N:                 openai.Int(2),
	})
	if err != nil {
		t.Fatalf("Images.Generate: %v", err)
	}
	if len(res.Data) != 2 || res.Created == 0 || res.OutputFormat != "png" || res.Size != "256x256" {
		t.Fatalf("Images.Generate = %d images, created %d, format %q, size %q", len(res.Data), res.Created, res.OutputFormat, res.Size)
	}
	for _, d := range res.Data {
		if d.URL != "" {
			t.Errorf("gpt-image-1 answered a URL, want b64_json by default")
		}
		checkB64(t, d.B64JSON)
	}
}

func TestGenerateURL(t *testing.T) {
	c := client(t, "")
	for _, p := range []openai.ImageGenerateParams{
		{Prompt: "a red kite", Model: openai.ImageModelDallE3, Size: "256x256"},
		{Prompt: "a red kite", Model: openai.ImageModelGPTImage1, Size: "256x256", ResponseFormat: openai.ImageGenerateParamsResponseFormatURL},
	} {
		res, err := c.Images.Generate(ctx(t), p)
		if err != nil || len(res.Data) != 1 || res.Data[0].URL == "" || res.Data[0].B64JSON != "" {
			t.Fatalf("Images.Generate(%s, response_format %q) = %+v, %v; want one URL", p.Model, p.ResponseFormat, res, err)
		}
		resp, err := http.Get(res.Data[0].URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		checkPNG(t, b, 256)
	}
}

func TestGenerateStreaming(t *testing.T) {
	c := client(t, "")
	stream := c.Images.GenerateStreaming(ctx(t), openai.ImageGenerateParams{
		Prompt: "a quiet harbour", Model: openai.ImageModelGPTImage1, Size: "256x256", PartialImages: openai.Int(1),
	})
	var completed int
	for stream.Next() {
		ev := stream.Current()
		if ev.Type != "image_generation.completed" {
			t.Errorf("event type %q, want image_generation.completed", ev.Type)
			continue
		}
		completed++
		checkB64(t, ev.B64JSON)
	}
	if err := stream.Err(); err != nil || completed != 1 {
		t.Fatalf("stream: %d completed events, err %v; want 1", completed, err)
	}
}

func TestErrors(t *testing.T) {
	var apiErr *openai.Error
	c, bad := client(t, ""), client(t, "easel_not-a-key")
	_, err := c.Images.Generate(ctx(t), openai.ImageGenerateParams{Prompt: "p", Size: "300x256"})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "size" || apiErr.Type != "invalid_request_error" {
		t.Errorf("bad size error = %v, want 400 invalid_request_error param size", err)
	}
	_, err = bad.Models.Get(ctx(t), "offline")
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Type != "authentication_error" {
		t.Errorf("bad key error = %v, want 401 authentication_error", err)
	}
}
