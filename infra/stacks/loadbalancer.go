package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53targets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
)

// CloudFrontPrefixList is the AWS-managed prefix list of CloudFront's origin-facing
// addresses; the ALB admits nothing else. It is looked up per account and region
// (cached in cdk.context.json).
const CloudFrontPrefixList = "com.amazonaws.global.cloudfront.origin-facing"

// loadBalancer is the ALB and the listener CloudFront talks to.
type loadBalancer struct {
	alb      elbv2.ApplicationLoadBalancer
	listener elbv2.ApplicationListener
	https    bool
}

// newLoadBalancer builds the ALB: internal in the private subnets behind the VPC
// origin (the default), or internet-facing in the public subnets, which Config allows
// only with a domain, so it then listens for HTTPS only. Its security group admits
// only CloudFront's origin-facing prefix list, on 443 with a domain (certificate for
// OriginDomain, validated in the zone, plus an alias record) or on 80 without (inside
// the VPC only).
func newLoadBalancer(s *mainStack, vpc awsec2.IVpc, logs awss3.IBucket) loadBalancer {
	sg := awsec2.NewSecurityGroup(s.stack, jsii.String("AlbSg"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("Easel ALB: CloudFront origin-facing addresses only"),
		AllowAllOutbound: jsii.Bool(false),
	})
	subnets := awsec2.SubnetType_PUBLIC
	if s.cfg.VpcOrigin {
		subnets = awsec2.SubnetType_PRIVATE_WITH_EGRESS
	}
	alb := elbv2.NewApplicationLoadBalancer(s.stack, jsii.String("Alb"), &elbv2.ApplicationLoadBalancerProps{
		Vpc:                     vpc,
		InternetFacing:          jsii.Bool(!s.cfg.VpcOrigin),
		VpcSubnets:              &awsec2.SubnetSelection{SubnetType: subnets},
		SecurityGroup:           sg,
		DropInvalidHeaderFields: jsii.Bool(true),
		// Below Easel's 75 s keep-alive, so Easel never closes a connection the ALB
		// still uses (a 502); equal to CloudFront's origin read timeout.
		IdleTimeout: awscdk.Duration_Seconds(jsii.Number(60)),
	})
	alb.LogAccessLogs(logs, jsii.String("alb"))
	cloudFront := awsec2.PrefixList_FromLookup(s.stack, jsii.String("CloudFrontOriginFacing"),
		&awsec2.PrefixListLookupOptions{PrefixListName: jsii.String(CloudFrontPrefixList)})

	lb := loadBalancer{alb: alb, https: s.cfg.HasDomain()}
	if !lb.https {
		lb.listener = alb.AddListener(jsii.String("Http"), &elbv2.BaseApplicationListenerProps{
			Port:     jsii.Number(80),
			Protocol: elbv2.ApplicationProtocol_HTTP,
			Open:     jsii.Bool(false),
		})
		sg.AddIngressRule(cloudFront, awsec2.Port_Tcp(jsii.Number(80)), jsii.String("HTTP from CloudFront"), nil)
		return lb
	}
	zone := s.zone()
	cert := awscertificatemanager.NewCertificate(s.stack, jsii.String("OriginCertificate"),
		&awscertificatemanager.CertificateProps{
			DomainName: jsii.String(s.cfg.OriginDomain()),
			Validation: awscertificatemanager.CertificateValidation_FromDns(zone),
		})
	lb.listener = alb.AddListener(jsii.String("Https"), &elbv2.BaseApplicationListenerProps{
		Port:         jsii.Number(443),
		Protocol:     elbv2.ApplicationProtocol_HTTPS,
		Open:         jsii.Bool(false),
		Certificates: &[]elbv2.IListenerCertificate{elbv2.ListenerCertificate_FromCertificateManager(cert)},
		SslPolicy:    elbv2.SslPolicy_RECOMMENDED_TLS,
	})
	sg.AddIngressRule(cloudFront, awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS from CloudFront"), nil)
	awsroute53.NewARecord(s.stack, jsii.String("OriginRecord"), &awsroute53.ARecordProps{
		Zone:       zone,
		RecordName: jsii.String(s.cfg.OriginDomain()),
		Target:     awsroute53.RecordTarget_FromAlias(awsroute53targets.NewLoadBalancerTarget(alb, nil)),
	})
	return lb
}
