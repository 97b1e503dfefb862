package stacks

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// suppressFindings records, each with its reason, the AwsSolutions findings this
// design accepts. Any other finding is an error: `cdk synth` and the tests fail.
func suppressFindings(s *mainStack) {
	add := func(construct interface{}, sups ...*cdknag.NagPackSuppression) {
		cdknag.NagSuppressions_AddResourceSuppressions(construct, &sups, jsii.Bool(true))
	}
	add(s.originSecret, suppression("AwsSolutions-SMG4",
		"The origin secret is shared with CloudFront's origin configuration, which a rotation "+
			"Lambda cannot update atomically; docs/deploy.md gives the manual rotation procedure."))
	if s.comp.asg != nil {
		add(s.comp.role, suppression("AwsSolutions-IAM4",
			"AmazonSSMManagedInstanceCore is AWS's documented policy for SSM Session Manager, which "+
				"replaces SSH; its actions are scoped by the SSM service.",
			"Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore"))
	}
	add(s.comp.role, suppression("AwsSolutions-IAM5",
		"Easel writes one object per image under the images/ prefix with generated keys; the prefix "+
			"wildcard, through the images access point, is the narrowest grant that allows that.",
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:s3:[a-z0-9-]+:[0-9]{12}:accesspoint\/` +
			AccessPointNamePrefix + `.*\/object\/images\/\*$/`)}))
	if f := s.comp.fargate; f != nil {
		add(s.comp.role, suppression("AwsSolutions-IAM5",
			"ECS Exec (the tasks' replacement for SSH, as Session Manager is the instances') opens its "+
				"channels with ssmmessages actions that take no resource but *.",
			"Resource::*"))
		add(f.exec, suppression("AwsSolutions-IAM5",
			"The execution role pulls the image: ecr:GetAuthorizationToken takes no resource but * (the "+
				"repository actions name the asset repository).",
			"Resource::*"))
		add(f.task, suppression("AwsSolutions-ECS2",
			"The environment holds names and settings only (table, queue, access point alias, models, "+
				"timeouts), the same as the instances' env file; the one secret, the origin secret, comes "+
				"from Secrets Manager as an ECS secret, and the signing key is read by Easel itself."))
	}
	if usesProfiles(s.cfg.Models) {
		add(s.comp.role, suppression("AwsSolutions-IAM5",
			"A cross-region inference profile routes each call to the model in one of several regions; "+
				"the grant names the one model and holds only for calls through the configured profile "+
				"(condition bedrock:InferenceProfileArn).",
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:bedrock:\*?::foundation-model\//`)}))
	}
	if s.signing != nil {
		for _, secret := range s.signing.secrets {
			add(secret, suppression("AwsSolutions-SMG4",
				"The signing key's public half is registered in CloudFront's key group, which a Secrets Manager "+
					"rotation Lambda cannot update in step with the secret; rotation is a redeploy with "+
					"signingKeyGeneration raised by one (a new key and secret, the previous key kept in the group "+
					"for URLs it signed), see docs/deploy.md."))
		}
	}
	add(s.distribution, suppression("AwsSolutions-CFR1",
		"Easel serves its users wherever they are; geographic restriction is a policy choice left "+
			"to the operator, not a security control this stack can pick."))
	if !s.cfg.HasDomain() {
		add(s.distribution,
			suppression("AwsSolutions-CFR4",
				"Without a domain the site uses CloudFront's default *.cloudfront.net certificate, whose "+
					"security policy CloudFront fixes; set domainName to get TLSv1.2_2021 and an ACM certificate."))
	}
	add(s.cleanupRole, suppression("AwsSolutions-IAM5",
		"The first-deploy cleanup empties the stack's own buckets during the rollback of the stack's "+
			"creation; deleting every object of those two buckets is its purpose, so the grant names each "+
			"bucket's objects with a wildcard (and nothing else).",
		&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<(ImageBucket|LogBucket)[0-9A-F]+\.Arn>\/\*$/`)}))
}

// suppression is one accepted finding; appliesTo narrows it to named findings.
func suppression(id, reason string, appliesTo ...interface{}) *cdknag.NagPackSuppression {
	sup := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		sup.AppliesTo = &appliesTo
	}
	return sup
}
