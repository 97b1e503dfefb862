package stacks_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/easelhq/easel/dynamostore/tabledef"
	"github.com/easelhq/easel/infra/stacks"
)

func TestLaunchTemplate(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			s := synthesize(t, v.name)
			tpl := s.template(t, stacks.MainStackName)
			check(t, "IMDSv2 only, hop limit 1, encrypted EBS, no SSH key", func() {
				tpl.HasResourceProperties(str("AWS::EC2::LaunchTemplate"), obj{
					"LaunchTemplateData": like(obj{
						"InstanceType": "t4g.small",
						"MetadataOptions": like(obj{
							"HttpTokens": "required", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled",
						}),
						"BlockDeviceMappings": arrayWith(like(obj{
							"Ebs": like(obj{"Encrypted": true, "VolumeType": "gp3"}),
						})),
						"KeyName": assertions.Match_Absent(),
					}),
				})
			})
			// The AMI is Amazon Linux 2023 for arm64, looked up once and cached in
			// cdk.context.json (see TestSecondDeploy).
			key := "ssm:account=" + s.cfg.Account + ":parameterName=/aws/service/ami-amazon-linux-latest/" +
				"al2023-ami-kernel-6.1-arm64:region=" + s.cfg.Region
			cached := contextValue(t, key)
			check(t, "AMI from the cached Amazon Linux 2023 arm64 lookup", func() {
				tpl.HasResourceProperties(str("AWS::EC2::LaunchTemplate"), obj{
					"LaunchTemplateData": like(obj{"ImageId": cached}),
				})
			})
		})
	}
}

func TestAutoScalingGroup(t *testing.T) {
	tests := []struct {
		variant string
		max     string
		spot    bool
	}{
		{"default", "4", false},
		{"domain", "4", false},
		{"full", "6", true},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			s := synthesize(t, tt.variant)
			tpl := s.template(t, stacks.MainStackName)
			check(t, "capacity, ELB health checks, private subnets", func() {
				tpl.HasResourceProperties(str("AWS::AutoScaling::AutoScalingGroup"), obj{
					"MinSize":           "2",
					"MaxSize":           tt.max,
					"HealthCheckType":   "ELB",
					"TargetGroupARNs":   assertions.Match_AnyValue(),
					"VPCZoneIdentifier": assertions.Match_AnyValue(),
				})
			})
			check(t, "rolling updates gated on signals", func() {
				tpl.HasResource(str("AWS::AutoScaling::AutoScalingGroup"), obj{
					"UpdatePolicy": like(obj{"AutoScalingRollingUpdate": like(obj{
						"MaxBatchSize": 1, "WaitOnResourceSignals": true,
					})}),
					"CreationPolicy": like(obj{"ResourceSignal": like(obj{"Count": 2})}),
				})
			})
			check(t, "target tracking", func() {
				tpl.HasResourceProperties(str("AWS::AutoScaling::ScalingPolicy"), obj{
					"PolicyType":                  "TargetTrackingScaling",
					"TargetTrackingConfiguration": like(obj{"TargetValue": 50}),
				})
			})
			for id, g := range s.resources(stacks.MainStackName, "AWS::AutoScaling::AutoScalingGroup") {
				subnets := flatten(g["Properties"].(map[string]interface{})["VPCZoneIdentifier"])
				if !strings.Contains(subnets, "PrivateSubnet") || strings.Contains(subnets, "PublicSubnet") {
					t.Errorf("%s: subnets %s, want the private ones", id, subnets)
				}
			}
			if tt.spot {
				check(t, "Spot above one on-demand instance", func() {
					tpl.HasResourceProperties(str("AWS::AutoScaling::AutoScalingGroup"), obj{
						"MixedInstancesPolicy": like(obj{
							"InstancesDistribution": like(obj{
								"OnDemandBaseCapacity":                1,
								"OnDemandPercentageAboveBaseCapacity": 0,
								"SpotAllocationStrategy":              "price-capacity-optimized",
							}),
							"LaunchTemplate": like(obj{"Overrides": assertions.Match_ArrayEquals(&[]interface{}{
								obj{"InstanceType": "t4g.small"}, obj{"InstanceType": "c7g.medium"}, obj{"InstanceType": "m7g.medium"},
							})}),
						}),
					})
				})
			} else {
				check(t, "on-demand only", func() {
					tpl.HasResourceProperties(str("AWS::AutoScaling::AutoScalingGroup"), obj{
						"MixedInstancesPolicy": assertions.Match_Absent(),
						"LaunchTemplate":       assertions.Match_AnyValue(),
					})
				})
			}
		})
	}
}

