// Package stacks builds Easel's AWS deployment with the CDK: a two-AZ VPC, an Auto
// Scaling group of Graviton instances running the easel binary behind an ALB, an S3
// images bucket and a DynamoDB table, CloudFront with WAF in front, Route 53 records,
// and a dashboard with alarms. The app talks to Easel only through the EASEL_*
// environment variables it writes on each instance and the stack outputs.
package stacks

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Context keys. Each is also settable by the environment variable EnvName(key); a
// context value (-c key=value or cdk.json) wins over the environment variable.
const (
	KeyDomainName      = "domainName"
	KeyHostedZoneID    = "hostedZoneId"
	KeyHostedZoneName  = "hostedZoneName"
	KeyModels          = "models"
	KeyInstanceType    = "instanceType"
	KeyMinCapacity     = "minCapacity"
	KeyMaxCapacity     = "maxCapacity"
	KeySpot            = "spot"
	KeyNatGateways     = "natGateways"
	KeyBedrockEndpoint = "bedrockEndpoint"
	KeyVpcOrigin       = "vpcOrigin"
	KeyBinary          = "binary"
	KeyNotifyEmail     = "notifyEmail"
	// Access and compute options (docs/deploy.md, "Access and compute options").
	KeyPrivateImages        = "privateImages"
	KeySigningKeyGeneration = "signingKeyGeneration"
	KeyAuth                 = "auth"
	KeyCompute              = "compute"
	KeyDockerDir            = "dockerDir"
)

// Values of KeyAuth and KeyCompute.
const (
	AuthKeys       = "keys"    // API keys only (the default)
	AuthCognito    = "cognito" // a Cognito user pool signs people in (OIDC); API keys for programs
	ComputeEC2     = "ec2"     // an Auto Scaling group of Graviton instances (the default)
	ComputeFargate = "fargate" // an ARM64 Fargate service
)

// EnvName returns the environment variable that sets the context key, or "".
func EnvName(key string) string {
	switch key {
	case KeyBinary:
		return "EASEL_BINARY"
	case KeyDomainName, KeyHostedZoneID, KeyHostedZoneName, KeyModels, KeyInstanceType,
		KeyMinCapacity, KeyMaxCapacity, KeySpot, KeyNatGateways, KeyBedrockEndpoint, KeyVpcOrigin, KeyNotifyEmail,
		KeyPrivateImages, KeySigningKeyGeneration, KeyAuth, KeyCompute, KeyDockerDir:
		// domainName -> EASEL_CDK_DOMAIN_NAME, hostedZoneId -> EASEL_CDK_HOSTED_ZONE_ID
		var b strings.Builder
		b.WriteString("EASEL_CDK_")
		for i, r := range key {
			if r >= 'A' && r <= 'Z' && i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		}
		return strings.ToUpper(b.String())
	}
	return ""
}

// Defaults.
const (
	DefaultModels       = "stability.stable-image-core-v1:1,stability.sd3-5-large-v1:0"
	DefaultInstanceType = "t4g.small"
	DefaultMinCapacity  = 2
	DefaultMaxCapacity  = 4
	DefaultNatGateways  = 1
	// DefaultVpcOrigin: CloudFront reaches an internal ALB through a VPC origin, so the
	// API has no internet-facing address at all.
	DefaultVpcOrigin = true
	// PlaceholderAccount is used when CDK_DEFAULT_ACCOUNT is unset, so that synthesis
	// works offline. `cdk deploy` refuses it because it matches no real credentials.
	PlaceholderAccount = "123456789012"
	DefaultRegion      = "us-east-1"
	// DefaultDockerDir is the repository root as seen from infra/, where the CDK CLI
	// runs the app: its Dockerfile builds the Fargate image.
	DefaultDockerDir = ".."
	// MaxSigningKeyGeneration bounds KeySigningKeyGeneration.
	MaxSigningKeyGeneration = 1000
)

// Config is everything the stacks need. LoadConfig fills it from context and env.
type Config struct {
	Account string // AWS account of the app stack
	Region  string // region of the app stack; certificate and web ACL go to us-east-1

	DomainName     string // site host name, e.g. images.example.com; "" uses the CloudFront domain
	HostedZoneID   string // Route 53 public hosted zone holding DomainName
	HostedZoneName string // that zone's name, e.g. example.com

	Models          []string // Bedrock model or inference-profile ids; the first is Easel's default
	InstanceTypes   []string // Graviton instance types; the first is the on-demand type, all are Spot pools
	MinCapacity     int
	MaxCapacity     int
	Spot            bool // Spot instances above one on-demand instance
	NatGateways     int  // 1 (shared, cheaper) or 2 (one per AZ)
	BedrockEndpoint bool // reach bedrock-runtime through an interface endpoint instead of NAT
	// VpcOrigin (the default) puts the ALB in the private subnets, reached only through
	// a CloudFront VPC origin. Off, the ALB is internet-facing, which needs a domain:
	// CloudFront then reaches it over HTTPS, never plain HTTP.
	VpcOrigin bool

	// NotifyEmail, when set, subscribes this address to the job notification topic
	// (terminal job events from the EventBridge bus); SNS asks it to confirm.
	NotifyEmail string

	BinaryPath string // linux/arm64 easel binary shipped as the S3 asset

	// PrivateImages serves images only through CloudFront signed URLs: a key group
	// whose private key is generated at deploy time into Secrets Manager.
	PrivateImages bool
	// SigningKeyGeneration numbers the signing key; raising it by one rotates: a new
	// key signs, the previous one stays in the key group for URLs it signed.
	SigningKeyGeneration int
	Auth                 string // AuthKeys or AuthCognito
	Compute              string // ComputeEC2 or ComputeFargate
	// DockerDir holds the Dockerfile the Fargate image is built from (its context).
	DockerDir string
}

