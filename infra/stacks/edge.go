package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// edgeResources are what CloudFront needs from us-east-1.
type edgeResources struct {
	webACLArn   *string
	certificate awscertificatemanager.ICertificate // nil without a domain
}

// newEdgeResources creates the web ACL and, with a domain, the viewer certificate: a
// certificate for the site name and its wildcard, validated through DNS in the zone.
// scope must be in us-east-1.
func newEdgeResources(scope constructs.Construct, cfg Config) edgeResources {
	out := edgeResources{webACLArn: newWebACL(scope).AttrArn()}
	if cfg.HasDomain() {
		zone := hostedZone(scope, cfg)
		cert := awscertificatemanager.NewCertificate(scope, jsii.String("SiteCertificate"),
			&awscertificatemanager.CertificateProps{
				DomainName:              jsii.String(cfg.DomainName),
				SubjectAlternativeNames: jsii.Strings("*." + cfg.DomainName),
				Validation:              awscertificatemanager.CertificateValidation_FromDns(zone),
			})
		// CloudFront still uses the old certificate while the edge stack replaces or
		// drops it (the app stack moves to the new one afterwards), and ACM refuses to
		// delete a certificate in use: keep it then (delete it by hand later, see
		// docs/deploy.md), but not when the deploy that created it rolls back.
		cert.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE)
		out.certificate = cert
	}
	return out
}

// newEdgeStack puts the edge resources in their own us-east-1 stack, for an app
// stack in another region; the app stack reads them through cross-region references.
func newEdgeStack(app awscdk.App, cfg Config) (awscdk.Stack, edgeResources) {
	stack := awscdk.NewStack(app, jsii.String(EdgeStackName), &awscdk.StackProps{
		Env:                   &awscdk.Environment{Account: jsii.String(cfg.Account), Region: jsii.String("us-east-1")},
		CrossRegionReferences: jsii.Bool(true),
		Description:           jsii.String("Easel: CloudFront web ACL and certificate (us-east-1)"),
	})
	return stack, newEdgeResources(stack, cfg)
}

func hostedZone(scope constructs.Construct, cfg Config) awsroute53.IHostedZone {
	return awsroute53.HostedZone_FromHostedZoneAttributes(scope, jsii.String("Zone"), &awsroute53.HostedZoneAttributes{
		HostedZoneId: jsii.String(cfg.HostedZoneID),
		ZoneName:     jsii.String(cfg.HostedZoneName),
	})
}
