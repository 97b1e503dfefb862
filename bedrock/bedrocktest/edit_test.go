package bedrocktest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"golang.org/x/image/webp"

	"github.com/easelhq/easel/bedrock/bedrocktest"
	"github.com/easelhq/easel/internal/solidwebp"
)

func pngB64(t *testing.T, w, h int, alphaHole bool) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 90, 160, 220, 255
	}
	if alphaHole {
		img.SetNRGBA(w/2, h/2, color.NRGBA{})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// TestEditSchemas sends hand-written bodies to each image service and to SD3.5's
// image-to-image mode: the fake must accept the documented shapes and refuse
// anything else, with Bedrock's ValidationException.
func TestEditSchemas(t *testing.T) {
	img := pngB64(t, 128, 96, false)
	holed := pngB64(t, 128, 96, true)
	mask := pngB64(t, 128, 96, false)
	small := pngB64(t, 63, 96, false)
	long := pngB64(t, 161, 64, false)
	big := pngB64(t, 1100, 1000, false) // 1.1 MP: over the creative and fast limits
	webpImg := base64.StdEncoding.EncodeToString(solidwebp.Encode(100, 80, color.NRGBA{1, 2, 3, 255}))
	id := func(op string) string {
		for k, v := range map[string]string{
			"inpaint": "stability.stable-image-inpaint-v1:0", "outpaint": "us.stability.stable-outpaint-v1:0",
			"erase": "stability.stable-image-erase-object-v1:0", "bg": "stability.stable-image-remove-background-v1:0",
			"replace": "stability.stable-image-search-replace-v1:0", "recolor": "stability.stable-image-search-recolor-v1:0",
			"creative": "stability.stable-creative-upscale-v1:0", "conservative": "stability.stable-conservative-upscale-v1:0",
			"fast": "us.stability.stable-fast-upscale-v1:0", "sketch": "stability.stable-image-control-sketch-v1:0",
			"structure": "stability.stable-image-control-structure-v1:0", "guide": "stability.stable-image-style-guide-v1:0",
			"transfer": "stability.stable-style-transfer-v1:0", "i2i": "stability.sd3-5-large-v1:0",
		} {
			if k == op {
				return v
			}
		}
		t.Fatalf("no model for %s", op)
		return ""
	}
	tests := []struct {
		op, body string
		ok       bool
		want     string
	}{
		{"inpaint", `{"prompt":"a cat","image":"` + img + `","mask":"` + mask + `","grow_mask":5,"seed":1,"output_format":"png","style_preset":"anime","negative_prompt":"dog"}`, true, ""},
		{"inpaint", `{"prompt":"a cat","image":"` + holed + `"}`, true, ""},
		{"inpaint", `{"prompt":"a cat","image":"` + img + `"}`, false, "no transparent pixel"},
		{"inpaint", `{"image":"` + img + `","mask":"` + mask + `"}`, false, "required key [prompt]"},
		{"inpaint", `{"prompt":"a","image":"` + img + `","mask":"` + small + `"}`, false, "same size"},
		{"inpaint", `{"prompt":"a","image":"` + img + `","mask":"` + mask + `","grow_mask":21}`, false, "not in the range"},
		{"inpaint", `{"prompt":"a","image":"` + img + `","mask":"` + mask + `","grow_mask":2.5}`, false, "Integer"},
		{"inpaint", `{"prompt":"a","image":"data:image/png;base64,` + img + `","mask":"` + mask + `"}`, false, "Invalid base64"},
		{"inpaint", `{"prompt":"a","image":"` + small + `","mask":"` + small + `"}`, false, "invalid dimensions"},
		{"inpaint", `{"prompt":"a","image":"` + img + `","mask":"` + mask + `","strength":0.5}`, false, "extraneous key [strength]"},
		{"inpaint", `{"prompt":"a","image":"` + img + `","mask":"` + mask + `","style_preset":"oil"}`, false, "not a valid enum value"},
		{"outpaint", `{"image":"` + img + `","left":100,"creativity":0.5,"prompt":"sea"}`, true, ""},
		{"outpaint", `{"image":"` + webpImg + `","up":2000}`, true, ""},
		{"outpaint", `{"image":"` + img + `"}`, false, "At least one outpaint direction"},
		{"outpaint", `{"image":"` + img + `","left":2001}`, false, "not in the range"},
		{"outpaint", `{"image":"` + img + `","left":10,"creativity":0.05}`, false, "not in the range"},
		{"outpaint", `{"image":"` + img + `","left":10,"negative_prompt":"x"}`, false, "extraneous key [negative_prompt]"},
		{"erase", `{"image":"` + img + `","mask":"` + mask + `","grow_mask":0,"seed":4294967294}`, true, ""},
		{"erase", `{"image":"` + img + `","mask":"` + mask + `","prompt":"x"}`, false, "extraneous key [prompt]"},
		{"bg", `{"image":"` + img + `","output_format":"webp"}`, true, ""},
		{"bg", `{"image":"` + img + `","output_format":"jpeg"}`, false, "not a valid enum value"},
		{"bg", `{"image":"` + long + `"}`, false, "invalid dimensions"},
		{"bg", `{"image":"` + img + `","seed":3}`, false, "extraneous key [seed]"},
		{"replace", `{"image":"` + img + `","prompt":"a dog","search_prompt":"cat","grow_mask":3}`, true, ""},
		{"replace", `{"image":"` + img + `","prompt":"a dog"}`, false, "required key [search_prompt]"},
		{"replace", `{"image":"` + img + `","prompt":"a dog","search_prompt":""}`, false, "minLength"},
		{"recolor", `{"image":"` + img + `","prompt":"pink","select_prompt":"jacket"}`, true, ""},
		{"recolor", `{"image":"` + img + `","prompt":"pink","search_prompt":"jacket"}`, false, "required key [select_prompt]"},
		{"creative", `{"image":"` + img + `","prompt":"x","creativity":0.5}`, true, ""},
		{"creative", `{"image":"` + img + `","prompt":"x","creativity":0.6}`, false, "not in the range"},
		{"creative", `{"image":"` + big + `","prompt":"x"}`, false, "invalid dimensions"},
		{"conservative", `{"image":"` + big + `","prompt":"x","creativity":0.35}`, true, ""},
		{"conservative", `{"image":"` + img + `","prompt":"x","style_preset":"anime"}`, false, "extraneous key [style_preset]"},
		{"fast", `{"image":"` + img + `","output_format":"jpeg"}`, true, ""},
		{"fast", `{"image":"` + big + `"}`, false, "invalid dimensions"},
		{"fast", `{"image":"` + img + `","prompt":"x"}`, false, "extraneous key [prompt]"},
		{"sketch", `{"image":"` + img + `","prompt":"x","control_strength":1}`, true, ""},
		{"structure", `{"image":"` + img + `","prompt":"x","control_strength":1.5}`, false, "not in the range"},
		{"guide", `{"image":"` + img + `","prompt":"x","aspect_ratio":"21:9","fidelity":0}`, true, ""},
		{"guide", `{"image":"` + img + `","prompt":"x","aspect_ratio":"4:3"}`, false, "not a valid enum value"},
		{"transfer", `{"init_image":"` + img + `","style_image":"` + webpImg + `","composition_fidelity":0.9,"style_strength":1,"change_strength":0.1}`, true, ""},
		{"transfer", `{"init_image":"` + img + `"}`, false, "required key [style_image]"},
		{"transfer", `{"image":"` + img + `","style_image":"` + img + `"}`, false, "required key [init_image]"},
		{"transfer", `{"init_image":"` + img + `","style_image":"` + img + `","change_strength":0}`, false, "not in the range"},
		{"i2i", `{"prompt":"x","mode":"image-to-image","image":"` + img + `","strength":0.7,"seed":5,"output_format":"webp"}`, true, ""},
		{"i2i", `{"prompt":"x","mode":"image-to-image","image":"` + img + `"}`, false, "required key [strength]"},
		{"i2i", `{"prompt":"x","mode":"image-to-image","image":"` + img + `","strength":0.7,"aspect_ratio":"1:1"}`, false, "extraneous key [aspect_ratio]"},
	}
	srv := bedrocktest.NewServer(t)
	c := client(t, srv)
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			out, err := invoke(t, c, id(tt.op), tt.body)
			switch {
			case tt.ok && err != nil:
				t.Errorf("InvokeModel(%s) = %v, want success", tt.op, err)
			case !tt.ok && (errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("InvokeModel(%s, %s) = %v, want ValidationException containing %q", tt.op, shorten(tt.body), err, tt.want)
			case tt.ok && !json.Valid(out):
				t.Errorf("InvokeModel(%s) answer is not JSON", tt.op)
			}
		})
	}
}

