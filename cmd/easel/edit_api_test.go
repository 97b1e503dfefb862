package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/bedrock"
	"github.com/easelhq/easel/bedrock/bedrocktest"
	"github.com/easelhq/easel/edittest"
	"github.com/easelhq/easel/internal/awstest"
	"github.com/easelhq/easel/offline"
)

// editBody is the JSON body of POST /v1/edits for an edit request: its fields, and
// its images in base64.
func editBody(t *testing.T, r *easel.EditRequest) map[string]any {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"image": r.Image, "mask": r.Mask, "style_image": r.StyleImage} {
		if len(data) > 0 {
			m[name] = map[string]string{"b64": base64.StdEncoding.EncodeToString(data)}
		}
	}
	return m
}

// statusOf is the HTTP status of an error code.
func statusOf(code string) int {
	switch code {
	case easel.EPayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case easel.EUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case easel.ENotFound:
		return http.StatusNotFound
	}
	return http.StatusBadRequest
}

// runEditTable drives every case of each operation's conformance table (edittest)
// through POST /v1/edits: good requests make one result with its lineage, at the
// size the operation's rule says; bad ones are refused naming the field, and calls()
// (the model calls so far, nil when not counted) does not move.
func runEditTable(t *testing.T, c *apiClient, key string, spec easel.ModelSpec, ops []string, calls func() int) {
	f := edittest.NewFixtures(t)
	bigSent := false
	for _, op := range ops {
		opSpec, ok := spec.Operation(op)
		if !ok {
			t.Fatalf("model %s does not declare %s", spec.ID, op)
		}
		t.Run(op, func(t *testing.T) {
			for _, tc := range edittest.Cases(f, op, opSpec) {
				if tc.Name == "image over the byte limit" {
					// A 14 MB body per operation is slow under -race; the byte limit is
					// the same code for every operation (and each editor's own suite
					// checks it per operation): send it once.
					if bigSent {
						continue
					}
					bigSent = true
				}
				t.Run(tc.Name, func(t *testing.T) {
					req := f.Base(op, opSpec)
					if tc.Edit != nil {
						tc.Edit(req)
					}
					before := 0
					if calls != nil {
						before = calls()
					}
					r := c.do("POST", "/v1/edits", key, editBody(t, req))
					if tc.Code != "" {
						if r.status != statusOf(tc.Code) || r.errorField(t, "code") != tc.Code || r.errorField(t, "param") != tc.Param {
							t.Fatalf("= %d %s; want %d %s param %s", r.status, r.body, statusOf(tc.Code), tc.Code, tc.Param)
						}
						if calls != nil && calls() != before {
							t.Errorf("a refused edit made %d model calls", calls()-before)
						}
						return
					}
					if r.status != http.StatusCreated {
						t.Fatalf("= %d %s; want 201", r.status, r.body)
					}
					var out struct{ Images []map[string]any }
					json.Unmarshal(r.body, &out)
					if len(out.Images) != 1 {
						t.Fatalf("images = %d, want 1: %s", len(out.Images), r.body)
					}
					img := out.Images[0]
					if img["operation"] != op || img["source_image_id"] == nil || img["operation_fields"] == nil {
						t.Errorf("result lineage = operation %v source %v fields %v", img["operation"], img["source_image_id"], img["operation_fields"])
					}
					if (req.StyleImage != nil) != (img["style_image_id"] != nil) || (req.Mask != nil) != (img["mask_image_id"] != nil) {
						t.Errorf("result style/mask ids = %v %v", img["style_image_id"], img["mask_image_id"])
					}
					info, err := easel.InspectImage(req.Image)
					if err != nil {
						t.Fatal(err)
					}
					norm := *req
					spec.NormalizeEdit(&norm)
					want := opSpec.OutputSize(easel.Size{Width: info.Width, Height: info.Height}, &norm)
					if w, h := int(img["width"].(float64)), int(img["height"].(float64)); w != want.Width || h != want.Height {
						t.Errorf("result is %dx%d, want %dx%d", w, h, want.Width, want.Height)
					}
					if calls != nil && calls() != before+1 {
						t.Errorf("the edit made %d model calls, want 1", calls()-before)
					}
				})
			}
		})
	}
}

