package stacks_test

import (
	"sort"
	"strings"
	"testing"

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