func shorten(body string) string {
	if len(body) > 120 {
		return body[:60] + "…" + body[len(body)-60:]
	}
	return body
}

// TestEditAnswers checks the fake's answers: the size each operation makes, WebP when
// asked, and remove-background's alpha channel.
func TestEditAnswers(t *testing.T) {
	img := pngB64(t, 128, 96, false)
	tests := []struct {
		model, body string
		w, h        int
		format      string
	}{
		{"stability.stable-fast-upscale-v1:0", `{"image":"` + img + `"}`, 512, 384, "png"},
		{"stability.stable-creative-upscale-v1:0", `{"image":"` + img + `","prompt":"x"}`, 512, 384, "png"},
		{"stability.stable-outpaint-v1:0", `{"image":"` + img + `","left":10,"right":20,"up":30,"down":40}`, 158, 166, "png"},
		{"stability.stable-image-style-guide-v1:0", `{"image":"` + img + `","prompt":"x","aspect_ratio":"16:9"}`, 1344, 768, "png"},
		{"stability.stable-image-control-sketch-v1:0", `{"image":"` + img + `","prompt":"x","output_format":"jpeg"}`, 1152, 832, "jpeg"},
		{"stability.sd3-5-large-v1:0", `{"image":"` + img + `","prompt":"x","mode":"image-to-image","strength":0.5,"output_format":"webp"}`, 1152, 832, "webp"},
		{"stability.stable-image-remove-background-v1:0", `{"image":"` + img + `"}`, 128, 96, "png"},
	}
	srv := bedrocktest.NewServer(t)
	c := client(t, srv)
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			out, err := invoke(t, c, tt.model, tt.body)
			if err != nil {
				t.Fatalf("InvokeModel = %v", err)
			}
			var a struct {
				Seeds         []uint64  `json:"seeds"`
				FinishReasons []*string `json:"finish_reasons"`
				Images        []string  `json:"images"`
			}
			if err := json.Unmarshal(out, &a); err != nil || len(a.Images) != 1 || len(a.Seeds) != 1 || a.FinishReasons[0] != nil {
				t.Fatalf("answer %.100s: %v", out, err)
			}
			data, _ := base64.StdEncoding.DecodeString(a.Images[0])
			var got image.Image
			var format string
			if tt.format == "webp" {
				got, err = webp.Decode(bytes.NewReader(data))
				format = "webp"
			} else {
				got, format, err = image.Decode(bytes.NewReader(data))
			}
			if err != nil || format != tt.format || got.Bounds().Dx() != tt.w || got.Bounds().Dy() != tt.h {
				t.Fatalf("image = %s %v, %v; want %s %dx%d", format, got.Bounds(), err, tt.format, tt.w, tt.h)
			}
			if strings.Contains(tt.model, "remove-background") {
				corner := color.NRGBAModel.Convert(got.At(0, 0)).(color.NRGBA)
				centre := color.NRGBAModel.Convert(got.At(64, 48)).(color.NRGBA)
				if corner.A != 0 || centre.A != 255 {
					t.Errorf("alpha corner %d, centre %d; want 0 and 255", corner.A, centre.A)
				}
			}
		})
	}
}

// TestEditBodyLimit: a body over InvokeModel's 25,000,000 bytes is refused as
// Bedrock refuses it.
func TestEditBodyLimit(t *testing.T) {
	srv := bedrocktest.NewServer(t)
	c := client(t, srv)
	body := fmt.Sprintf(`{"image":"%s"}`, strings.Repeat("A", bedrocktest.MaxRequestBody))
	_, err := invoke(t, c, "stability.stable-fast-upscale-v1:0", body)
	if errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), "25000000") {
		t.Errorf("InvokeModel(25 MB body) = %v, want ValidationException about 25000000", err)
	}
}
