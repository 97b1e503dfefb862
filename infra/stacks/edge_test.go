package stacks_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/easelhq/easel/infra/stacks"
)

func TestStacks(t *testing.T) {
	tests := []struct {
		variant string
		stacks  []string
	}{
		{"default", []string{stacks.MainStackName}},
		{"domain", []string{stacks.MainStackName}},
		{"full", []string{stacks.EdgeStackName, stacks.MainStackName}},
	}
	for _, tt := range tests {
		s := synthesize(t, tt.variant)
		if len(s.templates) != len(tt.stacks) {
			t.Errorf("%s: %d stacks, want %v", tt.variant, len(s.templates), tt.stacks)
		}
		for _, name := range tt.stacks {
			if _, ok := s.templates[name]; !ok {
				t.Errorf("%s: no stack %s", tt.variant, name)
			}
		}
	}
}

func TestWebACL(t *testing.T) {
	tests := []struct{ variant, aclStack string }{
		{"default", stacks.MainStackName},
		{"domain", stacks.MainStackName},
		{"full", stacks.EdgeStackName},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			s := synthesize(t, tt.variant)
			tpl := s.template(t, tt.aclStack)
			managed := func(name string) interface{} {
				return like(obj{"Name": name, "Statement": like(obj{
					"ManagedRuleGroupStatement": like(obj{"VendorName": "AWS", "Name": name}),
				})})
			}
			check(t, "CloudFront-scoped web ACL with managed rules and a rate rule", func() {
				tpl.HasResourceProperties(str("AWS::WAFv2::WebACL"), obj{
					"Scope": "CLOUDFRONT",
					"Rules": arrayWith(
						managed("AWSManagedRulesAmazonIpReputationList"),
						like(obj{"Name": "RateLimitPerIP", "Action": obj{"Block": obj{}}, "Statement": obj{
							"RateBasedStatement": like(obj{"AggregateKeyType": "IP", "Limit": float64(stacks.RateLimitPer5Min)}),
						}}),
						managed("AWSManagedRulesKnownBadInputsRuleSet"),
						like(obj{"Name": "AWSManagedRulesCommonRuleSet", "Statement": like(obj{
							"ManagedRuleGroupStatement": like(obj{
								"RuleActionOverrides": arr{obj{"Name": "SizeRestrictions_BODY", "ActionToUse": obj{"Count": obj{}}}},
							}),
						})}),
						like(obj{"Name": "BlockOversizedBodyOutsideAPI", "Action": obj{"Block": obj{}}}),
					),
				})
			})
			if tt.aclStack != stacks.MainStackName {
				check(t, "no web ACL in the app stack", func() {
					s.template(t, stacks.MainStackName).ResourceCountIs(str("AWS::WAFv2::WebACL"), jsii.Number(0))
				})
			}
			for _, d := range s.resources(stacks.MainStackName, "AWS::CloudFront::Distribution") {
				cfg := d["Properties"].(map[string]interface{})["DistributionConfig"].(map[string]interface{})
				if cfg["WebACLId"] == nil {
					t.Error("distribution has no web ACL")
				}
			}
		})
	}
}

