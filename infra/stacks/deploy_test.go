package stacks_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/easelhq/easel/infra/stacks"
)

// Tests of what makes a deploy work the first time and the times after (issue 12),
// each in every variant: with and without a domain, VPC origin on and off.

// contextValue reads a cached lookup from cdk.context.json.
func contextValue(t *testing.T, key string) string {
	t.Helper()
	data, err := os.ReadFile("../cdk.context.json")
	if err != nil {
		t.Fatal(err)
	}
	var ctx map[string]interface{}
	if err := json.Unmarshal(data, &ctx); err != nil {
		t.Fatal(err)
	}
	v, ok := ctx[key].(string)
	if !ok {
		t.Fatalf("cdk.context.json has no string %q", key)
	}
	return v
}

// dependsOn returns a resource's DependsOn as a set.
func dependsOn(r map[string]interface{}) map[string]bool {
	out := map[string]bool{}
	switch d := r["DependsOn"].(type) {
	case string:
		out[d] = true
	case []interface{}:
		for _, x := range d {
			out[fmt.Sprint(x)] = true
		}
	}
	return out
}

// one returns the only resource of a type, with its logical id.
func one(t *testing.T, s *synthesized, stack, typ string) (string, map[string]interface{}) {
	t.Helper()
	res := s.resources(stack, typ)
	if len(res) != 1 {
		t.Fatalf("%d resources of type %s in %s, want 1", len(res), typ, stack)
	}
	for id, r := range res {
		return id, r
	}
	return "", nil
}

func props(r map[string]interface{}) map[string]interface{} {
	p, _ := r["Properties"].(map[string]interface{})
	return p
}

