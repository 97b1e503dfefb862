package bedrocktest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go"

	"github.com/easelhq/easel/bedrock/bedrocktest"
)

// client returns an SDK client for srv, configured through the standard settings.
func client(t *testing.T, srv *bedrocktest.Server) *bedrockruntime.Client {
	t.Helper()
	key, secret := srv.Credentials()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": srv.URL(), "AWS_REGION": srv.Region(),
		"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_BEARER_TOKEN_BEDROCK": "",
	} {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		o.Retryer = aws.NopRetryer{}
		o.HTTPClient = ownBody{o.HTTPClient}
	})
}

// ownBody gives the transport a request body the SDK cannot close under it (see
// bedrock.ownBody: the SDK closes its body when response headers arrive, and Go's
// transport may then close the connection under the response).
type ownBody struct{ next bedrockruntime.HTTPClient }

func (c ownBody) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	return c.next.Do(req)
}

func invoke(t *testing.T, c *bedrockruntime.Client, model, body string) ([]byte, error) {
	t.Helper()
	out, err := c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String(model), Body: []byte(body), ContentType: aws.String("application/json"),
	})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

const (
	core  = "stability.stable-image-core-v1:1"
	sd35  = "stability.sd3-5-large-v1:0"
	titan = "amazon.titan-image-generator-v2:0"
	nova  = "amazon.nova-canvas-v1:0"
	sdxl  = "stability.stable-diffusion-xl-v1"
)

