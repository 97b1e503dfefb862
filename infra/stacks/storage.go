package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"

	"github.com/easelhq/easel/dynamostore/tabledef"
)

// ImagePrefix is the key prefix of every image object; CloudFront serves it as /images/*.
const ImagePrefix = "images/"

// newLogBucket holds S3 server access logs, ALB access logs, VPC flow logs and
// CloudFront standard logs. CloudFront's standard logging writes with ACLs, so the
// bucket keeps ACLs enabled (BUCKET_OWNER_PREFERRED); ALB logs need SSE-S3.
func newLogBucket(s *mainStack) awss3.Bucket {
	return awss3.NewBucket(s.stack, jsii.String("LogBucket"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_PREFERRED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("expire-logs"),
			Expiration:                          awscdk.Duration_Days(jsii.Number(90)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
	})
}

// newImageBucket is private: CloudFront reads it through origin access control and
// only the instance role writes, under ImagePrefix.
func newImageBucket(s *mainStack, logs awss3.IBucket) awss3.Bucket {
	return awss3.NewBucket(s.stack, jsii.String("ImageBucket"), &awss3.BucketProps{
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		Encryption:             awss3.BucketEncryption_S3_MANAGED,
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		ServerAccessLogsBucket: logs,
		ServerAccessLogsPrefix: jsii.String("s3-access/images/"),
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("abort-incomplete-uploads"),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
	})
}

// newTable builds the catalog table from tabledef, the description the dynamostore
// adapter uses, so names, keys, indexes and the TTL attribute cannot drift.
func newTable(s *mainStack) awsdynamodb.Table {
	def := tabledef.Definition()
	table := awsdynamodb.NewTable(s.stack, jsii.String("CatalogTable"), &awsdynamodb.TableProps{
		PartitionKey:        attr(def.PartitionKey),
		SortKey:             attr(def.SortKey),
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String(def.TTLAttribute),
		DeletionProtection:  jsii.Bool(true),
		RemovalPolicy:       awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
	})
	for _, ix := range def.Indexes {
		table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(ix.Name),
			PartitionKey:   attr(ix.PartitionKey),
			SortKey:        attr(ix.SortKey),
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
	}
	return table
}

// attr converts a key attribute; an unnamed one (no sort key) gives nil.
func attr(k tabledef.KeyAttr) *awsdynamodb.Attribute {
	if k.Name == "" {
		return nil
	}
	t := awsdynamodb.AttributeType_STRING
	switch k.Type {
	case "N":
		t = awsdynamodb.AttributeType_NUMBER
	case "B":
		t = awsdynamodb.AttributeType_BINARY
	}
	return &awsdynamodb.Attribute{Name: jsii.String(k.Name), Type: t}
}
