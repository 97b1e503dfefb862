package bedrock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	awsbedrock "github.com/aws/aws-sdk-go-v2/service/bedrock"

	"github.com/easelhq/easel/bedrock"
	"github.com/easelhq/easel/bedrock/bedrocktest"
)

// TestCheckModels runs the start-up model check against the Bedrock wire fake's
// control plane (GetFoundationModel, SigV4-checked), one case per lifecycle: only a
// missing model and one past its end of life stop Easel; LEGACY and unknown states
// are logged warnings.
func TestCheckModels(t *testing.T) {
	yesterday := time.Now().Add(-24 * time.Hour)
	nextYear := time.Now().AddDate(1, 0, 0)
	tests := []struct {
		name     string
		ids      []string
		opts     []bedrocktest.Option
		wantErr  []string // substrings of the error; none: no error
		wantWarn []string // substrings of the warnings logged
	}{
		{name: "active, by alias and by inference profile",
			ids: []string{"core", "us.stability.stable-image-core-v1:1"}},
		{name: "legacy with an end of life ahead warns",
			ids: []string{"nova-canvas"},
			opts: []bedrocktest.Option{bedrocktest.WithLifecycle(bedrock.IDNovaCanvas, bedrocktest.Lifecycle{
				Status: "LEGACY", LegacyTime: yesterday, EndOfLifeTime: nextYear})},
			wantWarn: []string{"LEGACY", `"model":"nova-canvas"`, `"end_of_life":"` + nextYear.UTC().Format("2006-01-02") + `"`}},
		{name: "legacy without an end of life warns",
			ids:      []string{"titan"},
			opts:     []bedrocktest.Option{bedrocktest.WithLifecycle(bedrock.IDTitanImageV2, bedrocktest.Lifecycle{Status: "LEGACY"})},
			wantWarn: []string{"LEGACY", `"end_of_life":"not announced"`}},
		{name: "past end of life fails",
			ids: []string{"core", "titan"},
			opts: []bedrocktest.Option{bedrocktest.WithLifecycle(bedrock.IDTitanImageV2, bedrocktest.Lifecycle{
				Status: "LEGACY", EndOfLifeTime: yesterday})},
			wantErr: []string{"titan is past its end of life (" + yesterday.UTC().Format("2006-01-02") + ", status LEGACY)"}},
		{name: "missing model fails",
			ids:     []string{"stability.gone-v1:0"},
			wantErr: []string{"stability.gone-v1:0: not offered in this region", "ResourceNotFoundException"}},
		{name: "a model the region does not offer fails",
			ids:     []string{"sd3.5"},
			opts:    []bedrocktest.Option{bedrocktest.WithoutModel(bedrock.IDSD35Large)},
			wantErr: []string{"sd3.5: not offered in this region"}},
		{name: "no lifecycle reported warns",
			ids:      []string{"ultra"},
			opts:     []bedrocktest.Option{bedrocktest.WithLifecycle(bedrock.IDStableImageUltra, bedrocktest.Lifecycle{})},
			wantWarn: []string{"no lifecycle"}},
		{name: "unknown status warns",
			ids:      []string{"ultra"},
			opts:     []bedrocktest.Option{bedrocktest.WithLifecycle(bedrock.IDStableImageUltra, bedrocktest.Lifecycle{Status: "PREVIEW"})},
			wantWarn: []string{"does not know", `"status":"PREVIEW"`}},
		{name: "every unusable model is named",
			ids:     []string{"core", "stability.gone-v1:0", "nova-canvas"},
			opts:    []bedrocktest.Option{bedrocktest.WithLifecycle(bedrock.IDNovaCanvas, bedrocktest.Lifecycle{Status: "ACTIVE", EndOfLifeTime: yesterday})},
			wantErr: []string{"stability.gone-v1:0", "nova-canvas is past its end of life"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := bedrocktest.NewServer(t, tt.opts...)
			key, secret := srv.Credentials()
			setAWSEnv(t, srv.URL(), srv.Region(), key, secret)
			cfg, err := config.LoadDefaultConfig(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			err = bedrock.CheckModels(context.Background(), awsbedrock.NewFromConfig(cfg), tt.ids,
				slog.New(slog.NewJSONHandler(&logs, nil)))
			switch {
			case len(tt.wantErr) == 0 && err != nil:
				t.Errorf("CheckModels(%v) = %v, want nil", tt.ids, err)
			case len(tt.wantErr) > 0 && err == nil:
				t.Errorf("CheckModels(%v) = nil, want an error", tt.ids)
			}
			for _, w := range tt.wantErr {
				if err != nil && !strings.Contains(err.Error(), w) {
					t.Errorf("CheckModels error %q lacks %q", err, w)
				}
			}
			if err != nil && strings.Contains(err.Error(), "core") {
				t.Errorf("CheckModels error %q names the active model", err)
			}
			for _, w := range tt.wantWarn {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("warnings %q lack %q", logs.String(), w)
				}
			}
			if len(tt.wantWarn) == 0 && logs.Len() > 0 {
				t.Errorf("unexpected log lines: %s", logs.String())
			}
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var rec map[string]any
				if line != "" && (json.Unmarshal([]byte(line), &rec) != nil || rec["level"] != "WARN") {
					t.Errorf("log line %q, want a warning", line)
				}
			}
			// The control plane is asked for the foundation model behind aliases and profiles.
			if n := srv.Lookups(bedrock.IDStableImageCore); tt.ids[0] == "core" && n == 0 {
				t.Errorf("GetFoundationModel was not asked for %s", bedrock.IDStableImageCore)
			}
		})
	}
}

// TestCheckModelsSignature: the control plane fake refuses a badly signed lookup, and
// the check reports it.
func TestCheckModelsSignature(t *testing.T) {
	srv := bedrocktest.NewServer(t)
	key, _ := srv.Credentials()
	setAWSEnv(t, srv.URL(), srv.Region(), key, "not-the-secret")
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	err = bedrock.CheckModels(context.Background(), awsbedrock.NewFromConfig(cfg), []string{"core"}, nil)
	if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Errorf("CheckModels with a wrong secret = %v, want InvalidSignatureException", err)
	}
}