func TestUserData(t *testing.T) {
	tests := []struct {
		variant string
		want    []string
	}{
		{"default", []string{
			"EASEL_MODELS=bedrock:stability.stable-image-core-v1:1,bedrock:stability.sd3-5-large-v1:0\n",
			"EASEL_PUBLIC_URL=https://<Distribution830FAC52.DomainName>/images/\n",
			"AWS_REGION=us-east-1\n",
		}},
		{"domain", []string{
			"EASEL_PUBLIC_URL=https://images.example.com/images/\n",
			"AWS_REGION=us-east-1\n",
		}},
		{"full", []string{
			"EASEL_MODELS=bedrock:us.stability.stable-image-core-v1:1,bedrock:stability.sd3-5-large-v1:0\n",
			"EASEL_PUBLIC_URL=https://images.example.com/images/\n",
			"AWS_REGION=us-west-2\n",
		}},
	}
	common := []string{
		"EASEL_ADDR=0.0.0.0:8080\n",
		"EASEL_ENV=production\n",
		"EASEL_DATA=/var/lib/easel\n",
		"WorkingDirectory=/var/lib/easel\n",
		"EASEL_CATALOG=dynamodb://<CatalogTable",
		"EASEL_BLOB=s3://<ImageAccessPoint.Alias>",
		"?prefix=images/\n",
		fmt.Sprintf("EASEL_DRAIN_TIMEOUT=%ds\n", int(stacks.DrainTimeout.Seconds())),
		"EASEL_CHECK_MODELS=true\n",
		"EASEL_LOG_FORMAT=json\n",
		"EASEL_ORIGIN_SECRET=",
		"aws secretsmanager get-secret-value",
		"install -m 0755 -o root -g root /tmp/easel /usr/local/bin/easel",
		"useradd --system",
		"User=easel\n",
		"EnvironmentFile=/etc/easel/easel.env\n",
		"ExecStart=/usr/local/bin/easel serve\n",
		"Restart=always\n",
		"KillSignal=SIGTERM\n",
		fmt.Sprintf("TimeoutStopSec=%d\n", int(stacks.StopTimeout.Seconds())),
		"systemctl enable --now easel",
		"/opt/aws/bin/cfn-signal",
		"http://127.0.0.1:8080/readyz",
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			s := synthesize(t, tt.variant)
			var script string
			for _, lt := range s.resources(stacks.MainStackName, "AWS::EC2::LaunchTemplate") {
				data := lt["Properties"].(map[string]interface{})["LaunchTemplateData"].(map[string]interface{})
				script = flatten(data["UserData"])
			}
			if !strings.HasPrefix(script, "#!/bin/bash") {
				t.Fatalf("user data = %.200q, want a bash script", script)
			}
			for _, w := range append(common, tt.want...) {
				if !strings.Contains(script, w) {
					t.Errorf("user data lacks %q", w)
				}
			}
			if stacks.StopTimeout <= stacks.DrainTimeout {
				t.Errorf("TimeoutStopSec %v <= drain timeout %v", stacks.StopTimeout, stacks.DrainTimeout)
			}
		})
	}
}

// policyStatements returns the instance role's inline statements.
func policyStatements(t *testing.T, s *synthesized) []map[string]interface{} {
	t.Helper()
	var out []map[string]interface{}
	for _, p := range s.resources(stacks.MainStackName, "AWS::IAM::Policy") {
		props := p["Properties"].(map[string]interface{})
		if !strings.Contains(flatten(props["Roles"]), "InstanceRole") {
			continue
		}
		for _, st := range props["PolicyDocument"].(map[string]interface{})["Statement"].([]interface{}) {
			out = append(out, st.(map[string]interface{}))
		}
	}
	if len(out) == 0 {
		t.Fatal("no inline policy on the instance role")
	}
	return out
}

func list(v interface{}) []string {
	if a, ok := v.([]interface{}); ok {
		out := make([]string, len(a))
		for i, e := range a {
			out[i] = flatten(e)
		}
		sort.Strings(out)
		return out
	}
	return []string{flatten(v)}
}

// statementFor finds the statement granting action (exactly that action list
// member) and returns its resources and condition.
func statementsWith(sts []map[string]interface{}, action string) []map[string]interface{} {
	var out []map[string]interface{}
	for _, st := range sts {
		for _, a := range list(st["Action"]) {
			if a == action {
				out = append(out, st)
			}
		}
	}
	return out
}

