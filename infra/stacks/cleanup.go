package stacks

import (
	_ "embed"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
)

// CleanupHandler is the first-deploy cleanup function's code (Node.js, CommonJS, with
// the AWS SDK v3 the Lambda runtime provides). CloudFormation takes inline code of at
// most 4,096 bytes.
//
//go:embed cleanup/index.js
var CleanupHandler string

// CleanupResourceType is the custom resource's CloudFormation type.
const CleanupResourceType = "Custom::FirstDeployCleanup"

// newFirstDeployCleanup adds the custom resource that lets a failed first deploy roll
// back completely. The catalog table and the buckets are RETAIN_ON_UPDATE_OR_DELETE
// (CloudFormation's RetainExceptOnCreate): kept on stack deletion and replacement,
// deleted when the deploy that created them rolls back. But such a rollback would
// still fail on them: the table has deletion protection, and the log bucket already
// holds logs (S3 deletes only empty buckets). This resource is created right after
// them and deleted right before them; its function acts only when the stack's status
// is ROLLBACK_IN_PROGRESS (the rollback of the stack's creation): it turns the table's
// deletion protection off and empties and deletes the buckets. Everything that writes
// logs or images depends on it, so those are gone before it runs.
func newFirstDeployCleanup(s *mainStack, buckets ...awss3.Bucket) awscdk.CustomResource {
	logs := awslogs.NewLogGroup(s.stack, jsii.String("FirstDeployCleanupLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(s.stack, jsii.String("FirstDeployCleanupRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Easel first-deploy cleanup: unprotect the table and empty the buckets during a creation rollback"),
	})
	add := func(sid string, actions []string, resources ...*string) {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String(sid), Actions: jsii.Strings(actions...), Resources: &resources,
		}))
	}
	add("OwnLog", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, logs.LogGroupArn())
	add("StackStatus", []string{"cloudformation:DescribeStacks"}, s.stack.StackId())
	add("TableProtection", []string{"dynamodb:DescribeTable", "dynamodb:UpdateTable"}, s.table.TableArn())
	var bucketArns, objectArns, names []*string
	for _, b := range buckets {
		bucketArns = append(bucketArns, b.BucketArn())
		objectArns = append(objectArns, b.ArnForObjects(jsii.String("*")))
		names = append(names, b.BucketName())
	}
	add("ListAndDeleteBuckets", []string{"s3:ListBucket", "s3:ListBucketVersions", "s3:DeleteBucket"}, bucketArns...)
	add("EmptyBuckets", []string{"s3:DeleteObject", "s3:DeleteObjectVersion"}, objectArns...)

	fn := awslambda.NewFunction(s.stack, jsii.String("FirstDeployCleanupFunction"), &awslambda.FunctionProps{
		Description:  jsii.String("Easel: lets a failed first deploy roll back its table and buckets"),
		Runtime:      awslambda.Runtime_NODEJS_24_X(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("index.handler"),
		Code:         awslambda.Code_FromInline(jsii.String(CleanupHandler)),
		Timeout:      awscdk.Duration_Minutes(jsii.Number(10)),
		MemorySize:   jsii.Number(256),
		Role:         role,
		LogGroup:     logs,
	})
	cr := awscdk.NewCustomResource(s.stack, jsii.String("FirstDeployCleanup"), &awscdk.CustomResourceProps{
		ServiceToken: fn.FunctionArn(),
		ResourceType: jsii.String(CleanupResourceType),
		Properties: &map[string]interface{}{
			"TableName": s.table.TableName(),
			"Buckets":   names,
		},
	})
	// Created after (and so deleted before) the role's policy, or the function would
	// lose its permissions before it runs.
	cr.Node().AddDependency(role)
	s.cleanupFn, s.cleanupRole = fn, role
	return cr
}