// TestEditOperations: every operation of the offline model through POST /v1/edits,
// each with its conformance table (good requests and bad input).
func TestEditOperations(t *testing.T) {
	base, key := startServer(t, "--user-rate=0", "--user-concurrency=0", "--thumbnails=false")
	c := &apiClient{t: t, base: base}
	spec := offline.New().Spec()
	runEditTable(t, c, key, spec, spec.OperationNames(), nil)
}

// TestEditOperationsBedrock: every operation through the Bedrock adapter against the
// strict wire fake (the image services configured as one model, SD3.5 for
// image-to-image), over the API; bad input reaches no model.
func TestEditOperationsBedrock(t *testing.T) {
	ak, sk := awstest.Credentials()
	h := bedrocktest.NewHandler(ak, sk, bedrocktest.WithRegion(awstest.Region))
	fake := httptest.NewServer(h)
	t.Cleanup(fake.Close)
	awstest.Config(t, awstest.BedrockRuntime(fake.URL), awstest.Endpoint{Var: "AWS_ENDPOINT_URL_BEDROCK", URL: fake.URL})
	t.Setenv("AWS_ACCESS_KEY_ID", ak)
	t.Setenv("AWS_SECRET_ACCESS_KEY", sk)
	base, key := startServer(t, "--model", "bedrock:sd3.5", "--model", "bedrock:us.image-services",
		"--user-rate=0", "--user-concurrency=0", "--thumbnails=false")
	c := &apiClient{t: t, base: base}
	calls := func() int {
		n := 0
		for _, id := range append(bedrock.ModelIDs("us.image-services"), bedrock.ModelIDs("sd3.5")...) {
			n += h.Calls(id)
		}
		return n
	}
	var models struct{ Data []easel.ModelSpec }
	json.Unmarshal(c.do("GET", "/v1/models", key, nil).body, &models)
	if len(models.Data) != 2 || models.Data[0].EditOnly || !models.Data[1].EditOnly {
		t.Fatalf("models = %d, first %s; want sd3.5 (the default) first, then the image services", len(models.Data), models.Data[0].ID)
	}
	ops := slices.DeleteFunc(easel.Operations(), func(op string) bool { return op == easel.OpImageToImage })
	runEditTable(t, c, key, models.Data[1], ops, calls)
	runEditTable(t, c, key, models.Data[0], []string{easel.OpImageToImage}, calls)

	// The edit-only model never generates, even when named.
	r := c.do("POST", "/v1/images", key, map[string]any{"prompt": "a boat", "model": models.Data[1].ID})
	if r.status != http.StatusBadRequest || r.errorField(t, "param") != "model" {
		t.Errorf("generate with the image services = %d %s; want 400 param model", r.status, r.body)
	}
}

// multipartBody builds a multipart/form-data body of text fields and files.
func multipartBody(t *testing.T, fields map[string]string, files map[string][]byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	for k, data := range files {
		name := strings.TrimSuffix(k, "[]") + ".png"
		fw, err := w.CreateFormFile(k, name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	w.Close()
	return w.FormDataContentType(), b.Bytes()
}

// holedPNG is a w×h picture whose centre is fully transparent, and OpenAI's mask of the
// same area (transparent where the image should change).
func holedPNG(t *testing.T, w, h int) (img, mask []byte) {
	t.Helper()
	a := image.NewNRGBA(image.Rect(0, 0, w, h))
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(40 + x%120), 120, uint8(200 - y%100), 255}
			mc := color.NRGBA{0, 0, 0, 255}
			if x > w/3 && x < 2*w/3 && y > h/3 && y < 2*h/3 {
				c.A, mc.A = 0, 0
			}
			a.SetNRGBA(x, y, c)
			m.SetNRGBA(x, y, mc)
		}
	}
	return edittest.EncodePNG(t, a), edittest.EncodePNG(t, m)
}

// opaque drops the alpha channel of a PNG made by holedPNG.
func opaque(t *testing.T, data []byte) []byte {
	t.Helper()
	src, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	out := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := src.At(x, y).RGBA()
			out.Set(x, y, color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bb >> 8), 255})
		}
	}
	return edittest.EncodePNG(t, out)
}

