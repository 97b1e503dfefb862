package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// EaselNagPack is the name of Easel's own cdk-nag rule pack; its findings are
// "Easel-<rule>" errors beside AwsSolutions', with the same suppression mechanism.
const EaselNagPack = "Easel"

// RulePublicListenerTLS is the rule that an internet-facing load balancer listens
// only for HTTPS: CloudFront reaches an ALB either through a VPC origin (internal
// ALB) or across the internet, and across the internet never over plain HTTP.
const RulePublicListenerTLS = "PublicListenerTLS"

// easelChecks is a cdk-nag rule pack (an aspect) with the rules AwsSolutions lacks.
type easelChecks struct {
	cdknag.NagPack
}

// NewEaselChecks returns Easel's rule pack (Build adds it to every app).
func NewEaselChecks() cdknag.NagPack {
	c := &easelChecks{}
	cdknag.NewNagPack_Override(c, &cdknag.NagPackProps{Verbose: jsii.Bool(true)})
	c.SetPackName(jsii.String(EaselNagPack))
	return c
}

// Visit applies the rules to every CloudFormation resource.
func (c *easelChecks) Visit(node constructs.IConstruct) {
	res, ok := node.(awscdk.CfnResource)
	if !ok {
		return
	}
	c.ApplyRule(&nagRule{
		node:   res,
		suffix: jsii.String(RulePublicListenerTLS),
		info:   jsii.String("An internet-facing load balancer listens for plain HTTP."),
		explanation: jsii.String("Whatever reaches an internet-facing load balancer crosses the internet; over HTTP the " +
			"origin secret, users' API keys and prompts travel unencrypted. Use an internal load balancer behind a " +
			"CloudFront VPC origin, or HTTPS."),
		level: cdknag.NagMessageLevel_ERROR,
		check: publicListenerTLS,
	})
}

// publicListenerTLS: a listener on a load balancer that is not internal uses HTTPS
// (or TLS). It reads only primitive properties: jsii cannot hand structured L1
// properties with tokens to Go.
func publicListenerTLS(node awscdk.CfnResource) cdknag.NagRuleCompliance {
	l, ok := node.(elbv2.CfnListener)
	if !ok {
		return cdknag.NagRuleCompliance_NOT_APPLICABLE
	}
	stack := awscdk.Stack_Of(node)
	lbID, _ := cdknag.NagRules_ResolveResourceFromIntrinsic(node, l.LoadBalancerArn()).(string)
	for _, c := range *stack.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		lb, ok := c.(elbv2.CfnLoadBalancer)
		if !ok || fmt.Sprint(stack.Resolve(stack.GetLogicalId(lb))) != lbID {
			continue
		}
		if lb.Scheme() != nil && *lb.Scheme() == "internal" {
			return cdknag.NagRuleCompliance_COMPLIANT
		}
		if p := l.Protocol(); p != nil && (*p == "HTTPS" || *p == "TLS") {
			return cdknag.NagRuleCompliance_COMPLIANT
		}
		return cdknag.NagRuleCompliance_NON_COMPLIANT
	}
	// A listener on a load balancer outside this stack: cannot tell.
	return cdknag.NagRuleCompliance_NOT_APPLICABLE
}

// nagRule implements cdk-nag's IApplyRule for one rule and one resource.
type nagRule struct {
	node              awscdk.CfnResource
	suffix            *string
	info, explanation *string
	level             cdknag.NagMessageLevel
	ignore            cdknag.INagSuppressionIgnore
	check             func(awscdk.CfnResource) cdknag.NagRuleCompliance
}

func (r *nagRule) Rule(node awscdk.CfnResource) interface{}                     { return r.check(node) }
func (r *nagRule) Explanation() *string                                         { return r.explanation }
func (r *nagRule) SetExplanation(e *string)                                     { r.explanation = e }
func (r *nagRule) IgnoreSuppressionCondition() cdknag.INagSuppressionIgnore     { return r.ignore }
func (r *nagRule) SetIgnoreSuppressionCondition(i cdknag.INagSuppressionIgnore) { r.ignore = i }
func (r *nagRule) Info() *string                                                { return r.info }
func (r *nagRule) SetInfo(i *string)                                            { r.info = i }
func (r *nagRule) Level() cdknag.NagMessageLevel                                { return r.level }
func (r *nagRule) SetLevel(l cdknag.NagMessageLevel)                            { r.level = l }
func (r *nagRule) Node() awscdk.CfnResource                                     { return r.node }
func (r *nagRule) SetNode(n awscdk.CfnResource)                                 { r.node = n }
func (r *nagRule) RuleSuffixOverride() *string                                  { return r.suffix }
func (r *nagRule) SetRuleSuffixOverride(s *string)                              { r.suffix = s }