// TestSchemas checks that each family's body is validated strictly: wrong types,
// unknown keys, out-of-range values and missing prompts are ValidationExceptions.
func TestSchemas(t *testing.T) {
	amazonBody := func(params, config string) string {
		return `{"taskType":"TEXT_IMAGE","textToImageParams":{` + params + `},"imageGenerationConfig":{` + config + `}}`
	}
	tests := []struct {
		model, body string
		ok          bool
		want        string // part of the message
	}{
		{core, `{"prompt":"a fox"}`, true, ""},
		{core, `{"prompt":"a fox","negative_prompt":"x","aspect_ratio":"21:9","seed":4294967294,"output_format":"jpeg","mode":"text-to-image"}`, true, ""},
		{core, `{}`, false, "required key [prompt]"},
		{core, `{"prompt":""}`, false, "expected length"},
		{core, `{"prompt":5}`, false, "expected type: String"},
		{core, `{"prompt":null}`, false, "expected type: String"},
		{core, `{"prompt":"a","style":"anime"}`, false, "extraneous key [style]"},
		{core, `{"prompt":"a","aspect_ratio":"4:3"}`, false, "not a valid enum value"},
		{core, `{"prompt":"a","seed":-1}`, false, "not in the range"},
		{core, `{"prompt":"a","seed":4294967295}`, false, "not in the range"},
		{core, `{"prompt":"a","seed":1.5}`, false, "Integer"},
		{core, `{"prompt":"a","seed":"1"}`, false, "expected type: Number"},
		{core, `{"prompt":"a","output_format":"webp"}`, false, "not a valid enum value"},
		{core, `{"prompt":"a","mode":"image-to-image"}`, false, "not a valid enum value"},
		{core, `["prompt"]`, false, "JSONObject"},
		{core, `{"prompt":"a"} {}`, false, "unexpected data"},
		{core, `{"prompt":"` + strings.Repeat("a", 10001) + `"}`, false, "expected length"},
		{sd35, `{"prompt":"a","mode":"text-to-image"}`, true, ""},
		{sd35, `{"prompt":"a","mode":"image-to-image","image":"AAAA","strength":0.5}`, false, "not a valid jpeg, png or webp image"},
		{sd35, `{"prompt":"a","mode":"text-to-image","strength":0.5}`, false, "image-to-image"},
		{titan, amazonBody(`"text":"a fox"`, `"width":512,"height":512`), true, ""},
		{titan, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a"}}`, true, ""},
		{titan, `{"textToImageParams":{"text":"a"}}`, false, "required key [taskType]"},
		{titan, `{"taskType":"INPAINTING","textToImageParams":{"text":"a"}}`, false, "not a task type"},
		{titan, `{"taskType":"TEXT_IMAGE"}`, false, "required key [textToImageParams]"},
		{titan, amazonBody(`"text":"`+strings.Repeat("a", 513)+`"`, ``), false, "expected length"},
		{titan, amazonBody(`"text":"a","negativeText":""`, ``), false, "expected length"},
		{titan, amazonBody(`"text":"a","style":"PHOTOREALISM"`, ``), false, "extraneous key [style]"},
		{titan, amazonBody(`"text":"a"`, `"width":1000,"height":1000`), false, "Invalid dimensions"},
		{titan, amazonBody(`"text":"a"`, `"width":512`), false, "together"},
		{titan, amazonBody(`"text":"a"`, `"cfgScale":11`), false, "not in the range"},
		{titan, amazonBody(`"text":"a"`, `"seed":2147483647`), false, "not in the range"},
		{titan, amazonBody(`"text":"a"`, `"numberOfImages":6`), false, "not in the range"},
		{titan, amazonBody(`"text":"a"`, `"quality":"ultra"`), false, "not a valid enum value"},
		{titan, amazonBody(`"text":"a"`, `"steps":30`), false, "extraneous key [steps]"},
		{nova, amazonBody(`"text":"a","style":"MAXIMALISM","negativeText":"b"`, `"width":1280,"height":320,"cfgScale":1.1,"seed":0,"quality":"premium","numberOfImages":2`), true, ""},
		{nova, amazonBody(`"text":"a"`, `"width":330,"height":320`), false, "divisible by 16"},
		{nova, amazonBody(`"text":"a"`, `"width":4096,"height":960`), false, "aspect ratio"},
		{nova, amazonBody(`"text":"a"`, `"width":2064,"height":2048`), false, "pixels"},
		{nova, amazonBody(`"text":"a","style":"anime"`, ``), false, "not a valid enum value"},
		{sdxl, `{"text_prompts":[{"text":"a","weight":1},{"text":"b","weight":-1}],"cfg_scale":7,"seed":1,"steps":30,"width":1024,"height":1024,"style_preset":"anime","samples":1}`, true, ""},
		{sdxl, `{"text_prompts":[]}`, false, "non-empty"},
		{sdxl, `{"text_prompts":[{"text":"a"}],"samples":2}`, false, "not in the range"},
		{sdxl, `{"text_prompts":[{"text":"a"}],"width":512,"height":512}`, false, "Invalid dimensions"},
		{sdxl, `{"text_prompts":[{"text":"a","colour":"red"}]}`, false, "extraneous key [colour]"},
		{"stability.unknown-v1:0", `{"prompt":"a"}`, false, "model identifier is invalid"},
	}
	srv := bedrocktest.NewServer(t, bedrocktest.WithSmallImages())
	c := client(t, srv)
	for _, tt := range tests {
		out, err := invoke(t, c, tt.model, tt.body)
		switch {
		case tt.ok && err != nil:
			t.Errorf("InvokeModel(%s, %.80s) = %v, want success", tt.model, tt.body, err)
		case !tt.ok && (errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("InvokeModel(%s, %.80s) = %v, want ValidationException containing %q", tt.model, tt.body, err, tt.want)
		case tt.ok && !json.Valid(out):
			t.Errorf("InvokeModel(%s) answer is not JSON: %.80s", tt.model, out)
		}
	}
}

func TestResponseShapes(t *testing.T) {
	img := []byte("\x89PNG\r\n\x1a\nfixed")
	srv := bedrocktest.NewServer(t, bedrocktest.WithFixedImage(img))
	c := client(t, srv)
	want := base64.StdEncoding.EncodeToString(img)

	out, err := invoke(t, c, "us."+core, `{"prompt":"a fox","seed":42}`)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Seeds         []uint64  `json:"seeds"`
		FinishReasons []*string `json:"finish_reasons"`
		Images        []string  `json:"images"`
	}
	if err := json.Unmarshal(out, &st); err != nil || len(st.Images) != 1 || st.Images[0] != want ||
		len(st.Seeds) != 1 || st.Seeds[0] != 42 || len(st.FinishReasons) != 1 || st.FinishReasons[0] != nil {
		t.Errorf("Stability answer = %.200s, %v", out, err)
	}
	if srv.Calls("us."+core) != 1 || srv.Calls(core) != 0 {
		t.Errorf("Calls(profile, base) = %d, %d; want 1, 0", srv.Calls("us."+core), srv.Calls(core))
	}

	srv.SetFault(bedrocktest.Fault{FilterOutput: 1})
	out, err = invoke(t, c, nova, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a"},"imageGenerationConfig":{"numberOfImages":3,"width":320,"height":320}}`)
	var am struct {
		Images []string `json:"images"`
		Error  *string  `json:"error"`
	}
	if err != nil || json.Unmarshal(out, &am) != nil || len(am.Images) != 2 || am.Error == nil {
		t.Errorf("Amazon answer with one filtered = %.200s, %v; want 2 images and an error", out, err)
	}
}

func TestFaults(t *testing.T) {
	srv := bedrocktest.NewServer(t, bedrocktest.WithSmallImages())
	c := client(t, srv)
	body := `{"prompt":"a fox"}`

	srv.SetFault(bedrocktest.Fault{Exception: "ThrottlingException", Times: 2})
	for i, want := range []string{"ThrottlingException", "ThrottlingException", ""} {
		if _, err := invoke(t, c, core, body); errorCode(err) != want {
			t.Errorf("call %d = %v, want %q", i, err, want)
		}
	}
	srv.SetFault(bedrocktest.Fault{Exception: "ModelErrorException", Model: titan})
	if _, err := invoke(t, c, core, body); err != nil {
		t.Errorf("fault for another model hit core: %v", err)
	}
	srv.SetFault(bedrocktest.Fault{FilterPrompt: true, Prompt: "forbidden"})
	if _, err := invoke(t, c, core, `{"prompt":"a forbidden fox"}`); !strings.Contains(err.Error(), "content filters") {
		t.Errorf("filtered prompt = %v, want a content-filter ValidationException", err)
	}
	if _, err := invoke(t, c, core, body); err != nil {
		t.Errorf("other prompt = %v, want success", err)
	}
	for exception, status := range map[string]int{"ModelTimeoutException": 408, "ModelErrorException": 424,
		"ServiceUnavailableException": 503, "ResourceNotFoundException": 404} {
		srv.SetFault(bedrocktest.Fault{Exception: exception})
		_, err := invoke(t, c, core, body)
		var he interface{ HTTPStatusCode() int }
		if errorCode(err) != exception || !errors.As(err, &he) || he.HTTPStatusCode() != status {
			t.Errorf("Fault %s = %v, want that exception with status %d", exception, err, status)
		}
	}
}

// TestSignatureChecks signs raw requests with the SDK's signer and tampers with them.
func TestSignatureChecks(t *testing.T) {
	skew := time.Duration(0)
	srv := bedrocktest.NewServer(t, bedrocktest.WithSmallImages(), bedrocktest.WithClock(func() time.Time { return time.Now().Add(skew) }))
	key, secret := srv.Credentials()
	send := func(signedBody, sentBody string, creds aws.Credentials, region string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/model/stability.stable-image-core-v1%3A1/invoke", strings.NewReader(sentBody))
		req.Header.Set("Content-Type", "application/json")
		sum := sha256.Sum256([]byte(signedBody))
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "bedrock", region, time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType") + " " + string(b)
	}
	good := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
	body := `{"prompt":"a fox"}`
	if status, msg := send(body, body, good, srv.Region()); status != 200 {
		t.Errorf("signed request = %d %s, want 200", status, msg)
	}
	for _, tt := range []struct {
		name       string
		signed     string
		sent       string
		creds      aws.Credentials
		region     string
		skew       time.Duration
		wantStatus int
		want       string
	}{
		{"tampered body", body, `{"prompt":"a wolf"}`, good, srv.Region(), 0, 403, "InvalidSignatureException"},
		{"wrong secret", body, body, aws.Credentials{AccessKeyID: key, SecretAccessKey: "x"}, srv.Region(), 0, 403, "signature we calculated does not match"},
		{"unknown key", body, body, aws.Credentials{AccessKeyID: "OTHER", SecretAccessKey: secret}, srv.Region(), 0, 403, "UnrecognizedClientException"},
		{"wrong region", body, body, good, "eu-central-1", 0, 403, "valid region"},
		{"clock skew", body, body, good, srv.Region(), 10 * time.Minute, 403, "Signature expired"},
	} {
		skew = tt.skew
		status, msg := send(tt.signed, tt.sent, tt.creds, tt.region)
		if status != tt.wantStatus || !strings.Contains(msg, tt.want) {
			t.Errorf("%s: %d %s, want %d with %q", tt.name, status, msg, tt.wantStatus, tt.want)
		}
	}
	skew = 0
	if n := srv.Calls("stability.stable-image-core-v1:1"); n != 1 {
		t.Errorf("Calls = %d, want 1: refused requests are not billed", n)
	}
}

func TestNoisyPNG(t *testing.T) {
	b, err := bedrocktest.NoisyPNG(1024, 1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b); n < 1_300_000 || n > 2_000_000 {
		t.Errorf("NoisyPNG(1024, 1024) = %d bytes, want about 1.5 MB", n)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("NoisyPNG is not a PNG")
	}
}
