package stacks_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/easelhq/easel/infra/stacks"
)

// TestAccessPoint: the images bucket has one access point, reachable only from the
// VPC, public access blocked; the bucket policy delegates access control to the
// account's access points for exactly Easel's actions under images/; the application
// role reaches the images only through the access point (its IAM policy and the
// access point's policy name the access point, never the bucket), and Easel's
// --blob is the access point's alias.
func TestAccessPoint(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			s := synthesize(t, v.name)
			tpl := s.template(t, stacks.MainStackName)
			id, ap := one(t, s, stacks.MainStackName, "AWS::S3::AccessPoint")
			props := ap["Properties"].(map[string]interface{})
			if b := flatten(props["Bucket"]); !strings.HasPrefix(b, "<ImageBucket") {
				t.Errorf("access point bucket = %s, want the images bucket", b)
			}
			if n := flatten(props["Name"]); !strings.HasPrefix(n, stacks.AccessPointNamePrefix) || !strings.Contains(n, "AWS::StackId") {
				t.Errorf("access point name = %s, want %s and part of the stack id", n, stacks.AccessPointNamePrefix)
			}
			check(t, "VPC only, public access blocked", func() {
				tpl.HasResourceProperties(str("AWS::S3::AccessPoint"), obj{
					"VpcConfiguration": obj{"VpcId": obj{"Ref": assertions.Match_StringLikeRegexp(str("^Vpc"))}},
					"PublicAccessBlockConfiguration": obj{
						"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
					},
				})
			})

			// The access point's policy: the application roles, Easel's actions, images/ only.
			apObjects := func(r string) bool {
				return strings.Contains(r, ":accesspoint/"+stacks.AccessPointNamePrefix) && strings.HasSuffix(r, "/object/images/*")
			}
			apItself := func(r string) bool {
				return strings.Contains(r, ":accesspoint/"+stacks.AccessPointNamePrefix) && !strings.Contains(r, "/object/")
			}
			wantObj := stacks.ImageObjectActions()
			sort.Strings(wantObj)
			doc, _ := props["Policy"].(map[string]interface{})
			if doc == nil {
				t.Fatal("access point has no policy")
			}
			objects, listing := false, false
			for _, st := range doc["Statement"].([]interface{}) {
				st := st.(map[string]interface{})
				principal := flatten(st["Principal"])
				if !strings.Contains(principal, "InstanceRole") && !strings.Contains(principal, "TaskRole") || strings.Contains(principal, `"*"`) {
					t.Errorf("access point policy grants to %s, want the application roles only", principal)
				}
				res := list(st["Resource"])
				switch acts := strings.Join(list(st["Action"]), ","); {
				case acts == strings.Join(wantObj, ",") && len(res) == 1 && apObjects(res[0]):
					objects = true
				case acts == "s3:ListBucket" && len(res) == 1 && apItself(res[0]) &&
					strings.Contains(flatten(st["Condition"]), `"s3:prefix":["images/*"]`):
					listing = true
				default:
					t.Errorf("unexpected access point statement %s", flatten(st))
				}
			}
			if !objects || !listing {
				t.Errorf("access point policy: objects %v, listing %v; want both", objects, listing)
			}

			// The bucket policy's delegation.
			delegations := 0
			for _, p := range s.resources(stacks.MainStackName, "AWS::S3::BucketPolicy") {
				pp := p["Properties"].(map[string]interface{})
				if !strings.Contains(flatten(pp["Bucket"]), "ImageBucket") {
					continue
				}
				for _, st := range pp["PolicyDocument"].(map[string]interface{})["Statement"].([]interface{}) {
					st := st.(map[string]interface{})
					if st["Sid"] != "DelegateToAccessPoints" {
						continue
					}
					delegations++
					want := append(stacks.ImageObjectActions(), "s3:ListBucket")
					sort.Strings(want)
					if got := list(st["Action"]); strings.Join(got, ",") != strings.Join(want, ",") {
						t.Errorf("delegated actions = %v, want %v", got, want)
					}
					if c := flatten(st["Condition"]); c != `{"StringEquals":{"s3:DataAccessPointAccount":"`+s.cfg.Account+`"}}` {
						t.Errorf("delegation condition = %s, want this account's access points", c)
					}
					res := list(st["Resource"])
					if len(res) != 2 || !strings.HasSuffix(res[0], ".Arn>") || !strings.HasSuffix(res[1], ".Arn>/images/*") {
						t.Errorf("delegated resources = %v, want the bucket and images/*", res)
					}
				}
			}
			if delegations != 1 {
				t.Errorf("%d delegation statements in the images bucket policy, want 1", delegations)
			}

			// The instance role: S3 through the access point only.
			for _, st := range policyStatements(t, s) {
				for _, a := range list(st["Action"]) {
					if !strings.HasPrefix(a, "s3:") || st["Sid"] == "EaselBinaryAsset" {
						continue
					}
					for _, r := range list(st["Resource"]) {
						if !apObjects(r) && !apItself(r) {
							t.Errorf("instance role grants %s on %s, not through the access point", a, r)
						}
					}
				}
			}
			var script string
			for _, lt := range s.resources(stacks.MainStackName, "AWS::EC2::LaunchTemplate") {
				script = flatten(lt["Properties"].(map[string]interface{})["LaunchTemplateData"].(map[string]interface{})["UserData"])
			}
			if want := "\nEASEL_BLOB=s3://<" + id + ".Alias>?prefix=" + stacks.ImagePrefix + "\n"; !strings.Contains(script, want) {
				t.Errorf("user data lacks %q", want)
			}
			check(t, "alias output", func() {
				tpl.HasOutput(str("ImageAccessPointAlias"), obj{"Value": obj{"Fn::GetAtt": arr{id, "Alias"}}})
			})
		})
	}
}
