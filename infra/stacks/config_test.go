package stacks_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/easelhq/easel/infra/stacks"
)

func lookupFrom(m map[string]string) stacks.Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := stacks.LoadConfig(lookupFrom(nil), envFrom(nil))
	if err != nil {
		t.Fatalf("LoadConfig() error = %v", err)
	}
	want := stacks.Config{
		Account:       stacks.PlaceholderAccount,
		Region:        stacks.DefaultRegion,
		Models:        []string{"stability.stable-image-core-v1:1", "stability.sd3-5-large-v1:0"},
		InstanceTypes: []string{"t4g.small"},
		MinCapacity:   2,
		MaxCapacity:   4,
		NatGateways:   1,
		VpcOrigin:     true,

		SigningKeyGeneration: 1,
		Auth:                 stacks.AuthKeys,
		Compute:              stacks.ComputeEC2,
		DockerDir:            stacks.DefaultDockerDir,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("LoadConfig() = %+v, want %+v", cfg, want)
	}
	if cfg.HasDomain() || cfg.SeparateEdgeStack() {
		t.Errorf("HasDomain() = %v, SeparateEdgeStack() = %v for %+v", cfg.HasDomain(), cfg.SeparateEdgeStack(), cfg)
	}
}

func TestLoadConfigPrecedence(t *testing.T) {
	ctx := map[string]string{stacks.KeyMinCapacity: "3", stacks.KeyModels: "bedrock:amazon.nova-canvas-v1:0"}
	env := map[string]string{
		"EASEL_CDK_MIN_CAPACITY": "1", // context wins
		"EASEL_CDK_MAX_CAPACITY": "9", // env used when no context
		"EASEL_CDK_SPOT":         "true",
		"EASEL_BINARY":           "/tmp/easel",
		"CDK_DEFAULT_ACCOUNT":    "210987654321",
		"CDK_DEFAULT_REGION":     "eu-west-1",
	}
	cfg, err := stacks.LoadConfig(lookupFrom(ctx), envFrom(env))
	if err != nil {
		t.Fatalf("LoadConfig() error = %v", err)
	}
	got := []interface{}{cfg.MinCapacity, cfg.MaxCapacity, cfg.Spot, cfg.BinaryPath, cfg.Account, cfg.Region, cfg.Models}
	want := []interface{}{3, 9, true, "/tmp/easel", "210987654321", "eu-west-1", []string{"amazon.nova-canvas-v1:0"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadConfig() = %v, want %v", got, want)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	domain := map[string]string{
		stacks.KeyDomainName: "images.example.com", stacks.KeyHostedZoneID: "Z123", stacks.KeyHostedZoneName: "example.com",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range domain {
			m[a] = b
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name    string
		ctx     map[string]string
		wantErr string
	}{
		{"x86 instance", map[string]string{stacks.KeyInstanceType: "t3.small"}, "Graviton"},
		{"one x86 among Spot pools", map[string]string{stacks.KeyInstanceType: "t4g.small,c6i.large"}, "Graviton"},
		{"min above max", map[string]string{stacks.KeyMinCapacity: "5", stacks.KeyMaxCapacity: "4"}, "min <= max"},
		{"zero instances", map[string]string{stacks.KeyMinCapacity: "0"}, "min <= max"},
		{"not a number", map[string]string{stacks.KeyMaxCapacity: "many"}, "whole number"},
		{"no NAT", map[string]string{stacks.KeyNatGateways: "0"}, "natGateways=0"},
		{"three NATs", map[string]string{stacks.KeyNatGateways: "3"}, "natGateways=3"},
		{"bad bool", map[string]string{stacks.KeySpot: "sometimes"}, "true or false"},
		{"bad model", map[string]string{stacks.KeyModels: "Stable Image"}, "not a Bedrock model id"},
		{"Easel alias", map[string]string{stacks.KeyModels: "bedrock:core"}, "not a Bedrock model id"},
		{"profile of an alias", map[string]string{stacks.KeyModels: "us.core"}, "not a Bedrock model id"},
		{"domain without zone", map[string]string{stacks.KeyDomainName: "images.example.com"}, "go together"},
		{"domain outside zone", with(stacks.KeyDomainName, "images.example.org"), "not inside hosted zone"},
		{"zone id", with(stacks.KeyHostedZoneID, "example"), "zone id"},
		// An internet-facing ALB without a domain would be plain HTTP from CloudFront.
		{"public HTTP origin", map[string]string{stacks.KeyVpcOrigin: "false"}, "plain HTTP"},
		{"email without domain", map[string]string{stacks.KeyNotifyEmail: "ops"}, "not an email address"},
		{"two emails", map[string]string{stacks.KeyNotifyEmail: "a@example.com,b@example.com"}, "not an email address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := stacks.LoadConfig(lookupFrom(tt.ctx), envFrom(nil))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("LoadConfig(%v) error = %v, want one containing %q", tt.ctx, err, tt.wantErr)
			}
		})
	}
	if _, err := stacks.LoadConfig(lookupFrom(domain), envFrom(nil)); err != nil {
		t.Errorf("LoadConfig(%v) error = %v, want nil", domain, err)
	}
	env := map[string]string{"EASEL_CDK_NOTIFY_EMAIL": "Ops.Team+easel@Example.com"}
	if cfg, err := stacks.LoadConfig(lookupFrom(nil), envFrom(env)); err != nil || cfg.NotifyEmail != env["EASEL_CDK_NOTIFY_EMAIL"] {
		t.Errorf("LoadConfig(%v) = NotifyEmail %q, error %v; want the address", env, cfg.NotifyEmail, err)
	}
	if cfg, err := stacks.LoadConfig(lookupFrom(with(stacks.KeyVpcOrigin, "false")), envFrom(nil)); err != nil || cfg.VpcOrigin {
		t.Errorf("LoadConfig(domain, vpcOrigin=false) = VpcOrigin %v, error %v; want a public HTTPS origin", cfg.VpcOrigin, err)
	}
}

