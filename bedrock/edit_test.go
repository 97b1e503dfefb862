package bedrock_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"slices"
	"strings"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/bedrock"
	"github.com/easelhq/easel/bedrock/bedrocktest"
	"github.com/easelhq/easel/edittest"
)

// imageServiceOps are the thirteen operations of the image services.
func imageServiceOps() []string {
	return slices.DeleteFunc(easel.Operations(), func(op string) bool { return op == easel.OpImageToImage })
}

// TestEditConformance runs the Editor conformance suite through the real SDK against
// the strict wire fake: every image service (configured as one model,
// "us.image-services") and SD3.5's image-to-image. Bad requests must not reach the
// fake.
func TestEditConformance(t *testing.T) {
	srv, client := newFake(t)
	calls := func(configured string) func() int {
		return func() int {
			n := 0
			for _, id := range bedrock.ModelIDs(configured) {
				n += srv.Calls(id)
			}
			return n
		}
	}
	t.Run("image-services", func(t *testing.T) {
		m := newModel(t, client, "us."+bedrock.ImageServices, bedrock.Options{})
		edittest.Run(t, imageServiceOps(), func(t *testing.T) edittest.Harness {
			return edittest.Harness{Editor: m, Calls: calls("us.image-services")}
		})
	})
	t.Run("sd3.5", func(t *testing.T) {
		m := newModel(t, client, "sd3.5", bedrock.Options{})
		edittest.Run(t, []string{easel.OpImageToImage}, func(t *testing.T) edittest.Harness {
			return edittest.Harness{Editor: m, Calls: calls("sd3.5")}
		})
	})
}

// TestEditBodies checks what each operation sends: its documented keys only, the
// image under the right key, defaults filled in, images as plain base64.
func TestEditBodies(t *testing.T) {
	srv, client := newFake(t)
	m := newModel(t, client, bedrock.ImageServices, bedrock.Options{})
	sd35 := newModel(t, client, "sd3.5", bedrock.Options{})
	f := edittest.NewFixtures(t)
	tests := []struct {
		op    string
		model *bedrock.Model
		id    string
		keys  string // sorted
		check map[string]any
	}{
		{easel.OpInpaint, m, bedrock.IDStableInpaint, "grow_mask,image,mask,output_format,prompt,seed",
			map[string]any{"grow_mask": 5.0, "output_format": "png", "seed": 42.0}},
		{easel.OpOutpaint, m, bedrock.IDStableOutpaint, "creativity,down,image,left,output_format,right,seed,up",
			map[string]any{"left": 32.0, "down": 16.0, "right": 0.0, "creativity": 0.5}},
		{easel.OpErase, m, bedrock.IDStableErase, "grow_mask,image,mask,output_format,seed", nil},
		{easel.OpRemoveBackground, m, bedrock.IDStableRemoveBackground, "image,output_format", nil},
		{easel.OpSearchReplace, m, bedrock.IDStableSearchReplace, "grow_mask,image,output_format,prompt,search_prompt,seed",
			map[string]any{"search_prompt": "red ball"}},
		{easel.OpSearchRecolor, m, bedrock.IDStableSearchRecolor, "grow_mask,image,output_format,prompt,seed,select_prompt", nil},
		{easel.OpUpscaleCreative, m, bedrock.IDStableCreativeUpscale, "creativity,image,output_format,prompt,seed",
			map[string]any{"creativity": 0.3}},
		{easel.OpUpscaleConservative, m, bedrock.IDStableConservativeUpscale, "creativity,image,output_format,prompt,seed",
			map[string]any{"creativity": 0.35}},
		{easel.OpUpscaleFast, m, bedrock.IDStableFastUpscale, "image,output_format", nil},
		{easel.OpSketch, m, bedrock.IDStableControlSketch, "control_strength,image,output_format,prompt,seed",
			map[string]any{"control_strength": 0.7}},
		{easel.OpStructure, m, bedrock.IDStableControlStructure, "control_strength,image,output_format,prompt,seed", nil},
		{easel.OpStyleGuide, m, bedrock.IDStableStyleGuide, "aspect_ratio,fidelity,image,output_format,prompt,seed",
			map[string]any{"aspect_ratio": "1:1", "fidelity": 0.5}},
		{easel.OpStyleTransfer, m, bedrock.IDStableStyleTransfer, "change_strength,composition_fidelity,init_image,output_format,seed,style_image,style_strength",
			map[string]any{"composition_fidelity": 0.9, "style_strength": 1.0, "change_strength": 0.9}},
		{easel.OpImageToImage, sd35, bedrock.IDSD35Large, "image,mode,output_format,prompt,seed,strength",
			map[string]any{"mode": "image-to-image", "strength": 0.6}},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			spec := tt.model.Spec()
			op, _ := spec.Operation(tt.op)
			req := f.Base(tt.op, op)
			if _, err := tt.model.Edit(context.Background(), req); err != nil {
				t.Fatalf("Edit = %v", err)
			}
			var body map[string]any
			if err := json.Unmarshal(srv.LastRequest(tt.id), &body); err != nil {
				t.Fatalf("body: %v", err)
			}
			var keys []string
			for k := range body {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if got := strings.Join(keys, ","); got != tt.keys {
				t.Errorf("keys = %s, want %s", got, tt.keys)
			}
			for k, v := range tt.check {
				if body[k] != v {
					t.Errorf("%s = %v, want %v", k, body[k], v)
				}
			}
			imgKey := "image"
			if tt.op == easel.OpStyleTransfer {
				imgKey = "init_image"
			}
			data, err := base64.StdEncoding.DecodeString(body[imgKey].(string))
			if err != nil || !bytes.Equal(data, req.Image) {
				t.Errorf("%s is not the image in plain base64: %v", imgKey, err)
			}
		})
	}
}