func postMultipart(t *testing.T, base, path, key string, fields map[string]string, files map[string][]byte) *apiResponse {
	t.Helper()
	ct, body := multipartBody(t, fields, files)
	req, _ := http.NewRequest("POST", base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return &apiResponse{status: resp.StatusCode, header: resp.Header, body: data}
}

// TestEditMultipartAndOpenAI: POST /v1/edits as multipart (files and an id), and
// OpenAI's POST /v1/images/edits: a mask or a transparent image makes an inpaint, an
// opaque image an image-to-image edit; url and b64_json answers.
func TestEditMultipartAndOpenAI(t *testing.T) {
	base, key := startServer(t, "--user-rate=0", "--user-concurrency=0", "--thumbnails=false")
	c := &apiClient{t: t, base: base}
	holed, mask := holedPNG(t, 160, 120)
	plain := opaque(t, holed)

	r := postMultipart(t, base, "/v1/edits", key, map[string]string{"operation": "outpaint", "left": "32", "seed": "7", "output_format": "png"},
		map[string][]byte{"image": plain})
	if r.status != http.StatusCreated {
		t.Fatalf("multipart outpaint = %d %s", r.status, r.body)
	}
	var out struct{ Images []map[string]any }
	json.Unmarshal(r.body, &out)
	src := out.Images[0]["source_image_id"].(string)
	if out.Images[0]["width"].(float64) != 192 || out.Images[0]["seed"].(float64) != 7 {
		t.Errorf("outpaint result = %v", out.Images[0])
	}
	// The stored source by id, in a text part; a style image as a file.
	f := edittest.NewFixtures(t)
	r = postMultipart(t, base, "/v1/edits", key, map[string]string{"operation": "style-transfer", "image": src},
		map[string][]byte{"style_image": f.Style})
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `"source_image_id":"`+src+`"`) {
		t.Fatalf("multipart style-transfer by id = %d %s", r.status, r.body)
	}
	// Bad multipart input names the field.
	for _, tc := range []struct {
		fields map[string]string
		files  map[string][]byte
		param  string
	}{
		{map[string]string{"operation": "outpaint", "left": "many"}, map[string][]byte{"image": plain}, "left"},
		{map[string]string{"operation": "outpaint", "left": "10", "colour": "red"}, map[string][]byte{"image": plain}, "colour"},
		{map[string]string{"operation": "erase"}, map[string][]byte{"image": plain}, "mask"},
		{map[string]string{"operation": "erase"}, nil, "image"},
	} {
		r := postMultipart(t, base, "/v1/edits", key, tc.fields, tc.files)
		if r.status != http.StatusBadRequest || r.errorField(t, "param") != tc.param {
			t.Errorf("multipart %v = %d %s; want 400 param %s", tc.fields, r.status, r.body, tc.param)
		}
	}

	// OpenAI: a mask → inpaint, answered with a URL.
	r = postMultipart(t, base, "/v1/images/edits", key, map[string]string{"prompt": "a lake", "model": "dall-e-2", "n": "1", "size": "1024x1024", "response_format": "url"},
		map[string][]byte{"image": plain, "mask": mask})
	if r.status != http.StatusOK {
		t.Fatalf("OpenAI edit with a mask = %d %s", r.status, r.body)
	}
	var oa struct {
		Created int64
		Data    []struct {
			URL     string `json:"url"`
			B64JSON string `json:"b64_json"`
		}
	}
	json.Unmarshal(r.body, &oa)
	if len(oa.Data) != 1 || oa.Data[0].URL == "" || oa.Created == 0 {
		t.Fatalf("OpenAI answer = %s", r.body)
	}
	gallery := c.do("GET", "/v1/images?limit=1", key, nil).json(t)["images"].([]any)
	if got := gallery[0].(map[string]any)["operation"]; got != easel.OpInpaint {
		t.Errorf("OpenAI edit with a mask made %v, want inpaint", got)
	}
	// A transparent image, image[] as the newer SDKs send it → inpaint, b64_json.
	r = postMultipart(t, base, "/v1/images/edits", key, map[string]string{"prompt": "a lake", "model": "gpt-image-1", "quality": "high", "input_fidelity": "low"},
		map[string][]byte{"image[]": holed})
	json.Unmarshal(r.body, &oa)
	if r.status != http.StatusOK || len(oa.Data) != 1 || oa.Data[0].B64JSON == "" {
		t.Fatalf("OpenAI edit of a transparent image = %d %.300s", r.status, r.body)
	}
	if got := c.do("GET", "/v1/images?limit=1", key, nil).json(t)["images"].([]any)[0].(map[string]any)["operation"]; got != easel.OpInpaint {
		t.Errorf("OpenAI edit of a transparent image made %v, want inpaint", got)
	}
	// An opaque image → image-to-image.
	r = postMultipart(t, base, "/v1/images/edits", key, map[string]string{"prompt": "a lake at night", "n": "2"}, map[string][]byte{"image": plain})
	json.Unmarshal(r.body, &oa)
	if r.status != http.StatusOK || len(oa.Data) != 2 {
		t.Fatalf("OpenAI edit of an opaque image = %d %.300s", r.status, r.body)
	}
	if got := c.do("GET", "/v1/images?limit=1", key, nil).json(t)["images"].([]any)[0].(map[string]any)["operation"]; got != easel.OpImageToImage {
		t.Errorf("OpenAI edit of an opaque image made %v, want image-to-image", got)
	}
	// OpenAI's refusals.
	for _, tc := range []struct {
		fields map[string]string
		files  map[string][]byte
		param  string
	}{
		{map[string]string{"prompt": "x"}, nil, "image"},
		{map[string]string{"prompt": "x", "response_format": "gif"}, map[string][]byte{"image": plain}, "response_format"},
		{map[string]string{"prompt": "x", "stream": "true"}, map[string][]byte{"image": plain}, "stream"},
		{map[string]string{"prompt": "x", "n": "9"}, map[string][]byte{"image": plain}, "n"},
		{map[string]string{"prompt": "x"}, map[string][]byte{"image": plain, "mask": opaque(t, mask)[:40]}, "mask"},
		{map[string]string{"prompt": "x", "wat": "1"}, map[string][]byte{"image": plain}, "wat"},
	} {
		r := postMultipart(t, base, "/v1/images/edits", key, tc.fields, tc.files)
		if r.status != http.StatusBadRequest || r.errorField(t, "param") != tc.param {
			t.Errorf("OpenAI edit %v = %d %s; want 400 param %s", tc.fields, r.status, r.body, tc.param)
		}
	}
}