func TestGravitonTypes(t *testing.T) {
	for _, typ := range []string{"t4g.small", "c7g.medium", "m7g.large", "c7gn.xlarge", "r7gd.large", "m8g.medium", "im4gn.large"} {
		if _, err := stacks.LoadConfig(lookupFrom(map[string]string{stacks.KeyInstanceType: typ}), envFrom(nil)); err != nil {
			t.Errorf("instanceType %s: error = %v, want nil", typ, err)
		}
	}
}

func TestEnvName(t *testing.T) {
	tests := map[string]string{
		stacks.KeyDomainName:      "EASEL_CDK_DOMAIN_NAME",
		stacks.KeyHostedZoneID:    "EASEL_CDK_HOSTED_ZONE_ID",
		stacks.KeyHostedZoneName:  "EASEL_CDK_HOSTED_ZONE_NAME",
		stacks.KeyModels:          "EASEL_CDK_MODELS",
		stacks.KeyInstanceType:    "EASEL_CDK_INSTANCE_TYPE",
		stacks.KeyMinCapacity:     "EASEL_CDK_MIN_CAPACITY",
		stacks.KeyMaxCapacity:     "EASEL_CDK_MAX_CAPACITY",
		stacks.KeySpot:            "EASEL_CDK_SPOT",
		stacks.KeyNatGateways:     "EASEL_CDK_NAT_GATEWAYS",
		stacks.KeyBedrockEndpoint: "EASEL_CDK_BEDROCK_ENDPOINT",
		stacks.KeyVpcOrigin:       "EASEL_CDK_VPC_ORIGIN",
		stacks.KeyPrivateImages:   "EASEL_CDK_PRIVATE_IMAGES",
		stacks.KeyAuth:            "EASEL_CDK_AUTH",
		stacks.KeyCompute:         "EASEL_CDK_COMPUTE",
		stacks.KeyBinary:          "EASEL_BINARY",
		stacks.KeyNotifyEmail:     "EASEL_CDK_NOTIFY_EMAIL",
		"unknown":                 "",
	}
	for key, want := range tests {
		if got := stacks.EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestSplitProfile(t *testing.T) {
	tests := []struct{ id, geo, base string }{
		{"stability.stable-image-core-v1:1", "", "stability.stable-image-core-v1:1"},
		{"us.stability.stable-image-core-v1:1", "us", "stability.stable-image-core-v1:1"},
		{"eu.amazon.nova-canvas-v1:0", "eu", "amazon.nova-canvas-v1:0"},
		{"global.amazon.nova-canvas-v1:0", "global", "amazon.nova-canvas-v1:0"},
		{"us-gov.amazon.titan-image-generator-v2:0", "us-gov", "amazon.titan-image-generator-v2:0"},
	}
	for _, tt := range tests {
		if geo, base := stacks.SplitProfile(tt.id); geo != tt.geo || base != tt.base {
			t.Errorf("SplitProfile(%q) = %q, %q, want %q, %q", tt.id, geo, base, tt.geo, tt.base)
		}
	}
}

// TestAccessOptions: the access and compute options take their documented values
// (context or environment, case-insensitive), and anything else is refused with a
// message naming the key and the values it takes.
func TestAccessOptions(t *testing.T) {
	cfg, err := stacks.LoadConfig(lookupFrom(map[string]string{
		stacks.KeyAuth: "Cognito", stacks.KeyPrivateImages: "true", stacks.KeySigningKeyGeneration: "3",
	}), envFrom(map[string]string{"EASEL_CDK_COMPUTE": "fargate", "EASEL_CDK_DOCKER_DIR": "/src/easel"}))
	if err != nil {
		t.Fatalf("LoadConfig() error = %v", err)
	}
	got := []interface{}{cfg.Auth, cfg.Compute, cfg.PrivateImages, cfg.SigningKeyGeneration, cfg.DockerDir}
	want := []interface{}{stacks.AuthCognito, stacks.ComputeFargate, true, 3, "/src/easel"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadConfig() = %v, want %v", got, want)
	}
	tests := []struct {
		name    string
		ctx     map[string]string
		wantErr []string
	}{
		{"auth", map[string]string{stacks.KeyAuth: "saml"}, []string{`auth: "saml"`, `"keys"`, `"cognito"`}},
		{"auth oidc", map[string]string{stacks.KeyAuth: "oidc"}, []string{`auth: "oidc"`}},
		{"compute", map[string]string{stacks.KeyCompute: "lambda"}, []string{`compute: "lambda"`, `"ec2"`, `"fargate"`}},
		{"compute ecs", map[string]string{stacks.KeyCompute: "ecs"}, []string{`compute: "ecs"`}},
		{"private", map[string]string{stacks.KeyPrivateImages: "signed"}, []string{"privateImages", "true or false"}},
		{"generation zero", map[string]string{stacks.KeyPrivateImages: "true", stacks.KeySigningKeyGeneration: "0"},
			[]string{"signingKeyGeneration=0", "rotate"}},
		{"generation text", map[string]string{stacks.KeyPrivateImages: "true", stacks.KeySigningKeyGeneration: "next"},
			[]string{"signingKeyGeneration", "whole number"}},
		{"generation without private images", map[string]string{stacks.KeySigningKeyGeneration: "2"},
			[]string{"signingKeyGeneration=2 needs privateImages=true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := stacks.LoadConfig(lookupFrom(tt.ctx), envFrom(nil))
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("LoadConfig(%v) error = %v, want one containing %q", tt.ctx, err, w)
				}
			}
		})
	}
}