// TestEditOnlyModels: an image service configured alone performs its operation and
// refuses to generate; Generate on the bundle is refused too, naming the model.
func TestEditOnlyModels(t *testing.T) {
	srv, client := newFake(t)
	m := newModel(t, client, "us."+bedrock.IDStableFastUpscale, bedrock.Options{})
	spec := m.Spec()
	if !spec.EditOnly || spec.ID != "us."+bedrock.IDStableFastUpscale || strings.Join(spec.OperationNames(), ",") != easel.OpUpscaleFast {
		t.Fatalf("Spec() = %+v", spec)
	}
	f := edittest.NewFixtures(t)
	g, err := m.Edit(context.Background(), &easel.EditRequest{Operation: easel.OpUpscaleFast, Image: f.Source, OutputFormat: "webp"})
	if err != nil || g.Images[0].Width != 4*f.W || g.Images[0].ContentType != "image/webp" {
		t.Fatalf("Edit = %+v, %v", g, err)
	}
	if n := srv.Calls("us." + bedrock.IDStableFastUpscale); n != 1 {
		t.Errorf("calls to the profile id = %d, want 1", n)
	}
	_, err = m.Edit(context.Background(), &easel.EditRequest{Operation: easel.OpInpaint, Image: f.Source, Mask: f.Mask, Prompt: "x"})
	checkEditErr(t, err, easel.EInvalid, "operation")
	for _, id := range []string{"us." + bedrock.IDStableFastUpscale, bedrock.ImageServices} {
		_, err = newModel(t, client, id, bedrock.Options{}).Generate(context.Background(), &easel.GenerateRequest{Prompt: "a fox"})
		checkEditErr(t, err, easel.EInvalid, "model")
	}
	// Text-to-image models without operations refuse edits.
	_, err = newModel(t, client, "core", bedrock.Options{}).Edit(context.Background(), &easel.EditRequest{Operation: easel.OpUpscaleFast, Image: f.Source})
	checkEditErr(t, err, easel.EInvalid, "operation")
}

func checkEditErr(t *testing.T, err error, code, param string) {
	t.Helper()
	var e *easel.Error
	if !errors.As(err, &e) || e.Code != code || e.Param != param {
		t.Fatalf("error = %v, want %s (%s)", err, code, param)
	}
}