// TestRetention (item 3): the buckets and the table survive stack deletion and
// replacement but not the rollback of the deploy that created them, and the
// first-deploy cleanup makes that rollback possible despite deletion protection and
// logs already in the log bucket.
func TestRetention(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			s := synthesize(t, v.name)
			const main = stacks.MainStackName
			kept := map[string]string{} // logical id -> type
			for _, typ := range []string{"AWS::S3::Bucket", "AWS::DynamoDB::Table"} {
				for id, r := range s.resources(main, typ) {
					kept[id] = typ
					if r["DeletionPolicy"] != "RetainExceptOnCreate" || r["UpdateReplacePolicy"] != "Retain" {
						t.Errorf("%s: DeletionPolicy %v, UpdateReplacePolicy %v; want RetainExceptOnCreate, Retain",
							id, r["DeletionPolicy"], r["UpdateReplacePolicy"])
					}
				}
			}
			if len(kept) != 3 {
				t.Fatalf("kept resources %v, want two buckets and the table", kept)
			}
			tableID, table := one(t, s, main, "AWS::DynamoDB::Table")
			if props(table)["DeletionProtectionEnabled"] != true {
				t.Error("the catalog table lost its deletion protection")
			}
			for stack := range s.templates {
				for id, r := range s.templates[stack]["Resources"].(map[string]interface{}) {
					if r.(map[string]interface{})["DeletionPolicy"] == "Retain" {
						t.Errorf("%s/%s is Retain: a failed first deploy would leave it behind", stack, id)
					}
				}
			}
			if s.cfg.HasDomain() {
				stack := main
				if s.cfg.SeparateEdgeStack() {
					stack = stacks.EdgeStackName
				}
				for id, c := range s.resources(stack, "AWS::CertificateManager::Certificate") {
					if strings.HasPrefix(id, "SiteCertificate") &&
						(c["DeletionPolicy"] != "RetainExceptOnCreate" || c["UpdateReplacePolicy"] != "Retain") {
						t.Errorf("viewer certificate %s: %v/%v, want RetainExceptOnCreate/Retain (CloudFront may still use it)",
							id, c["DeletionPolicy"], c["UpdateReplacePolicy"])
					}
				}
			}

			// The cleanup resource names exactly the kept resources.
			crID, cr := one(t, s, main, stacks.CleanupResourceType)
			p := props(cr)
			if got := flatten(p["TableName"]); got != "<"+tableID+">" {
				t.Errorf("cleanup TableName = %s, want <%s>", got, tableID)
			}
			var buckets []string
			for _, b := range p["Buckets"].([]interface{}) {
				buckets = append(buckets, flatten(b))
			}
			var wantBuckets []string
			for id, typ := range kept {
				if typ == "AWS::S3::Bucket" {
					wantBuckets = append(wantBuckets, "<"+id+">")
				}
			}
			sort.Strings(buckets)
			sort.Strings(wantBuckets)
			if strings.Join(buckets, " ") != strings.Join(wantBuckets, " ") {
				t.Errorf("cleanup Buckets = %v, want %v", buckets, wantBuckets)
			}
			// Its function runs the embedded handler, inline (at most 4,096 bytes).
			_, fn := one(t, s, main, "AWS::Lambda::Function")
			code := props(fn)["Code"].(map[string]interface{})["ZipFile"]
			if code != stacks.CleanupHandler || len(stacks.CleanupHandler) > 4096 {
				t.Errorf("cleanup function code differs from cleanup/index.js or is over 4,096 bytes (%d)", len(stacks.CleanupHandler))
			}
			if !strings.Contains(flatten(cr["Properties"].(map[string]interface{})["ServiceToken"]), "FirstDeployCleanupFunction") {
				t.Errorf("cleanup resource is not served by the cleanup function: %v", p["ServiceToken"])
			}
			// Its permissions: exactly what the handler calls, on the stack's own resources.
			var grants []string
			for _, pol := range s.resources(main, "AWS::IAM::Policy") {
				if !strings.Contains(flatten(props(pol)["Roles"]), "FirstDeployCleanupRole") {
					continue
				}
				for _, st := range props(pol)["PolicyDocument"].(map[string]interface{})["Statement"].([]interface{}) {
					st := st.(map[string]interface{})
					grants = append(grants, strings.Join(list(st["Action"]), ",")+" on "+strings.Join(list(st["Resource"]), ","))
				}
			}
			sort.Strings(grants)
			wantGrants := []string{
				"cloudformation:DescribeStacks on <AWS::StackId>",
				"dynamodb:DescribeTable,dynamodb:UpdateTable on <" + tableID + ".Arn>",
				"logs:CreateLogStream,logs:PutLogEvents on <FirstDeployCleanupLogs",
				"s3:DeleteBucket,s3:ListBucket,s3:ListBucketVersions on <ImageBucket",
				"s3:DeleteObject,s3:DeleteObjectVersion on <ImageBucket",
			}
			if len(grants) != len(wantGrants) {
				t.Errorf("cleanup grants %v, want %d statements", grants, len(wantGrants))
			}
			for i := range wantGrants {
				if i < len(grants) && !strings.HasPrefix(grants[i], wantGrants[i]) {
					t.Errorf("cleanup grant %q, want %q...", grants[i], wantGrants[i])
				}
			}
			// Rollback order: what writes logs or images is deleted before the cleanup
			// runs; the cleanup runs before its own permissions go.
			for _, typ := range []string{"AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::CloudFront::Distribution",
				"AWS::AutoScaling::AutoScalingGroup", "AWS::EC2::FlowLog"} {
				id, r := one(t, s, main, typ)
				if !dependsOn(r)[crID] {
					t.Errorf("%s (%s) does not depend on %s: it could still write while the cleanup empties the buckets", id, typ, crID)
				}
			}
			for id, pol := range s.resources(main, "AWS::IAM::Policy") {
				if strings.Contains(flatten(props(pol)["Roles"]), "FirstDeployCleanupRole") && !dependsOn(cr)[id] {
					t.Errorf("%s does not depend on %s: the rollback could remove its permissions first", crID, id)
				}
			}
		})
	}
}