func TestDistribution(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			s := synthesize(t, v.name)
			tpl := s.template(t, stacks.MainStackName)
			all := []interface{}{"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
			behaviours := []interface{}{
				like(obj{"PathPattern": "/v1/*", "AllowedMethods": all, "ViewerProtocolPolicy": "redirect-to-https",
					"CachePolicyId": obj{"Ref": assertions.Match_StringLikeRegexp(str("^ApiCachePolicy"))}}),
				like(obj{"PathPattern": "/images/*", "Compress": true, "ViewerProtocolPolicy": "redirect-to-https",
					// Managed policy CachingOptimized.
					"CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}),
			}
			for _, b := range behaviours {
				check(t, "behaviour", func() {
					tpl.HasResourceProperties(str("AWS::CloudFront::Distribution"), obj{
						"DistributionConfig": like(obj{"CacheBehaviors": arrayWith(b)}),
					})
				})
			}
			check(t, "distribution", func() {
				tpl.HasResourceProperties(str("AWS::CloudFront::Distribution"), obj{
					"DistributionConfig": like(obj{
						"DefaultCacheBehavior": like(obj{"AllowedMethods": all}),
						"Logging":              like(obj{"Prefix": "cloudfront/"}),
						"WebACLId":             assertions.Match_AnyValue(),
						"HttpVersion":          "http2and3",
						"IPV6Enabled":          true,
					}),
				})
			})
			check(t, "API cache policy: nothing cached, Authorization forwarded", func() {
				tpl.HasResourceProperties(str("AWS::CloudFront::CachePolicy"), obj{
					"CachePolicyConfig": like(obj{
						"DefaultTTL": 0, "MinTTL": 0, "MaxTTL": 1,
						"ParametersInCacheKeyAndForwardedToOrigin": like(obj{
							"HeadersConfig": obj{"HeaderBehavior": "whitelist", "Headers": arr{"Authorization"}},
						}),
					}),
				})
			})
			var dist map[string]interface{}
			for _, d := range s.resources(stacks.MainStackName, "AWS::CloudFront::Distribution") {
				dist = d["Properties"].(map[string]interface{})["DistributionConfig"].(map[string]interface{})
			}
			origins := dist["Origins"].([]interface{})
			if len(origins) != 2 {
				t.Fatalf("%d origins, want the ALB and the bucket", len(origins))
			}
			text := flatten(origins)
			if !strings.Contains(text, "OriginAccessControlId") {
				t.Errorf("bucket origin without origin access control: %s", text)
			}
			conf := s.cfg
			switch {
			case conf.VpcOrigin && conf.HasDomain():
				for _, w := range []string{`"VpcOriginConfig"`, "origin.images.example.com"} {
					if !strings.Contains(text, w) {
						t.Errorf("VPC origin lacks %s: %s", w, text)
					}
				}
				check(t, "VPC origin on the internal ALB over HTTPS", func() {
					tpl.HasResourceProperties(str("AWS::CloudFront::VpcOrigin"), obj{
						"VpcOriginEndpointConfig": like(obj{
							"Arn":                  like(obj{"Ref": assertions.Match_StringLikeRegexp(str("^Alb"))}),
							"OriginProtocolPolicy": "https-only",
							"OriginSSLProtocols":   arr{"TLSv1.2"},
						}),
					})
				})
			case conf.VpcOrigin:
				if !strings.Contains(text, `"VpcOriginConfig"`) {
					t.Errorf("default: want the VPC origin; origins %s", text)
				}
				check(t, "VPC origin on the internal ALB, inside the VPC", func() {
					tpl.HasResourceProperties(str("AWS::CloudFront::VpcOrigin"), obj{
						"VpcOriginEndpointConfig": like(obj{
							"Arn":                  like(obj{"Ref": assertions.Match_StringLikeRegexp(str("^Alb"))}),
							"OriginProtocolPolicy": "http-only",
						}),
					})
				})
			case conf.HasDomain():
				check(t, "public ALB origin over HTTPS by its origin name", func() {
					tpl.HasResourceProperties(str("AWS::CloudFront::Distribution"), obj{
						"DistributionConfig": like(obj{"Origins": arrayWith(like(obj{
							"DomainName": "origin.images.example.com",
							"CustomOriginConfig": like(obj{
								"OriginProtocolPolicy": "https-only", "OriginSSLProtocols": arr{"TLSv1.2"},
							}),
						}))}),
					})
				})
			default:
				t.Errorf("variant %s: no VPC origin and no domain cannot be configured", v.name)
			}
			if conf.HasDomain() {
				check(t, "viewer certificate, TLS 1.2, alias", func() {
					tpl.HasResourceProperties(str("AWS::CloudFront::Distribution"), obj{
						"DistributionConfig": like(obj{
							"Aliases": arr{"images.example.com"},
							"ViewerCertificate": like(obj{
								"MinimumProtocolVersion": "TLSv1.2_2021", "SslSupportMethod": "sni-only",
								"AcmCertificateArn": assertions.Match_AnyValue(),
							}),
						}),
					})
				})
			} else if dist["Aliases"] != nil || dist["ViewerCertificate"] != nil {
				t.Errorf("default: want no alias nor certificate")
			}
		})
	}
}

