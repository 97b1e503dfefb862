package stacks_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/easelhq/easel/infra/stacks"
)

// TestMain silences Node's end-of-life banner and releases the jsii runtime at the
// end. The CDK packages' init functions already created the runtime process object,
// which copies the environment when it is created, so it is closed and recreated
// after the variable is set.
func TestMain(m *testing.M) {
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	// Synthesis must not need Docker (the Fargate image is only staged; `cdk deploy`
	// builds it): any attempt to run it fails.
	os.Setenv("CDK_DOCKER", "/nonexistent/docker-must-not-run-during-synthesis")
	jsii.Close()
	code := m.Run()
	cleanupFixtures()
	jsii.Close()
	os.Exit(code)
}

// variant is one configuration the tests synthesize.
type variant struct {
	name    string
	context map[string]string // CDK context, as -c key=value would give
	env     map[string]string // environment seen by LoadConfig
}

// Variants, covering a domain with and without the VPC origin, and the default
// without a domain (which requires the VPC origin: an internet-facing ALB needs the
// domain's certificate):
//   - default: no domain, us-east-1 (the web ACL shares the stack), VPC origin over
//     HTTP to an internal ALB;
//   - domain: a domain in us-east-1 with vpcOrigin=false: a public ALB over HTTPS,
//     still one stack;
//   - full: every switch on (notifyEmail too), a domain in us-west-2 (a separate us-east-1 edge stack
//     read through weak references), VPC origin over HTTPS.
func variants() []variant {
	return []variant{
		{name: "default", env: map[string]string{
			"CDK_DEFAULT_ACCOUNT": "123456789012",
			"CDK_DEFAULT_REGION":  "us-east-1",
		}},
		{name: "domain", context: map[string]string{
			stacks.KeyDomainName:     "images.example.com",
			stacks.KeyHostedZoneID:   "Z0123456789EXAMPLE",
			stacks.KeyHostedZoneName: "example.com",
			stacks.KeyVpcOrigin:      "false",
		}, env: map[string]string{
			"CDK_DEFAULT_ACCOUNT": "123456789012",
			"CDK_DEFAULT_REGION":  "us-east-1",
		}},
		{name: "full", context: map[string]string{
			stacks.KeyDomainName:      "images.example.com",
			stacks.KeyHostedZoneID:    "Z0123456789EXAMPLE",
			stacks.KeyHostedZoneName:  "example.com",
			stacks.KeyModels:          "us.stability.stable-image-core-v1:1,stability.sd3-5-large-v1:0",
			stacks.KeyInstanceType:    "t4g.small,c7g.medium,m7g.medium",
			stacks.KeyMaxCapacity:     "6",
			stacks.KeyNatGateways:     "2",
			stacks.KeyBedrockEndpoint: "true",
			stacks.KeyNotifyEmail:     "ops@example.com",
		}, env: map[string]string{
			"CDK_DEFAULT_ACCOUNT": "123456789012",
			"CDK_DEFAULT_REGION":  "us-west-2",
			"EASEL_CDK_SPOT":      "true", // settable by env as well as context
		}},
	}
}

// synthesized is one variant's cloud assembly, read back from disk.
type synthesized struct {
	dir       string // the cloud assembly
	cfg       stacks.Config
	templates map[string]map[string]interface{} // stack name -> template
	errors    map[string][]string               // stack name -> "path: message" of error annotations
	missing   []string                          // context lookups that were not cached
}