// TestEditFilters maps the image services' finish reasons: a refused input image is
// content_policy naming "image", a refused prompt names "prompt".
func TestEditFilters(t *testing.T) {
	f := edittest.NewFixtures(t)
	tests := []struct {
		name  string
		fault bedrocktest.Fault
		code  string
		param string
	}{
		{"input image", bedrocktest.Fault{FilterInputImage: true}, easel.EContentPolicy, "image"},
		{"prompt in body", bedrocktest.Fault{FilterPromptInBody: true}, easel.EContentPolicy, "prompt"},
		{"prompt 400", bedrocktest.Fault{FilterPrompt: true}, easel.EContentPolicy, "prompt"},
		{"output", bedrocktest.Fault{FilterOutput: 1}, easel.EContentPolicy, ""},
		{"inference error", bedrocktest.Fault{InferenceError: true}, easel.EModelError, ""},
		{"throttled", bedrocktest.Fault{Exception: "ThrottlingException"}, easel.ERateLimited, ""},
		{"access denied", bedrocktest.Fault{Exception: "AccessDeniedException"}, easel.EModelUnavailable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, client := newFake(t)
			m := newModel(t, client, bedrock.ImageServices, bedrock.Options{MaxRetries: -1})
			srv.SetFault(tt.fault)
			spec := m.Spec()
			op, _ := spec.Operation(easel.OpInpaint)
			_, err := m.Edit(context.Background(), f.Base(easel.OpInpaint, op))
			checkEditErr(t, err, tt.code, tt.param)
		})
	}
}

func TestModelIDs(t *testing.T) {
	ids := bedrock.ModelIDs("us.image-services")
	if len(ids) != 13 || ids[0] != "us."+bedrock.IDStableInpaint {
		t.Errorf("ModelIDs(us.image-services) = %v", ids)
	}
	if ids := bedrock.ModelIDs("image-services"); ids[len(ids)-1] != bedrock.IDStableStyleTransfer {
		t.Errorf("ModelIDs(image-services) = %v", ids)
	}
	if ids := bedrock.ModelIDs("core"); len(ids) != 1 || ids[0] != bedrock.IDStableImageCore {
		t.Errorf("ModelIDs(core) = %v", ids)
	}
	if _, err := bedrock.New(nil, "x.image-services", bedrock.Options{}); err == nil {
		t.Error("New(nil client) = nil error")
	}
}

// photoJPEG is a 3072×3072 (9,437,184-pixel) JPEG with detail everywhere.
func photoJPEG(b *testing.B) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 3072, 3072))
	x := uint32(1)
	for i := 0; i < len(img.Pix); i += 4 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(i>>12)+uint8(x&31), uint8(x>>8), 128, 255
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkEdit9MP measures the adapter's own work for a 9.4 MP input (validation
// from the header, the request body with the image in base64) and reports the body's
// size. The input is the largest accepted: a 9,437,184-pixel image of 10 MiB.
func BenchmarkEdit9MP(b *testing.B) {
	jpg := photoJPEG(b)
	max := append(slices.Clone(jpg[:len(jpg)-2]), make([]byte, easel.MaxEditImageBytes-len(jpg))...)
	max = append(max, 0xff, 0xd9) // a whole JPEG padded to the byte limit
	for _, in := range []struct {
		name string
		data []byte
	}{{"jpeg", jpg}, {"10MiB", max}} {
		req := &easel.EditRequest{Operation: easel.OpUpscaleConservative, Image: in.data, Prompt: "a harbour at dawn"}
		spec := bedrock.ImageServicesSpecForTest()
		b.Run(in.name+"/validate", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := spec.ValidateEdit(req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/body", func(b *testing.B) {
			b.ReportAllocs()
			r := *req
			spec.NormalizeEdit(&r)
			var n int
			for b.Loop() {
				n = len(bedrock.EditBodyForTest(&r, 7))
			}
			b.ReportMetric(float64(len(in.data)), "input-bytes")
			b.ReportMetric(float64(n), "request-bytes")
		})
	}
}