func TestCertificateAndRecords(t *testing.T) {
	tests := []struct{ variant, certStack string }{
		{"domain", stacks.MainStackName},
		{"full", stacks.EdgeStackName},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			s := synthesize(t, tt.variant)
			check(t, "wildcard viewer certificate in us-east-1", func() {
				s.template(t, tt.certStack).HasResourceProperties(str("AWS::CertificateManager::Certificate"), obj{
					"DomainName":              "images.example.com",
					"SubjectAlternativeNames": arr{"*.images.example.com"},
					"ValidationMethod":        "DNS",
					"DomainValidationOptions": arrayWith(like(obj{"HostedZoneId": "Z0123456789EXAMPLE"})),
				})
			})
			main := s.template(t, stacks.MainStackName)
			for _, typ := range []string{"A", "AAAA"} {
				check(t, typ+" alias to CloudFront", func() {
					main.HasResourceProperties(str("AWS::Route53::RecordSet"), obj{
						"Name":         "images.example.com.",
						"Type":         typ,
						"HostedZoneId": "Z0123456789EXAMPLE",
						"AliasTarget": like(obj{"DNSName": obj{"Fn::GetAtt": arr{
							assertions.Match_StringLikeRegexp(str("^Distribution")), "DomainName",
						}}}),
					})
				})
			}
			check(t, "origin name for the ALB", func() {
				main.HasResourceProperties(str("AWS::Route53::RecordSet"), obj{
					"Name": "origin.images.example.com.", "Type": "A",
				})
			})
		})
	}
	t.Run("default", func(t *testing.T) {
		tpl := synthesize(t, "default").template(t, stacks.MainStackName)
		check(t, "no records without a domain", func() {
			tpl.ResourceCountIs(str("AWS::Route53::RecordSet"), jsii.Number(0))
		})
		check(t, "no certificate without a domain", func() {
			tpl.ResourceCountIs(str("AWS::CertificateManager::Certificate"), jsii.Number(0))
		})
	})
}

func TestOutputsAndMonitoring(t *testing.T) {
	tests := []struct{ variant, site string }{
		{"default", "https://<Distribution830FAC52.DomainName>/"},
		{"domain", "https://images.example.com/"},
		{"full", "https://images.example.com/"},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			s := synthesize(t, tt.variant)
			outputs, _ := s.templates[stacks.MainStackName]["Outputs"].(map[string]interface{})
			for _, name := range []string{"SiteUrl", "ImageBucketName", "CatalogTableName", "AlarmTopicArn", "DashboardName"} {
				if outputs[name] == nil {
					t.Errorf("no output %s", name)
				}
			}
			if got := flatten(outputs["SiteUrl"].(map[string]interface{})["Value"]); got != tt.site {
				t.Errorf("SiteUrl = %q, want %q", got, tt.site)
			}
			tpl := s.template(t, stacks.MainStackName)
			check(t, "dashboard", func() { tpl.ResourceCountIs(str("AWS::CloudWatch::Dashboard"), jsii.Number(1)) })
			check(t, "alarms", func() { tpl.ResourceCountIs(str("AWS::CloudWatch::Alarm"), jsii.Number(7)) })
			check(t, "throttle metric from the service log", func() {
				tpl.HasResourceProperties(str("AWS::Logs::MetricFilter"), obj{
					"FilterPattern": assertions.Match_StringLikeRegexp(str("ThrottlingException")),
				})
			})
			want := []string{"HTTPCode_Target_5XX_Count", "TargetResponseTime", "UnHealthyHostCount", "BedrockThrottles",
				"ApproximateNumberOfMessagesVisible", "DeadLetteredJobs", "ApproximateAgeOfOldestMessage"}
			var alarms string
			for _, a := range s.resources(stacks.MainStackName, "AWS::CloudWatch::Alarm") {
				alarms += flatten(a["Properties"])
				if !strings.Contains(flatten(a["Properties"]), "AlarmTopic") {
					t.Errorf("alarm %v notifies nobody", a["Properties"].(map[string]interface{})["AlarmDescription"])
				}
			}
			for _, w := range want {
				if !strings.Contains(alarms, w) {
					t.Errorf("no alarm on %s", w)
				}
			}
		})
	}
}