// TestEditOtherUsersSourceIs404: an image of another user, as the source, the mask or
// the style image, is 404 with exactly GET's error, and nothing is written.
func TestEditOtherUsersSourceIs404(t *testing.T) {
	data := t.TempDir()
	s := startServerOn(t, data, "--user-rate=0", "--user-concurrency=0", "--thumbnails=false")
	c := &apiClient{t: t, base: s.url}
	alice, bob := s.key, createKey(t, data, "bob")
	f := edittest.NewFixtures(t)
	mine := c.generate(alice, small("alice's harbour"))[0]["id"].(string)
	theirs := c.generate(bob, small("bob's harbour"))[0]["id"].(string)

	get := c.do("GET", "/v1/images/"+mine, bob, nil)
	if get.status != http.StatusNotFound {
		t.Fatalf("GET another's image = %d", get.status)
	}
	wantMsg := get.errorField(t, "message")
	for name, body := range map[string]map[string]any{
		"image":       {"operation": "remove-background", "image": map[string]string{"id": mine}},
		"style_image": {"operation": "style-transfer", "image": map[string]string{"id": theirs}, "style_image": map[string]string{"id": mine}},
		"mask":        {"operation": "erase", "image": map[string]string{"id": theirs}, "mask": map[string]string{"id": mine}},
		"unknown id":  {"operation": "remove-background", "image": map[string]string{"id": easelID()}},
		"malformed":   {"operation": "remove-background", "image": map[string]string{"id": "../" + mine}},
	} {
		r := c.do("POST", "/v1/edits", bob, body)
		if r.status != http.StatusNotFound || r.errorField(t, "code") != easel.ENotFound || r.errorField(t, "message") != wantMsg {
			t.Errorf("%s: edit with another's image = %d %s; want 404 %q", name, r.status, r.body, wantMsg)
		}
	}
	// In multipart too.
	r := postMultipart(t, s.url, "/v1/edits", bob, map[string]string{"operation": "style-transfer", "image": mine}, map[string][]byte{"style_image": f.Style})
	if r.status != http.StatusNotFound {
		t.Errorf("multipart edit with another's image = %d %s", r.status, r.body)
	}
	page := c.do("GET", "/v1/images", bob, nil).json(t)["images"].([]any)
	if len(page) != 1 {
		t.Errorf("bob's gallery holds %d images after refused edits; want his 1", len(page))
	}
	// Bob's own image works.
	if r := c.do("POST", "/v1/edits", bob, map[string]any{"operation": "remove-background", "image": map[string]string{"id": theirs}}); r.status != http.StatusCreated {
		t.Errorf("edit of one's own image = %d %s", r.status, r.body)
	}
}

