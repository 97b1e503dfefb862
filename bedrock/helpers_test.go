package bedrock_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/easelhq/easel/bedrock"
	"github.com/easelhq/easel/bedrock/bedrocktest"
)

// newFake starts the Bedrock fake and returns it with a real SDK client configured
// only through the SDK's standard environment settings.
func newFake(t *testing.T, opts ...bedrocktest.Option) (*bedrocktest.Server, *bedrockruntime.Client) {
	t.Helper()
	srv := bedrocktest.NewServer(t, append([]bedrocktest.Option{bedrocktest.WithSmallImages()}, opts...)...)
	key, secret := srv.Credentials()
	setAWSEnv(t, srv.URL(), srv.Region(), key, secret)
	return srv, runtimeClient(t)
}

// setAWSEnv points the SDK at a loopback endpoint with the given credentials, and
// away from any shared config, profile or instance metadata on the machine.
func setAWSEnv(t *testing.T, endpoint, region, key, secret string) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": endpoint,
		"AWS_ENDPOINT_URL_BEDROCK":         endpoint,
		"AWS_REGION":                       region,
		"AWS_ACCESS_KEY_ID":                key,
		"AWS_SECRET_ACCESS_KEY":            secret,
		"AWS_SESSION_TOKEN":                "",
		"AWS_PROFILE":                      "",
		"AWS_CONFIG_FILE":                  none,
		"AWS_SHARED_CREDENTIALS_FILE":      none,
		"AWS_EC2_METADATA_DISABLED":        "true",
		"AWS_BEARER_TOKEN_BEDROCK":         "",
		"AWS_MAX_ATTEMPTS":                 "",
		"AWS_RETRY_MODE":                   "",
	} {
		t.Setenv(k, v)
	}
}

func runtimeClient(t *testing.T) *bedrockruntime.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("LoadDefaultConfig: %v", err)
	}
	return bedrockruntime.NewFromConfig(cfg)
}

// testOptions is the options every test model starts from: no backoff, and the
// adapter's log in the test's log (shown when the test fails).
func testOptions(t *testing.T, o bedrock.Options) bedrock.Options {
	if o.BackoffBase == 0 {
		o.BackoffBase = -1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	return o
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func newModel(t *testing.T, client *bedrockruntime.Client, id string, o bedrock.Options) *bedrock.Model {
	t.Helper()
	m, err := bedrock.New(client, id, testOptions(t, o))
	if err != nil {
		t.Fatalf("New(%q) = %v", id, err)
	}
	return m
}