// TestNoPlainHTTPOrigin (item 4): nothing reaches the API over plain HTTP across the
// internet: each CloudFront origin is the bucket (origin access control), a VPC origin
// on an internal ALB, or HTTPS with TLS 1.2; an internet-facing ALB exists only with a
// domain, and listens only for HTTPS.
func TestNoPlainHTTPOrigin(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			s := synthesize(t, v.name)
			const main = stacks.MainStackName
			albs := s.resources(main, "AWS::ElasticLoadBalancingV2::LoadBalancer")
			public := map[string]bool{}
			for id, lb := range albs {
				public[id] = props(lb)["Scheme"] != "internal"
			}
			_, dist := one(t, s, main, "AWS::CloudFront::Distribution")
			origins := props(dist)["DistributionConfig"].(map[string]interface{})["Origins"].([]interface{})
			vpcOrigins := 0
			for _, o := range origins {
				o := o.(map[string]interface{})
				switch {
				case o["S3OriginConfig"] != nil:
					if o["OriginAccessControlId"] == nil {
						t.Errorf("bucket origin without origin access control: %v", o)
					}
				case o["VpcOriginConfig"] != nil:
					vpcOrigins++
				case o["CustomOriginConfig"] != nil:
					c := o["CustomOriginConfig"].(map[string]interface{})
					if c["OriginProtocolPolicy"] != "https-only" || flatten(c["OriginSSLProtocols"]) != "TLSv1.2" {
						t.Errorf("custom origin %v: protocol %v %v, want https-only with TLSv1.2", o["DomainName"],
							c["OriginProtocolPolicy"], c["OriginSSLProtocols"])
					}
				default:
					t.Errorf("origin of unknown kind: %v", o)
				}
			}
			for id, vo := range s.resources(main, "AWS::CloudFront::VpcOrigin") {
				cfg := props(vo)["VpcOriginEndpointConfig"].(map[string]interface{})
				target := strings.Trim(flatten(cfg["Arn"]), "<>")
				if _, ok := albs[target]; !ok || public[target] {
					t.Errorf("VPC origin %s targets %s, want the internal ALB", id, target)
				}
				if s.cfg.HasDomain() && cfg["OriginProtocolPolicy"] != "https-only" {
					t.Errorf("VPC origin %s speaks %v though the ALB has a certificate", id, cfg["OriginProtocolPolicy"])
				}
			}
			if s.cfg.VpcOrigin != (vpcOrigins == 1) {
				t.Errorf("vpcOrigin=%v but %d VPC origins", s.cfg.VpcOrigin, vpcOrigins)
			}
			for id, l := range s.resources(main, "AWS::ElasticLoadBalancingV2::Listener") {
				lb := strings.Trim(flatten(props(l)["LoadBalancerArn"]), "<>")
				if public[lb] && props(l)["Protocol"] != "HTTPS" {
					t.Errorf("listener %s on the internet-facing ALB speaks %v", id, props(l)["Protocol"])
				}
			}
			for id, p := range public {
				if p && !s.cfg.HasDomain() {
					t.Errorf("internet-facing ALB %s without a domain (no certificate): plain HTTP", id)
				}
				if p == s.cfg.VpcOrigin {
					t.Errorf("ALB %s internet-facing=%v with vpcOrigin=%v", id, p, s.cfg.VpcOrigin)
				}
			}
		})
	}
}

