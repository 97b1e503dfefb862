package stacks

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// SplitProfile splits a model id into its inference-profile geography ("" for a plain
// foundation model) and the foundation-model id: a cross-region inference profile such
// as us.stability.stable-image-core-v1:1 routes to the model in several US regions.
func SplitProfile(id string) (geography, base string) {
	for _, g := range []string{"us", "us-gov", "eu", "apac", "jp", "au", "ca", "global"} {
		if strings.HasPrefix(id, g+".") {
			return g, strings.TrimPrefix(id, g+".")
		}
	}
	return "", id
}

// bedrockStatements returns the instance role's Bedrock permissions:
// bedrock:InvokeModel on exactly the configured models (foundation-model ARNs in this
// region; for an inference profile, the profile ARN plus the model in the regions the
// profile routes to, only when called through that profile) and
// bedrock:GetFoundationModel on the same foundation models for the start-up check.
func bedrockStatements(stack awscdk.Stack, models []string) []awsiam.PolicyStatement {
	partition, region, account := *stack.Partition(), *stack.Region(), *stack.Account()
	fm := func(region, id string) string {
		return "arn:" + partition + ":bedrock:" + region + "::foundation-model/" + id
	}
	var direct, check []string
	var out []awsiam.PolicyStatement
	for _, id := range models {
		geo, base := SplitProfile(id)
		check = appendNew(check, fm(region, base))
		if geo == "" {
			direct = appendNew(direct, fm(region, id))
			continue
		}
		profile := "arn:" + partition + ":bedrock:" + region + ":" + account + ":inference-profile/" + id
		direct = appendNew(direct, profile)
		routed := []*string{jsii.String(fm("*", base))}
		if geo == "global" {
			routed = append(routed, jsii.String(fm("", base)))
		}
		out = append(out, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("InvokeThroughProfile" + sidSuffix(id)),
			Actions:   jsii.Strings("bedrock:InvokeModel"),
			Resources: &routed,
			Conditions: &map[string]interface{}{
				"StringEquals": map[string]interface{}{"bedrock:InferenceProfileArn": profile},
			},
		}))
	}
	out = append([]awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("InvokeConfiguredModels"),
			Actions:   jsii.Strings("bedrock:InvokeModel"),
			Resources: jsii.Strings(direct...),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("CheckModelLifecycle"),
			Actions:   jsii.Strings("bedrock:GetFoundationModel"),
			Resources: jsii.Strings(check...),
		}),
	}, out...)
	return out
}

// usesProfiles reports whether any model id is an inference profile.
func usesProfiles(models []string) bool {
	for _, m := range models {
		if g, _ := SplitProfile(m); g != "" {
			return true
		}
	}
	return false
}

func appendNew(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}

// sidSuffix turns a model id into characters allowed in a statement id.
func sidSuffix(id string) string {
	var b strings.Builder
	for _, r := range id {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