// accessVariants are every combination of the access and compute options
// (compute × auth × private images), on the default deployment otherwise; their
// names are COMPUTE-AUTH-public|private. The Fargate ones build the image from a
// fixture Dockerfile (the repository's may not exist yet; synthesis only stages it).
func accessVariants() []variant {
	var out []variant
	for _, compute := range []string{stacks.ComputeEC2, stacks.ComputeFargate} {
		for _, auth := range []string{stacks.AuthKeys, stacks.AuthCognito} {
			for _, private := range []bool{false, true} {
				name := compute + "-" + auth + "-public"
				if private {
					name = compute + "-" + auth + "-private"
				}
				out = append(out, variant{name: name, context: map[string]string{
					stacks.KeyCompute: compute, stacks.KeyAuth: auth, stacks.KeyPrivateImages: fmt.Sprint(private),
				}, env: map[string]string{
					"CDK_DEFAULT_ACCOUNT": "123456789012",
					"CDK_DEFAULT_REGION":  "us-east-1",
				}})
			}
		}
	}
	// A rotated signing key: generation 2 signs, generation 1 stays in the key group.
	out = append(out, variant{name: "ec2-keys-private-g2", context: map[string]string{
		stacks.KeyPrivateImages: "true", stacks.KeySigningKeyGeneration: "2",
	}, env: map[string]string{"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "us-east-1"}})
	// Cognito with a domain, the app stack outside us-east-1.
	out = append(out, variant{name: "ec2-cognito-domain", context: map[string]string{
		stacks.KeyAuth:           stacks.AuthCognito,
		stacks.KeyDomainName:     "images.example.com",
		stacks.KeyHostedZoneID:   "Z0123456789EXAMPLE",
		stacks.KeyHostedZoneName: "example.com",
	}, env: map[string]string{"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "us-west-2"}})
	return out
}

// fixtureDockerfile is a Dockerfile like the repository's, for synthesis only.
const fixtureDockerfile = `FROM golang:1.26 AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /easel ./cmd/easel
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /easel /easel
USER 65532:65532
ENTRYPOINT ["/easel", "serve"]
`

var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
	fixtureMu   sync.Mutex
	fixtures    = map[string]*synthesized{}
)

// synthesize builds a variant once per test binary; synthesis is the slow part
// (seconds per app), assertions against the parsed templates are cheap.
func synthesize(t *testing.T, name string) *synthesized {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "easel-infra-test-")
		if fixtureErr != nil {
			return
		}
		// A placeholder: synthesis and assertions only need a file to ship as the asset.
		if fixtureErr = os.WriteFile(filepath.Join(fixtureDir, "easel"), []byte("#!/bin/sh\necho placeholder\n"), 0o755); fixtureErr != nil {
			return
		}
		docker := filepath.Join(fixtureDir, "docker")
		if fixtureErr = os.MkdirAll(docker, 0o755); fixtureErr != nil {
			return
		}
		fixtureErr = os.WriteFile(filepath.Join(docker, "Dockerfile"), []byte(fixtureDockerfile), 0o644)
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if s, ok := fixtures[name]; ok {
		if s == nil {
			t.Fatalf("variant %s failed to synthesize earlier", name)
		}
		return s
	}
	for _, v := range append(variants(), accessVariants()...) {
		if v.name != name {
			continue
		}
		v.env["EASEL_BINARY"] = filepath.Join(fixtureDir, "easel")
		v.env["EASEL_CDK_DOCKER_DIR"] = filepath.Join(fixtureDir, "docker")
		s, err := synthVariant(v, filepath.Join(fixtureDir, v.name))
		fixtures[name] = s
		if err != nil {
			t.Fatalf("synthesize %s: %v", v.name, err)
		}
		return s
	}
	t.Fatalf("no variant %q", name)
	return nil
}

func cleanupFixtures() {
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
}

func synthVariant(v variant, outdir string) (s *synthesized, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	app, err := stacks.NewApp(stacks.AppOptions{Outdir: outdir, ContextFile: "../cdk.context.json", Context: v.context})
	if err != nil {
		return nil, err
	}
	cfg, err := stacks.LoadConfig(stacks.ContextLookup(app), func(k string) string { return v.env[k] })
	if err != nil {
		return nil, err
	}
	if _, err := stacks.Build(app, cfg); err != nil {
		return nil, err
	}
	app.Synth(nil)
	s, err = readAssembly(outdir)
	if err != nil {
		return nil, err
	}
	s.cfg = cfg
	s.dir = outdir
	return s, nil
}

// readAssembly parses manifest.json, each stack's template and its metadata.
func readAssembly(dir string) (*synthesized, error) {
	var manifest struct {
		Missing []struct {
			Key string `json:"key"`
		} `json:"missing"`
		Artifacts map[string]struct {
			Type       string                     `json:"type"`
			Metadata   map[string][]metadataEntry `json:"metadata"`
			MetaFile   string                     `json:"additionalMetadataFile"`
			Properties struct {
				TemplateFile string `json:"templateFile"`
			} `json:"properties"`
		} `json:"artifacts"`
	}
	if err := readJSON(filepath.Join(dir, "manifest.json"), &manifest); err != nil {
		return nil, err
	}
	s := &synthesized{templates: map[string]map[string]interface{}{}, errors: map[string][]string{}}
	for _, m := range manifest.Missing {
		s.missing = append(s.missing, m.Key)
	}
	for name, a := range manifest.Artifacts {
		if a.Type != "aws:cloudformation:stack" {
			continue
		}
		var tpl map[string]interface{}
		if err := readJSON(filepath.Join(dir, a.Properties.TemplateFile), &tpl); err != nil {
			return nil, err
		}
		s.templates[name] = tpl
		meta := a.Metadata
		if a.MetaFile != "" {
			if err := readJSON(filepath.Join(dir, a.MetaFile), &meta); err != nil {
				return nil, err
			}
		}
		for path, entries := range meta {
			for _, e := range entries {
				if e.Type == "aws:cdk:error" {
					s.errors[name] = append(s.errors[name], path+": "+fmt.Sprint(e.Data))
				}
			}
		}
	}
	return s, nil
}

type metadataEntry struct {
	Type string      `json:"type"`
	Data interface{} `json:"data"`
}

func readJSON(path string, v interface{}) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

// template returns the stack's template for the assertions library.
func (s *synthesized) template(t *testing.T, stack string) assertions.Template {
	t.Helper()
	tpl, ok := s.templates[stack]
	if !ok {
		t.Fatalf("no stack %q in the assembly", stack)
	}
	var out assertions.Template
	check(t, "Template_FromJSON("+stack+")", func() {
		out = assertions.Template_FromJSON(&tpl, nil)
	})
	if out == nil {
		t.FailNow()
	}
	return out
}

// check runs one assertions call. A failed CDK assertion panics (it is a JavaScript
// exception surfacing through jsii); check turns it into a test error so one
// failure does not abort the binary.
func check(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, strings.TrimSpace(fmt.Sprint(r)))
		}
	}()
	f()
}

// resources returns the template's resources of one type, by logical id.
func (s *synthesized) resources(stack, typ string) map[string]map[string]interface{} {
	out := map[string]map[string]interface{}{}
	res, _ := s.templates[stack]["Resources"].(map[string]interface{})
	for id, r := range res {
		r := r.(map[string]interface{})
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

// flatten renders CloudFormation values as text, references as <Ref> or
// <Resource.Attr>, so scripts and ARNs built with Fn::Join can be searched.
func flatten(v interface{}) string {
	switch x := v.(type) {
	case string:
		return x
	case []interface{}:
		var b strings.Builder
		for _, e := range x {
			b.WriteString(flatten(e))
		}
		return b.String()
	case map[string]interface{}:
		if j, ok := x["Fn::Join"].([]interface{}); ok && len(j) == 2 {
			parts := j[1].([]interface{})
			out := make([]string, len(parts))
			for i, p := range parts {
				out[i] = flatten(p)
			}
			return strings.Join(out, j[0].(string))
		}
		if r, ok := x["Ref"]; ok {
			return "<" + fmt.Sprint(r) + ">"
		}
		if g, ok := x["Fn::GetAtt"].([]interface{}); ok {
			return "<" + fmt.Sprint(g[0]) + "." + fmt.Sprint(g[1]) + ">"
		}
		if b, ok := x["Fn::Base64"]; ok {
			return flatten(b)
		}
		data, _ := json.Marshal(x)
		return string(data)
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// obj and arr are shorthand for assertion patterns.
type obj = map[string]interface{}
type arr = []interface{}

func like(m obj) assertions.Matcher { return assertions.Match_ObjectLike(&m) }

func arrayWith(items ...interface{}) assertions.Matcher { return assertions.Match_ArrayWith(&items) }

func str(s string) *string { return jsii.String(s) }