// TestSecondDeploy (item 5): what a second deploy must not trip over.
func TestSecondDeploy(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			s := synthesize(t, v.name)
			const main = stacks.MainStackName
			tpl := s.templates[main]

			// The AMI is a cached lookup, not a parameter resolved on every deploy.
			_, lt := one(t, s, main, "AWS::EC2::LaunchTemplate")
			ami := props(lt)["LaunchTemplateData"].(map[string]interface{})["ImageId"]
			if a, ok := ami.(string); !ok || !regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`).MatchString(a) {
				t.Errorf("launch template ImageId = %v, want a literal AMI id from cdk.context.json", ami)
			}
			if params, _ := tpl["Parameters"].(map[string]interface{}); params != nil {
				for name, p := range params {
					if strings.Contains(flatten(p.(map[string]interface{})["Default"]), "ami-amazon-linux") {
						t.Errorf("parameter %s resolves the AMI on every deploy", name)
					}
				}
			}

			// No instance boots before its egress exists.
			_, asg := one(t, s, main, "AWS::AutoScaling::AutoScalingGroup")
			deps := dependsOn(asg)
			natRoutes := 0
			for id, r := range s.resources(main, "AWS::EC2::Route") {
				p := props(r)
				if strings.Contains(id, "PrivateSubnet") && p["DestinationCidrBlock"] == "0.0.0.0/0" && p["NatGatewayId"] != nil {
					natRoutes++
					if !deps[id] {
						t.Errorf("the Auto Scaling group does not depend on the NAT route %s", id)
					}
				}
			}
			if natRoutes != 2 {
				t.Errorf("%d NAT routes in the private subnets, want 2", natRoutes)
			}
			for id, ep := range s.resources(main, "AWS::EC2::VPCEndpoint") {
				if !deps[id] {
					t.Errorf("the Auto Scaling group does not depend on the %s endpoint %s",
						flatten(props(ep)["ServiceName"]), id)
				}
			}

			// The us-east-1 edge stack is read through weak references only.
			for stack, tp := range s.templates {
				for id, r := range tp["Resources"].(map[string]interface{}) {
					typ := fmt.Sprint(r.(map[string]interface{})["Type"])
					if strings.Contains(typ, "CrossRegion") || strings.Contains(typ, "Export") ||
						typ == "AWS::SSM::Parameter" && strings.Contains(flatten(r), "/cdk/exports/") {
						t.Errorf("%s/%s (%s): a strong cross-stack reference would wedge domain changes", stack, id, typ)
					}
				}
				if _, ok := tp["Outputs"]; ok {
					for name, o := range tp["Outputs"].(map[string]interface{}) {
						if o.(map[string]interface{})["Export"] != nil {
							t.Errorf("%s output %s is exported (Fn::ImportValue pins it)", stack, name)
						}
					}
				}
			}
			text, _ := json.Marshal(tpl)
			refs := regexp.MustCompile(`"Fn::GetStackOutput":\{"OutputName":"([^"]+)","Region":"us-east-1","StackName":"`+
				stacks.EdgeStackName+`"\}`).FindAllStringSubmatch(string(text), -1)
			if !s.cfg.SeparateEdgeStack() {
				if len(refs) > 0 {
					t.Errorf("one-stack variant reads another stack: %v", refs)
				}
				return
			}
			want := 1 // the web ACL
			if s.cfg.HasDomain() {
				want++ // the viewer certificate
			}
			if len(refs) != want {
				t.Errorf("%d Fn::GetStackOutput references to %s, want %d", len(refs), stacks.EdgeStackName, want)
			}
			edgeOutputs, _ := s.templates[stacks.EdgeStackName]["Outputs"].(map[string]interface{})
			for _, r := range refs {
				if edgeOutputs[r[1]] == nil {
					t.Errorf("%s has no output %s", stacks.EdgeStackName, r[1])
				}
			}
			_, d := one(t, s, main, "AWS::CloudFront::Distribution")
			cfg := props(d)["DistributionConfig"].(map[string]interface{})
			for _, f := range []interface{}{cfg["WebACLId"], cfg["ViewerCertificate"]} {
				if f != nil && !strings.Contains(flatten(f), "Fn::GetStackOutput") && s.cfg.HasDomain() {
					t.Errorf("distribution field %v does not read the edge stack's output", f)
				}
			}
		})
	}
}

