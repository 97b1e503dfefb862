// Package sdk_test runs the official OpenAI Go SDK (openai-go v3), unchanged, against a
// running easel server: EASEL_URL (e.g. http://127.0.0.1:8080) and EASEL_KEY, set by
// scripts/openai-sdk/run.sh. The server's default model must be the offline one.
package sdk_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
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

// editFixture is a 256x256 opaque picture and OpenAI's mask of its centre (transparent
// where the image should change).
func editFixture(t *testing.T) (img, mask []byte) {
	t.Helper()
	pic := image.NewNRGBA(image.Rect(0, 0, 256, 256))
	m := image.NewNRGBA(image.Rect(0, 0, 256, 256))
	for y := range 256 {
		for x := range 256 {
			pic.SetNRGBA(x, y, color.NRGBA{uint8(x), 120, uint8(255 - y), 255})
			a := uint8(255)
			if x >= 96 && x < 160 && y >= 96 && y < 160 {
				a = 0
			}
			m.SetNRGBA(x, y, color.NRGBA{0, 0, 0, a})
		}
	}
	var a, b bytes.Buffer
	if err := png.Encode(&a, pic); err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return a.Bytes(), b.Bytes()
}

// TestEdit: Images.Edit, unchanged, against POST /v1/images/edits: with a mask
// (inpaint, b64_json), without (image-to-image, url), and a refusal naming its param.
func TestEdit(t *testing.T) {
	c := client(t, "")
	pic, mask := editFixture(t)
	res, err := c.Images.Edit(ctx(t), openai.ImageEditParams{
		Image:          openai.ImageEditParamsImageUnion{OfFile: openai.File(bytes.NewReader(pic), "picture.png", "image/png")},
		Mask:           openai.File(bytes.NewReader(mask), "mask.png", "image/png"),
		Prompt:         "a pond in the middle",
		Model:          openai.ImageModelGPTImage1,
		N:              openai.Int(1),
		Size:           openai.ImageEditParamsSize1024x1024,
		ResponseFormat: openai.ImageEditParamsResponseFormatB64JSON,
		User:           openai.String("user-1234"),
	})
	if err != nil {
		t.Fatalf("Images.Edit with a mask: %v", err)
	}
	if len(res.Data) != 1 {
		t.Fatalf("data = %d, want 1", len(res.Data))
	}
	checkB64(t, res.Data[0].B64JSON)

	res, err = c.Images.Edit(ctx(t), openai.ImageEditParams{
		Image:          openai.ImageEditParamsImageUnion{OfFileArray: []io.Reader{openai.File(bytes.NewReader(pic), "picture.png", "image/png")}},
		Prompt:         "the same at night",
		Model:          openai.ImageModelDallE2,
		ResponseFormat: openai.ImageEditParamsResponseFormatURL,
	})
	if err != nil {
		t.Fatalf("Images.Edit without a mask: %v", err)
	}
	if len(res.Data) != 1 || res.Data[0].URL == "" {
		t.Fatalf("answer = %+v, want one url", res.Data)
	}
	resp, err := http.Get(res.Data[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the result = %d", resp.StatusCode)
	}

	_, err = c.Images.Edit(ctx(t), openai.ImageEditParams{
		Image:  openai.ImageEditParamsImageUnion{OfFile: openai.File(bytes.NewReader([]byte("not an image")), "x.png", "image/png")},
		Prompt: "anything",
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnsupportedMediaType || apiErr.Param != "image" {
		t.Fatalf("Images.Edit of a non-image = %v; want 415 param image", err)
	}
}
