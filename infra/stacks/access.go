package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
)

// AccessPointNamePrefix starts the image access point's name.
const AccessPointNamePrefix = "easel-images-"

// ImageObjectActions are the S3 object actions Easel's s3blob adapter uses on the
// images; it also lists (s3:ListBucket, which HeadBucket needs too) under the prefix.
func ImageObjectActions() []string {
	return []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}
}

// accessPoint is the images bucket's S3 access point, the only way the application
// (instances or Fargate tasks) reaches the images.
type accessPoint struct {
	cfn awss3.CfnAccessPoint
	// name is the access point's name and arnValue its ARN, built from the name so
	// that the access point's own policy can name it (its Arn attribute cannot).
	name, arnValue *string
	// principals are the application roles; their grants go into the access point's
	// policy when the stack is finished (see finish).
	principals []awsiam.IPrincipal
}

// newAccessPoint builds the access point: reachable only from the deployment's VPC
// (through the S3 gateway endpoint), all public access blocked. The bucket policy
// delegates access control to the account's access points for exactly the actions
// and the prefix Easel uses; CloudFront keeps reading the bucket itself through
// origin access control, and no role gets any grant on the bucket's own ARN.
func newAccessPoint(s *mainStack, vpc awsec2.IVpc, images awss3.Bucket) *accessPoint {
	// Access point names are unique per account and region: "easel-images-" and the
	// first group of the stack id's GUID.
	name := awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String(AccessPointNamePrefix), stackIDPart(s),
	})
	ap := awss3.NewCfnAccessPoint(s.stack, jsii.String("ImageAccessPoint"), &awss3.CfnAccessPointProps{
		Name:             name,
		Bucket:           images.BucketName(),
		VpcConfiguration: &awss3.CfnAccessPoint_VpcConfigurationProperty{VpcId: vpc.VpcId()},
		PublicAccessBlockConfiguration: &awss3.CfnAccessPoint_PublicAccessBlockConfigurationProperty{
			BlockPublicAcls: jsii.Bool(true), BlockPublicPolicy: jsii.Bool(true),
			IgnorePublicAcls: jsii.Bool(true), RestrictPublicBuckets: jsii.Bool(true),
		},
	})
	// Principal * limited by s3:DataAccessPointAccount is not a public policy (S3's
	// definition), so Block Public Access accepts it: only requests that came through
	// an access point of this account get past the bucket policy, and then only for
	// what the access point's own policy and the caller's IAM policy also allow.
	images.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("DelegateToAccessPoints"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings(append(ImageObjectActions(), "s3:ListBucket")...),
		Resources:  &[]*string{images.BucketArn(), images.ArnForObjects(jsii.String(ImagePrefix + "*"))},
		Conditions: &map[string]interface{}{
			"StringEquals": map[string]interface{}{"s3:DataAccessPointAccount": s.stack.Account()},
		},
	}))
	arn := jsii.String("arn:" + *s.stack.Partition() + ":s3:" + *s.stack.Region() + ":" + *s.stack.Account() +
		":accesspoint/" + *name)
	return &accessPoint{cfn: ap, name: name, arnValue: arn}
}

// arn is the access point's ARN; objects are under arn/object/KEY.
func (a *accessPoint) arn() *string { return a.arnValue }

// alias is the access point's bucket-style alias, which s3blob takes as the bucket
// of --blob (s3://ALIAS?prefix=images/).
func (a *accessPoint) alias() *string { return a.cfn.AttrAlias() }

// objects is the ARN of the image objects through the access point.
func (a *accessPoint) objects() *string {
	return jsii.String(*a.arn() + "/object/" + ImagePrefix + "*")
}

// grant gives role the image actions through the access point only, and records it
// for the access point's policy.
func (a *accessPoint) grant(role awsiam.Role) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ImageObjects"),
		Actions:   jsii.Strings(ImageObjectActions()...),
		Resources: &[]*string{a.objects()},
	}))
	// HeadBucket is authorised as s3:ListBucket and carries no prefix, hence IfExists:
	// a listing that names a prefix must stay under images/.
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ImageListing"),
		Actions:    jsii.Strings("s3:ListBucket"),
		Resources:  &[]*string{a.arn()},
		Conditions: listUnderImages(),
	}))
	a.principals = append(a.principals, role)
}

func listUnderImages() *map[string]interface{} {
	return &map[string]interface{}{
		"StringLikeIfExists": map[string]interface{}{"s3:prefix": []string{ImagePrefix + "*"}},
	}
}

// finish writes the access point's policy: the application roles, the same actions
// and resources as their IAM grants. Same-account access needs either; both keep
// the access point from serving anyone else even if a broader IAM policy appears.
func (a *accessPoint) finish() {
	if len(a.principals) == 0 {
		return
	}
	doc := awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("ImageObjects"),
			Principals: &a.principals,
			Actions:    jsii.Strings(ImageObjectActions()...),
			Resources:  &[]*string{a.objects()},
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("ImageListing"),
			Principals: &a.principals,
			Actions:    jsii.Strings("s3:ListBucket"),
			Resources:  &[]*string{a.arn()},
			Conditions: listUnderImages(),
		}),
	}})
	a.cfn.SetPolicy(doc)
}