// TestEditBadInputWritesNothing: refused edits (bad fields, bad images, a bomb, bad
// JSON, bodies over the limit, async ones) store no image, no object and no job.
func TestEditBadInputWritesNothing(t *testing.T) {
	data := t.TempDir()
	s := startServerOn(t, data, "--user-rate=0", "--user-concurrency=0", "--thumbnails=false", "--max-edit-body", "2000000")
	c := &apiClient{t: t, base: s.url}
	key := s.key
	f := edittest.NewFixtures(t)
	before := imageFiles(t, data)
	b64 := func(b []byte) map[string]string {
		return map[string]string{"b64": base64.StdEncoding.EncodeToString(b)}
	}
	cases := []struct {
		name   string
		body   any
		status int
		param  string
	}{
		{"unknown operation", map[string]any{"operation": "sharpen", "image": b64(f.Source)}, 400, "operation"},
		{"no operation", map[string]any{"image": b64(f.Source)}, 400, "operation"},
		{"no image", map[string]any{"operation": "remove-background"}, 400, "image"},
		{"bad base64", map[string]any{"operation": "remove-background", "image": map[string]string{"b64": "@@@"}}, 400, "image"},
		{"id and b64", map[string]any{"operation": "remove-background", "image": map[string]string{"b64": "AAAA", "id": easelID()}}, 400, "image"},
		{"not an image", map[string]any{"operation": "remove-background", "image": b64([]byte("GIF89a..."))}, 415, "image"},
		{"bomb", map[string]any{"operation": "remove-background", "image": b64(edittest.BombPNG(100_000, 100_000))}, 400, "image"},
		{"field out of range", map[string]any{"operation": "outpaint", "left": 5000, "image": b64(f.Source)}, 400, "left"},
		{"field not taken", map[string]any{"operation": "remove-background", "strength": 0.5, "image": b64(f.Source)}, 400, "strength"},
		{"opaque, no mask", map[string]any{"operation": "inpaint", "prompt": "x", "image": b64(f.Source)}, 400, "mask"},
		{"mask of another size", map[string]any{"operation": "erase", "image": b64(f.Source), "mask": b64(edittest.Gray(10, 10))}, 400, "mask"},
		{"lineage set by the caller", map[string]any{"operation": "remove-background", "image": b64(f.Source), "source_image_id": easelID()}, 400, "source_image_id"},
		{"n too large", map[string]any{"operation": "remove-background", "image": b64(f.Source), "n": 5}, 400, "n"},
		{"unknown member", map[string]any{"operation": "remove-background", "image": b64(f.Source), "colour": 1}, 400, "colour"},
		{"body over --max-edit-body", map[string]any{"operation": "remove-background", "image": b64(make([]byte, 1_600_000))}, 413, ""},
		{"not JSON", "{", 400, ""},
	}
	for _, async := range []bool{false, true} {
		for _, tc := range cases {
			hdr := []string{}
			if async {
				hdr = []string{"Prefer", "respond-async"}
			}
			r := c.do("POST", "/v1/edits", key, tc.body, hdr...)
			if r.status != tc.status || r.errorField(t, "param") != tc.param {
				t.Errorf("%s (async %v) = %d %s; want %d param %q", tc.name, async, r.status, r.body, tc.status, tc.param)
			}
		}
	}
	if r := postMultipart(t, s.url, "/v1/edits", key, map[string]string{"operation": "remove-background"}, map[string][]byte{"image": make([]byte, 2_100_000)}); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("multipart over --max-edit-body = %d %s", r.status, r.body)
	}
	if n := imageFiles(t, data); n != before {
		t.Errorf("refused edits left %d objects", n-before)
	}
	if imgs := c.do("GET", "/v1/images", key, nil).json(t)["images"].([]any); len(imgs) != 0 {
		t.Errorf("refused edits left %d images", len(imgs))
	}
	if jobs := c.do("GET", "/v1/jobs", key, nil).json(t)["jobs"].([]any); len(jobs) != 0 {
		t.Errorf("refused edits left %d jobs", len(jobs))
	}
}

