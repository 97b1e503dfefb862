package stacks_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/easelhq/easel/infra/stacks"
)

func TestNetwork(t *testing.T) {
	tests := []struct {
		variant   string
		nat       int
		endpoints int
		bedrock   bool
	}{
		{"default", 1, 2, false},
		{"domain", 1, 2, false},
		{"full", 2, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			s := synthesize(t, tt.variant)
			tpl := s.template(t, stacks.MainStackName)
			check(t, "one VPC", func() { tpl.ResourceCountIs(str("AWS::EC2::VPC"), jsii.Number(1)) })
			check(t, "four subnets", func() { tpl.ResourceCountIs(str("AWS::EC2::Subnet"), jsii.Number(4)) })
			check(t, "NAT gateways", func() { tpl.ResourceCountIs(str("AWS::EC2::NatGateway"), jsii.Number(float64(tt.nat))) })
			check(t, "flow logs to S3", func() {
				tpl.HasResourceProperties(str("AWS::EC2::FlowLog"), obj{
					"LogDestinationType": "s3", "ResourceType": "VPC", "TrafficType": "ALL",
				})
			})
			check(t, "VPC endpoints", func() {
				tpl.ResourceCountIs(str("AWS::EC2::VPCEndpoint"), jsii.Number(float64(tt.endpoints)))
			})

			azs := map[string]bool{}
			public, private := 0, 0
			for _, sub := range s.resources(stacks.MainStackName, "AWS::EC2::Subnet") {
				props := sub["Properties"].(map[string]interface{})
				azs[flatten(props["AvailabilityZone"])] = true
				if props["MapPublicIpOnLaunch"] == true {
					public++
				} else {
					private++
				}
			}
			if len(azs) != 2 || public != 2 || private != 2 {
				t.Errorf("subnets: %d AZs, %d public, %d private; want 2, 2, 2", len(azs), public, private)
			}

			services := map[string]string{}
			for _, ep := range s.resources(stacks.MainStackName, "AWS::EC2::VPCEndpoint") {
				props := ep["Properties"].(map[string]interface{})
				name := flatten(props["ServiceName"])
				services[name[strings.LastIndex(name, ".")+1:]] = flatten(props["VpcEndpointType"])
			}
			want := map[string]string{"s3": "Gateway", "dynamodb": "Gateway"}
			if tt.bedrock {
				want["bedrock-runtime"] = "Interface"
			}
			for svc, typ := range want {
				if services[svc] != typ {
					t.Errorf("endpoint %s: type %q, want %q (have %v)", svc, services[svc], typ, services)
				}
			}
			if tt.bedrock {
				check(t, "bedrock-runtime private DNS", func() {
					tpl.HasResourceProperties(str("AWS::EC2::VPCEndpoint"), obj{
						"ServiceName":       "com.amazonaws.us-west-2.bedrock-runtime",
						"PrivateDnsEnabled": true,
						"VpcEndpointType":   "Interface",
					})
				})
			}
		})
	}
}

func TestLoadBalancer(t *testing.T) {
	tests := []struct {
		variant, scheme, protocol, prefixList string
		port                                  float64
	}{
		{"default", "internal", "HTTP", "pl-3b927c52", 80},
		{"domain", "internet-facing", "HTTPS", "pl-3b927c52", 443},
		{"full", "internal", "HTTPS", "pl-82a045eb", 443},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			s := synthesize(t, tt.variant)
			tpl := s.template(t, stacks.MainStackName)
			for _, attr := range []string{"access_logs.s3.enabled", "routing.http.drop_invalid_header_fields.enabled"} {
				check(t, "ALB scheme and "+attr, func() {
					tpl.HasResourceProperties(str("AWS::ElasticLoadBalancingV2::LoadBalancer"), obj{
						"Scheme":                 tt.scheme,
						"LoadBalancerAttributes": arrayWith(obj{"Key": attr, "Value": "true"}),
					})
				})
			}
			check(t, "listener", func() {
				tpl.HasResourceProperties(str("AWS::ElasticLoadBalancingV2::Listener"), obj{
					"Port": tt.port, "Protocol": tt.protocol,
				})
			})
			var albRules []map[string]interface{}
			for _, rule := range ingressRules(s, stacks.MainStackName) {
				if strings.Contains(flatten(rule["GroupId"]), "AlbSg") {
					albRules = append(albRules, rule)
				}
			}
			if len(albRules) != 1 || albRules[0]["SourcePrefixListId"] != tt.prefixList ||
				albRules[0]["FromPort"] != tt.port || albRules[0]["ToPort"] != tt.port {
				t.Errorf("ALB ingress = %v, want only CloudFront's prefix list %s on port %v", albRules, tt.prefixList, tt.port)
			}
			check(t, "target group health check and drain", func() {
				tpl.HasResourceProperties(str("AWS::ElasticLoadBalancingV2::TargetGroup"), obj{
					"Port":            float64(stacks.AppPort),
					"Protocol":        "HTTP",
					"HealthCheckPath": stacks.HealthCheckPath,
					"TargetGroupAttributes": arrayWith(obj{
						"Key": "deregistration_delay.timeout_seconds", "Value": fmt.Sprint(stacks.DrainTimeout.Seconds()),
					}),
				})
			})
			for _, rule := range ingressRules(s, stacks.MainStackName) {
				if rule["CidrIp"] == "0.0.0.0/0" || rule["CidrIpv6"] == "::/0" {
					t.Errorf("ingress rule %v admits the whole internet", rule)
				}
			}
		})
	}
	for _, name := range []string{"domain", "full"} {
		t.Run(name+"/https", func(t *testing.T) {
			tpl := synthesize(t, name).template(t, stacks.MainStackName)
			check(t, "origin certificate", func() {
				tpl.HasResourceProperties(str("AWS::CertificateManager::Certificate"), obj{
					"DomainName": "origin.images.example.com", "ValidationMethod": "DNS",
				})
			})
			check(t, "TLS 1.2+ policy", func() {
				tpl.HasResourceProperties(str("AWS::ElasticLoadBalancingV2::Listener"), obj{
					"SslPolicy": assertions.Match_StringLikeRegexp(str("TLS13-1-2")),
				})
			})
		})
	}
}

// ingressRules collects every ingress rule, inline in a security group or separate.
func ingressRules(s *synthesized, stack string) []map[string]interface{} {
	var out []map[string]interface{}
	for _, sg := range s.resources(stack, "AWS::EC2::SecurityGroup") {
		rules, _ := sg["Properties"].(map[string]interface{})["SecurityGroupIngress"].([]interface{})
		for _, r := range rules {
			out = append(out, r.(map[string]interface{}))
		}
	}
	for _, in := range s.resources(stack, "AWS::EC2::SecurityGroupIngress") {
		out = append(out, in["Properties"].(map[string]interface{}))
	}
	return out
}
