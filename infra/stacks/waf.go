package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// WAF settings.
const (
	// RateLimitPer5Min is the most requests one IP may send in any 5 minutes.
	RateLimitPer5Min = 1000
	// sizeBodyLabel is set by the common rule set's SizeRestrictions_BODY rule (body over
	// 8 KB). That rule counts instead of blocking, and blockOversizedOutsideAPI blocks
	// the label everywhere except under /v1/, so API requests with large JSON bodies pass.
	sizeBodyLabel = "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"
)

// newWebACL builds the CloudFront-scoped web ACL; it must live in us-east-1.
func newWebACL(scope constructs.Construct) awswafv2.CfnWebACL {
	rules := []interface{}{
		blockRule("BlockInternalPaths", 0, uriStartsWith("/metrics")),
		managedRule("AWSManagedRulesAmazonIpReputationList", 1, nil),
		blockRule("RateLimitPerIP", 2, &awswafv2.CfnWebACL_StatementProperty{
			RateBasedStatement: &awswafv2.CfnWebACL_RateBasedStatementProperty{
				AggregateKeyType:    jsii.String("IP"),
				Limit:               jsii.Number(RateLimitPer5Min),
				EvaluationWindowSec: jsii.Number(300),
			},
		}),
		managedRule("AWSManagedRulesKnownBadInputsRuleSet", 3, nil),
		managedRule("AWSManagedRulesCommonRuleSet", 4, []string{"SizeRestrictions_BODY"}),
		blockRule("BlockOversizedBodyOutsideAPI", 5, &awswafv2.CfnWebACL_StatementProperty{
			AndStatement: &awswafv2.CfnWebACL_AndStatementProperty{
				Statements: []interface{}{
					&awswafv2.CfnWebACL_StatementProperty{
						LabelMatchStatement: &awswafv2.CfnWebACL_LabelMatchStatementProperty{
							Scope: jsii.String("LABEL"),
							Key:   jsii.String(sizeBodyLabel),
						},
					},
					&awswafv2.CfnWebACL_StatementProperty{
						NotStatement: &awswafv2.CfnWebACL_NotStatementProperty{Statement: uriStartsWith("/v1/")},
					},
				},
			},
		}),
	}
	return awswafv2.NewCfnWebACL(scope, jsii.String("WebAcl"), &awswafv2.CfnWebACLProps{
		Scope:            jsii.String("CLOUDFRONT"),
		Description:      jsii.String("Easel: AWS managed rules and a per-IP rate limit"),
		DefaultAction:    &awswafv2.CfnWebACL_DefaultActionProperty{Allow: &awswafv2.CfnWebACL_AllowActionProperty{}},
		VisibilityConfig: visibility("EaselWebAcl"),
		Rules:            rules,
	})
}

func visibility(name string) *awswafv2.CfnWebACL_VisibilityConfigProperty {
	return &awswafv2.CfnWebACL_VisibilityConfigProperty{
		CloudWatchMetricsEnabled: jsii.Bool(true),
		MetricName:               jsii.String(name),
		SampledRequestsEnabled:   jsii.Bool(true),
	}
}

func blockRule(name string, priority float64, st *awswafv2.CfnWebACL_StatementProperty) *awswafv2.CfnWebACL_RuleProperty {
	return &awswafv2.CfnWebACL_RuleProperty{
		Name:             jsii.String(name),
		Priority:         jsii.Number(priority),
		Statement:        st,
		Action:           &awswafv2.CfnWebACL_RuleActionProperty{Block: &awswafv2.CfnWebACL_BlockActionProperty{}},
		VisibilityConfig: visibility(name),
	}
}

// managedRule uses an AWS managed rule group; the rules named in count only count.
func managedRule(name string, priority float64, count []string) *awswafv2.CfnWebACL_RuleProperty {
	group := &awswafv2.CfnWebACL_ManagedRuleGroupStatementProperty{
		VendorName: jsii.String("AWS"),
		Name:       jsii.String(name),
	}
	if len(count) > 0 {
		var overrides []interface{}
		for _, r := range count {
			overrides = append(overrides, &awswafv2.CfnWebACL_RuleActionOverrideProperty{
				Name:        jsii.String(r),
				ActionToUse: &awswafv2.CfnWebACL_RuleActionProperty{Count: &awswafv2.CfnWebACL_CountActionProperty{}},
			})
		}
		group.RuleActionOverrides = overrides
	}
	return &awswafv2.CfnWebACL_RuleProperty{
		Name:             jsii.String(name),
		Priority:         jsii.Number(priority),
		Statement:        &awswafv2.CfnWebACL_StatementProperty{ManagedRuleGroupStatement: group},
		OverrideAction:   &awswafv2.CfnWebACL_OverrideActionProperty{None: map[string]interface{}{}},
		VisibilityConfig: visibility(name),
	}
}

func uriStartsWith(prefix string) *awswafv2.CfnWebACL_StatementProperty {
	return &awswafv2.CfnWebACL_StatementProperty{
		ByteMatchStatement: &awswafv2.CfnWebACL_ByteMatchStatementProperty{
			FieldToMatch:         &awswafv2.CfnWebACL_FieldToMatchProperty{UriPath: map[string]interface{}{}},
			PositionalConstraint: jsii.String("STARTS_WITH"),
			SearchString:         jsii.String(prefix),
			TextTransformations: []interface{}{
				&awswafv2.CfnWebACL_TextTransformationProperty{Priority: jsii.Number(0), Type: jsii.String("URL_DECODE")},
				&awswafv2.CfnWebACL_TextTransformationProperty{Priority: jsii.Number(1), Type: jsii.String("LOWERCASE")},
			},
		},
	}
}