// TestEditLineageInGallery: the uploaded source and the result are both in the
// gallery with their lineage (record, answer, PNG parameters); an async edit is a job;
// deleting the source keeps the result.
func TestEditLineageInGallery(t *testing.T) {
	base, key := startServer(t, "--user-rate=0", "--user-concurrency=0", "--thumbnails=false")
	c := &apiClient{t: t, base: base}
	f := edittest.NewFixtures(t)
	r := c.do("POST", "/v1/edits", key, editBody(t, &easel.EditRequest{Operation: easel.OpErase, Image: f.Source, Mask: f.Mask, GrowMask: ptrTo(3)}))
	if r.status != http.StatusCreated {
		t.Fatalf("erase = %d %s", r.status, r.body)
	}
	var out struct {
		Images []map[string]any
		JobID  string `json:"job_id"`
	}
	json.Unmarshal(r.body, &out)
	res := out.Images[0]
	src, mask := res["source_image_id"].(string), res["mask_image_id"].(string)
	fields := res["operation_fields"].(map[string]any)
	if fields["grow_mask"] != 3.0 || out.JobID == "" {
		t.Errorf("operation_fields = %v, job %q", fields, out.JobID)
	}
	gallery := map[string]map[string]any{}
	for _, g := range c.do("GET", "/v1/images", key, nil).json(t)["images"].([]any) {
		gallery[g.(map[string]any)["id"].(string)] = g.(map[string]any)
	}
	if len(gallery) != 3 || gallery[src]["operation"] != easel.OpUpload || gallery[mask]["operation"] != easel.OpMask ||
		gallery[res["id"].(string)]["source_image_id"] != src {
		t.Fatalf("gallery = %v", gallery)
	}
	// The PNG's parameters chunk names the operation, its inputs and fields.
	params := string(c.fetch(res["url"].(string))) // tEXt chunks are Latin-1 text in the file
	for _, want := range []string{"Operation: erase", "Source image: " + src, "Mask image: " + mask, `"grow_mask":3`} {
		if !strings.Contains(params, want) {
			t.Errorf("parameters chunk %q lacks %q", params, want)
		}
	}
	// Async: 202 with the job; its result names the stored source.
	r = c.do("POST", "/v1/edits", key, map[string]any{"operation": "upscale-fast", "image": map[string]string{"id": res["id"].(string)}}, "Prefer", "respond-async")
	if r.status != http.StatusAccepted {
		t.Fatalf("async edit = %d %s", r.status, r.body)
	}
	job := r.json(t)
	if job["edit"].(map[string]any)["source_image_id"] != res["id"] {
		t.Errorf("job = %s", r.body)
	}
	var done map[string]any
	for range 100 {
		done = c.do("GET", "/v1/jobs/"+job["id"].(string), key, nil).json(t)
		if done["status"] == "succeeded" || done["status"] == "failed" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	imgs, _ := done["images"].([]any)
	if done["status"] != "succeeded" || len(imgs) != 1 || imgs[0].(map[string]any)["width"] != float64(4*f.W) {
		t.Fatalf("async edit job = %v", done)
	}
	// Deleting the source keeps what came from it.
	if r := c.do("DELETE", "/v1/images/"+src, key, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE source = %d", r.status)
	}
	got := c.do("GET", "/v1/images/"+res["id"].(string), key, nil)
	if got.status != http.StatusOK || got.json(t)["source_image_id"] != src {
		t.Errorf("result after its source was deleted = %d %s", got.status, got.body)
	}
	// An edit of the deleted source is 404.
	if r := c.do("POST", "/v1/edits", key, map[string]any{"operation": "remove-background", "image": map[string]string{"id": src}}); r.status != http.StatusNotFound {
		t.Errorf("edit of a deleted image = %d", r.status)
	}
}

func ptrTo[T any](v T) *T { return &v }