// Lookup returns a context value and whether it was set.
type Lookup func(key string) (string, bool)

// LoadConfig reads every key from ctx, then from the environment variable of the same
// key (see EnvName), then falls back to its default, and validates the result.
// getenv also supplies CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION.
func LoadConfig(ctx Lookup, getenv func(string) string) (Config, error) {
	get := func(key string) string {
		if v, ok := ctx(key); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return strings.TrimSpace(getenv(EnvName(key)))
	}
	cfg := Config{
		Account:        getenv("CDK_DEFAULT_ACCOUNT"),
		Region:         getenv("CDK_DEFAULT_REGION"),
		DomainName:     normalizeHost(get(KeyDomainName)),
		HostedZoneID:   get(KeyHostedZoneID),
		HostedZoneName: normalizeHost(get(KeyHostedZoneName)),
		Models:         splitList(orDefault(get(KeyModels), DefaultModels)),
		InstanceTypes:  splitList(orDefault(get(KeyInstanceType), DefaultInstanceType)),
		BinaryPath:     get(KeyBinary),
		NotifyEmail:    get(KeyNotifyEmail),
		Auth:           strings.ToLower(orDefault(get(KeyAuth), AuthKeys)),
		Compute:        strings.ToLower(orDefault(get(KeyCompute), ComputeEC2)),
		DockerDir:      orDefault(get(KeyDockerDir), DefaultDockerDir),
	}
	if cfg.Account == "" {
		cfg.Account = PlaceholderAccount
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	var err error
	if cfg.MinCapacity, err = intValue(KeyMinCapacity, get(KeyMinCapacity), DefaultMinCapacity); err != nil {
		return Config{}, err
	}
	if cfg.MaxCapacity, err = intValue(KeyMaxCapacity, get(KeyMaxCapacity), DefaultMaxCapacity); err != nil {
		return Config{}, err
	}
	if cfg.NatGateways, err = intValue(KeyNatGateways, get(KeyNatGateways), DefaultNatGateways); err != nil {
		return Config{}, err
	}
	if cfg.Spot, err = boolValue(KeySpot, get(KeySpot), false); err != nil {
		return Config{}, err
	}
	if cfg.BedrockEndpoint, err = boolValue(KeyBedrockEndpoint, get(KeyBedrockEndpoint), false); err != nil {
		return Config{}, err
	}
	if cfg.VpcOrigin, err = boolValue(KeyVpcOrigin, get(KeyVpcOrigin), DefaultVpcOrigin); err != nil {
		return Config{}, err
	}
	if cfg.PrivateImages, err = boolValue(KeyPrivateImages, get(KeyPrivateImages), false); err != nil {
		return Config{}, err
	}
	if cfg.SigningKeyGeneration, err = intValue(KeySigningKeyGeneration, get(KeySigningKeyGeneration), 1); err != nil {
		return Config{}, err
	}
	for i, m := range cfg.Models {
		cfg.Models[i] = strings.TrimPrefix(m, "bedrock:")
	}
	return cfg, cfg.Validate()
}

// Patterns the settings must match.
const (
	hostPattern     = `^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`
	modelPattern    = `^[a-z0-9][a-z0-9.\-]*(:[0-9a-z.\-]+)?$`
	gravitonPattern = `^[a-z]+[0-9]+[a-z]*g[a-z]*\.[a-z0-9]+$` // t4g, c7gn, m8g, r7gd, ...
	accountPattern  = `^[0-9]{12}$`
	regionPattern   = `^[a-z]{2}(-[a-z]+)+-[0-9]$`
	emailPattern    = `^[^@\s,;<>"]+@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`
)

func matches(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

// Validate reports the first invalid setting, naming its context key.
func (c Config) Validate() error {
	if !matches(accountPattern, c.Account) {
		return fmt.Errorf("account %q: want 12 digits", c.Account)
	}
	if !matches(regionPattern, c.Region) {
		return fmt.Errorf("region %q: want a region name such as us-west-2", c.Region)
	}
	if err := c.validateDomain(); err != nil {
		return err
	}
	if !c.VpcOrigin && !c.HasDomain() {
		return fmt.Errorf("%s=false needs %s, %s and %s: without a VPC origin the ALB is internet-facing, "+
			"and without a domain it has no certificate, so the origin secret, API keys and prompts would "+
			"cross the internet over plain HTTP; keep %s=true (the default) or give a domain (HTTPS to the ALB)",
			KeyVpcOrigin, KeyDomainName, KeyHostedZoneID, KeyHostedZoneName, KeyVpcOrigin)
	}
	if c.NotifyEmail != "" && !matches(emailPattern, strings.ToLower(c.NotifyEmail)) {
		return fmt.Errorf("%s: %q is not an email address such as ops@example.com", KeyNotifyEmail, c.NotifyEmail)
	}
	if c.Auth != AuthKeys && c.Auth != AuthCognito {
		return fmt.Errorf("%s: %q is not %q (API keys only, the default) or %q (a Cognito user pool signs people in)",
			KeyAuth, c.Auth, AuthKeys, AuthCognito)
	}
	if c.Compute != ComputeEC2 && c.Compute != ComputeFargate {
		return fmt.Errorf("%s: %q is not %q (Graviton instances, the default) or %q (an ARM64 Fargate service)",
			KeyCompute, c.Compute, ComputeEC2, ComputeFargate)
	}
	if c.SigningKeyGeneration < 1 || c.SigningKeyGeneration > MaxSigningKeyGeneration {
		return fmt.Errorf("%s=%d: want 1 to %d (raise it by one to rotate the signing key)",
			KeySigningKeyGeneration, c.SigningKeyGeneration, MaxSigningKeyGeneration)
	}
	if c.SigningKeyGeneration > 1 && !c.PrivateImages {
		return fmt.Errorf("%s=%d needs %s=true: only private images are signed",
			KeySigningKeyGeneration, c.SigningKeyGeneration, KeyPrivateImages)
	}
	if len(c.Models) == 0 {
		return fmt.Errorf("%s: give at least one Bedrock model id", KeyModels)
	}
	for _, m := range c.Models {
		if _, base := SplitProfile(m); !matches(modelPattern, m) || !strings.Contains(base, ".") {
			return fmt.Errorf("%s: %q is not a Bedrock model id such as stability.stable-image-core-v1:1 "+
				"(the instance role is granted exact model ids, so Easel's short aliases do not work here)", KeyModels, m)
		}
	}
	for _, t := range c.InstanceTypes {
		if !matches(gravitonPattern, t) {
			return fmt.Errorf("%s: %q is not a Graviton (arm64) instance type such as t4g.small", KeyInstanceType, t)
		}
	}
	if c.MinCapacity < 1 || c.MaxCapacity < c.MinCapacity || c.MaxCapacity > 100 {
		return fmt.Errorf("%s=%d, %s=%d: want 1 <= min <= max <= 100",
			KeyMinCapacity, c.MinCapacity, KeyMaxCapacity, c.MaxCapacity)
	}
	if c.NatGateways < 1 || c.NatGateways > 2 {
		return fmt.Errorf("%s=%d: want 1 (shared) or 2 (one per AZ); the instances need NAT for SSM, "+
			"CloudFormation signals and the Bedrock control plane", KeyNatGateways, c.NatGateways)
	}
	return nil
}

func (c Config) validateDomain() error {
	set := 0
	for _, v := range []string{c.DomainName, c.HostedZoneID, c.HostedZoneName} {
		if v != "" {
			set++
		}
	}
	if set == 0 {
		return nil
	}
	if set != 3 {
		return fmt.Errorf("%s, %s and %s go together: give all three or none",
			KeyDomainName, KeyHostedZoneID, KeyHostedZoneName)
	}
	if !matches(hostPattern, c.DomainName) {
		return fmt.Errorf("%s: %q is not a host name", KeyDomainName, c.DomainName)
	}
	if !matches(hostPattern, c.HostedZoneName) {
		return fmt.Errorf("%s: %q is not a zone name", KeyHostedZoneName, c.HostedZoneName)
	}
	if c.DomainName != c.HostedZoneName && !strings.HasSuffix(c.DomainName, "."+c.HostedZoneName) {
		return fmt.Errorf("%s %q is not inside hosted zone %q", KeyDomainName, c.DomainName, c.HostedZoneName)
	}
	if !strings.HasPrefix(c.HostedZoneID, "Z") {
		return fmt.Errorf("%s: %q is not a Route 53 zone id (Z...)", KeyHostedZoneID, c.HostedZoneID)
	}
	return nil
}

// HasDomain reports whether a custom domain is configured.
func (c Config) HasDomain() bool { return c.DomainName != "" }

// OriginDomain is the name CloudFront uses to reach the ALB over HTTPS when a
// domain is configured: the ALB's certificate is issued for it.
func (c Config) OriginDomain() string { return "origin." + c.DomainName }

// SeparateEdgeStack reports whether the certificate and web ACL need their own
// us-east-1 stack, because CloudFront only takes them from there.
func (c Config) SeparateEdgeStack() bool { return c.Region != "us-east-1" }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func normalizeHost(s string) string { return strings.TrimSuffix(strings.ToLower(s), ".") }

func intValue(key, v string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a whole number", key, v)
	}
	return n, nil
}

func boolValue(key, v string, def bool) (bool, error) {
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not true or false", key, v)
	}
	return b, nil
}
