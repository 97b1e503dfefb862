package stacks_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/jsii-runtime-go"

	"github.com/easelhq/easel/infra/stacks"
)

// TestAwsSolutionsNag fails on any cdk-nag AwsSolutions error that is not
// suppressed, in every stack of every variant. Suppressions carry a reason (cdk-nag
// rejects one without).
func TestAwsSolutionsNag(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			s := synthesize(t, v.name)
			if len(s.templates) == 0 {
				t.Fatal("no stacks synthesized")
			}
			for stack, errs := range s.errors {
				sort.Strings(errs)
				for _, e := range errs {
					t.Errorf("%s: unsuppressed error %s", stack, firstLine(e))
				}
			}
		})
	}
}

// TestNagRan proves the pack ran: its suppressions are recorded in the template
// metadata with their reasons.
func TestNagRan(t *testing.T) {
	s := synthesize(t, "default")
	found := 0
	for _, r := range s.templates[stacks.MainStackName]["Resources"].(map[string]interface{}) {
		meta, _ := r.(map[string]interface{})["Metadata"].(map[string]interface{})
		nag, _ := meta["cdk_nag"].(map[string]interface{})
		rules, _ := nag["rules_to_suppress"].([]interface{})
		for _, rule := range rules {
			rule := rule.(map[string]interface{})
			found++
			if reason, _ := rule["reason"].(string); len(reason) < 20 {
				t.Errorf("suppression %v has reason %q, want a real explanation", rule["id"], reason)
			}
		}
	}
	if found == 0 {
		t.Error("no cdk-nag suppressions recorded: the AwsSolutions pack did not run")
	}
	// Easel's own pack ran on every variant's listener (its report lists it).
	for _, v := range variants() {
		s := synthesize(t, v.name)
		report, err := os.ReadFile(filepath.Join(s.dir, stacks.EaselNagPack+"--"+stacks.MainStackName+"-NagReport.csv"))
		if err != nil || !strings.Contains(string(report), `"`+stacks.EaselNagPack+"-"+stacks.RulePublicListenerTLS+`","`+
			stacks.MainStackName+`/Alb/`) {
			t.Errorf("%s: Easel's nag pack did not check the listener (%v): %s", v.name, err, report)
		}
	}
}

// TestNoMissingContext keeps synthesis credential-free: every lookup is cached in
// cdk.context.json for the test account and regions.
func TestNoMissingContext(t *testing.T) {
	for _, v := range variants() {
		s := synthesize(t, v.name)
		if len(s.missing) > 0 {
			t.Errorf("%s: context lookups missing from cdk.context.json: %v", v.name, s.missing)
		}
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// TestEaselNagRule proves Easel's own cdk-nag rule fires: an internet-facing ALB that
// listens for plain HTTP is an error (no Easel variant has one; TestAwsSolutionsNag
// fails on any unsuppressed error), an internal one is not.
func TestEaselNagRule(t *testing.T) {
	app := awscdk.NewApp(nil)
	env := &awscdk.Environment{Account: str("123456789012"), Region: str("us-east-1")}
	stack := awscdk.NewStack(app, str("NagProbe"), &awscdk.StackProps{Env: env})
	vpc := awsec2.NewVpc(stack, str("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(0)})
	for _, internetFacing := range []bool{true, false} {
		id := fmt.Sprintf("Public%v", internetFacing)
		alb := elbv2.NewApplicationLoadBalancer(stack, str(id), &elbv2.ApplicationLoadBalancerProps{
			Vpc: vpc, InternetFacing: jsii.Bool(internetFacing),
		})
		alb.AddListener(str("Http"), &elbv2.BaseApplicationListenerProps{
			Port: jsii.Number(80), Protocol: elbv2.ApplicationProtocol_HTTP, Open: jsii.Bool(false),
			DefaultAction: elbv2.ListenerAction_FixedResponse(jsii.Number(404), nil),
		})
	}
	awscdk.Aspects_Of(app).Add(stacks.NewEaselChecks(), nil)
	var errs []string
	check(t, "synthesize the probe", func() {
		found := assertions.Annotations_FromStack(stack).FindError(str("*"),
			assertions.Match_StringLikeRegexp(str(stacks.EaselNagPack+"-"+stacks.RulePublicListenerTLS)))
		for _, f := range *found {
			errs = append(errs, *f.Id)
		}
	})
	if len(errs) != 1 || !strings.Contains(errs[0], "Publictrue") {
		t.Errorf("Easel-%s findings at %v, want one, on the internet-facing ALB's HTTP listener",
			stacks.RulePublicListenerTLS, errs)
	}
}

// TestVariantsNagClean: every combination of compute × auth × private images (and a
// rotated signing key) synthesizes without an unsuppressed cdk-nag error, AwsSolutions
// or Easel's, in any stack, and without uncached lookups.
func TestVariantsNagClean(t *testing.T) {
	for _, v := range accessVariants() {
		t.Run(v.name, func(t *testing.T) {
			s := synthesize(t, v.name)
			if len(s.templates) == 0 {
				t.Fatal("no stacks synthesized")
			}
			for stack, errs := range s.errors {
				sort.Strings(errs)
				for _, e := range errs {
					t.Errorf("%s: unsuppressed error %s", stack, firstLine(e))
				}
			}
			if len(s.missing) > 0 {
				t.Errorf("context lookups missing from cdk.context.json: %v", s.missing)
			}
		})
	}
}