// TestStartupModelCheck (item 6): the instances check their models at start-up and
// may ask the control plane about exactly the configured foundation models.
func TestStartupModelCheck(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			s := synthesize(t, v.name)
			if script := userData(t, s); !strings.Contains(script, "\nEASEL_CHECK_MODELS=true\n") {
				t.Error("user data does not turn on the start-up model check")
			}
			var want []string
			for _, m := range s.cfg.Models {
				_, base := stacks.SplitProfile(m)
				want = append(want, "arn:<AWS::Partition>:bedrock:"+s.cfg.Region+"::foundation-model/"+base)
			}
			sort.Strings(want)
			sts := statementsWith(policyStatements(t, s), "bedrock:GetFoundationModel")
			if len(sts) != 1 || strings.Join(list(sts[0]["Resource"]), " ") != strings.Join(want, " ") {
				t.Errorf("GetFoundationModel statements %v, want one on exactly %v", sts, want)
			}
		})
	}
}

// TestDrainTimeouts: a scale-in or a rolling update waits for a generation in flight
// (the generation timeout plus a margin, at the ALB and in Easel), and systemd waits
// for Easel's drain delay and drain before it kills it.
func TestDrainTimeouts(t *testing.T) {
	gen := time.Duration(stacks.GenerateTimeoutSeconds) * time.Second
	if stacks.DrainTimeout < gen+stacks.DrainMargin || stacks.DrainMargin < 5*time.Second {
		t.Errorf("drain timeout %v, want at least the generation timeout %v plus a margin", stacks.DrainTimeout, gen)
	}
	if stacks.StopTimeout <= stacks.DrainDelay+stacks.DrainTimeout {
		t.Errorf("TimeoutStopSec %v <= drain delay %v + drain timeout %v", stacks.StopTimeout, stacks.DrainDelay, stacks.DrainTimeout)
	}
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			s := synthesize(t, v.name)
			script := userData(t, s)
			for _, w := range []string{
				fmt.Sprintf("\nEASEL_DRAIN_TIMEOUT=%ds\n", int(stacks.DrainTimeout.Seconds())),
				fmt.Sprintf("\nEASEL_DRAIN_DELAY=%ds\n", int(stacks.DrainDelay.Seconds())),
				fmt.Sprintf("\nEASEL_GENERATE_TIMEOUT=%ds\n", int(gen.Seconds())),
				fmt.Sprintf("\nTimeoutStopSec=%d\n", int(stacks.StopTimeout.Seconds())),
			} {
				if !strings.Contains(script, w) {
					t.Errorf("user data lacks %q", strings.TrimSpace(w))
				}
			}
			_, tg := one(t, s, stacks.MainStackName, "AWS::ElasticLoadBalancingV2::TargetGroup")
			delay := -1
			for _, a := range props(tg)["TargetGroupAttributes"].([]interface{}) {
				a := a.(map[string]interface{})
				if a["Key"] == "deregistration_delay.timeout_seconds" {
					delay, _ = strconv.Atoi(fmt.Sprint(a["Value"]))
				}
			}
			if time.Duration(delay)*time.Second != stacks.DrainTimeout {
				t.Errorf("deregistration delay %d s, want %v", delay, stacks.DrainTimeout)
			}
			_, d := one(t, s, stacks.MainStackName, "AWS::CloudFront::Distribution")
			if !strings.Contains(flatten(props(d)), `"OriginReadTimeout":60`) || gen >= 60*time.Second {
				t.Errorf("the generation timeout %v must end before CloudFront's 60 s origin read timeout", gen)
			}
		})
	}
}

// userData returns the launch template's user data script, intrinsics flattened.
func userData(t *testing.T, s *synthesized) string {
	t.Helper()
	_, lt := one(t, s, stacks.MainStackName, "AWS::EC2::LaunchTemplate")
	return flatten(props(lt)["LaunchTemplateData"].(map[string]interface{})["UserData"])
}