func TestInstanceRole(t *testing.T) {
	type grant struct {
		action    string
		resources []string
	}
	fm := func(region, id string) string {
		return "arn:<AWS::Partition>:bedrock:" + region + "::foundation-model/" + id
	}
	tests := []struct {
		variant string
		grants  []grant
	}{
		{"default", []grant{
			{"bedrock:InvokeModel", []string{fm("us-east-1", "stability.sd3-5-large-v1:0"), fm("us-east-1", "stability.stable-image-core-v1:1")}},
			{"bedrock:GetFoundationModel", []string{fm("us-east-1", "stability.sd3-5-large-v1:0"), fm("us-east-1", "stability.stable-image-core-v1:1")}},
		}},
		{"full", []grant{
			{"bedrock:InvokeModel", []string{
				"arn:<AWS::Partition>:bedrock:us-west-2:123456789012:inference-profile/us.stability.stable-image-core-v1:1",
				fm("us-west-2", "stability.sd3-5-large-v1:0"),
			}},
			{"bedrock:InvokeModel", []string{fm("*", "stability.stable-image-core-v1:1")}},
			{"bedrock:GetFoundationModel", []string{fm("us-west-2", "stability.sd3-5-large-v1:0"), fm("us-west-2", "stability.stable-image-core-v1:1")}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			s := synthesize(t, tt.variant)
			sts := policyStatements(t, s)
			for _, g := range tt.grants {
				sort.Strings(g.resources)
				found := false
				for _, st := range statementsWith(sts, g.action) {
					if strings.Join(list(st["Resource"]), " ") == strings.Join(g.resources, " ") {
						found = true
					}
				}
				if !found {
					t.Errorf("no statement grants %s on exactly %v", g.action, g.resources)
				}
			}
			for _, st := range statementsWith(sts, "bedrock:InvokeModel") {
				res := list(st["Resource"])
				if strings.Contains(strings.Join(res, " "), ":bedrock:*:") &&
					!strings.Contains(flatten(st["Condition"]), "bedrock:InferenceProfileArn") {
					t.Errorf("cross-region model grant %v is not limited to the inference profile", res)
				}
			}

			ddb := statementsWith(sts, "dynamodb:GetItem")
			if len(ddb) != 1 {
				t.Fatalf("%d statements grant dynamodb:GetItem, want 1", len(ddb))
			}
			want := stacks.CatalogActions()
			sort.Strings(want)
			if got := list(ddb[0]["Action"]); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("DynamoDB actions = %v, want %v", got, want)
			}
			res := list(ddb[0]["Resource"])
			wantRes := []string{"<CatalogTable"}
			for _, ix := range tabledef.Definition().Indexes {
				wantRes = append(wantRes, "/index/"+ix.Name)
			}
			if len(res) != len(wantRes) {
				t.Errorf("DynamoDB resources = %v, want the table and %d indexes", res, len(wantRes)-1)
			}
			for _, w := range wantRes {
				if !strings.Contains(strings.Join(res, " "), w) {
					t.Errorf("DynamoDB resources %v lack %q", res, w)
				}
			}

			put := statementsWith(sts, "s3:PutObject")
			if len(put) != 1 || !strings.Contains(list(put[0]["Resource"])[0], ":accesspoint/"+stacks.AccessPointNamePrefix) ||
				!strings.HasSuffix(list(put[0]["Resource"])[0], "/object/images/*") {
				t.Errorf("s3:PutObject statements = %v, want one on the images/ prefix through the access point", put)
			}
			lst := statementsWith(sts, "s3:ListBucket")
			if len(lst) != 1 || !strings.Contains(flatten(lst[0]["Condition"]), `"images/*"`) {
				t.Errorf("s3:ListBucket statements = %v, want one limited to images/*", lst)
			}
			for _, st := range sts {
				for _, r := range list(st["Resource"]) {
					if strings.Contains(r, "ImageBucket") {
						t.Errorf("statement %v grants on the images bucket itself, not through the access point", st["Action"])
					}
					if r == "*" {
						t.Errorf("statement %v grants on every resource", st["Action"])
					}
				}
				for _, a := range list(st["Action"]) {
					if a == "dynamodb:Scan" || strings.HasSuffix(a, ":*") {
						t.Errorf("statement grants %s", a)
					}
				}
			}
			if len(statementsWith(sts, "secretsmanager:GetSecretValue")) != 1 {
				t.Error("the instances cannot read the origin secret")
			}
			check(t, "SSM Session Manager", func() {
				synthesize(t, tt.variant).template(t, stacks.MainStackName).HasResourceProperties(str("AWS::IAM::Role"), obj{
					"ManagedPolicyArns": arrayWith(like(obj{"Fn::Join": arrayWith(arrayWith(
						assertions.Match_StringLikeRegexp(str("AmazonSSMManagedInstanceCore"))))})),
				})
			})
		})
	}
}
