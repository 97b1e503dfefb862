package stacks

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Stack names.
const (
	MainStackName = "Easel"
	EdgeStackName = "EaselEdge"
)

// featureFlags pins the CDK behaviours this app relies on, the same under the CDK CLI,
// `go run .` and the tests.
func featureFlags() map[string]interface{} {
	return map[string]interface{}{
		"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy":                                            true,
		"@aws-cdk/aws-s3:createDefaultLoggingPolicy":                                                 true,
		"@aws-cdk/aws-iam:minimizePolicies":                                                          true,
		"@aws-cdk/aws-iam:standardizedServicePrincipals":                                             true,
		"@aws-cdk/core:checkSecretUsage":                                                             true,
		"@aws-cdk/aws-ec2:uniqueImdsv2TemplateName":                                                  true,
		"@aws-cdk/aws-ec2:launchTemplateDefaultUserData":                                             true,
		"@aws-cdk/aws-cloudfront:defaultSecurityPolicyTLSv1.2_2021":                                  true,
		"@aws-cdk/aws-elasticloadbalancingV2:albDualstackWithoutPublicIpv4SecurityGroupRulesDefault": true,
	}
}

// AppOptions configures NewApp.
type AppOptions struct {
	// Outdir is where the cloud assembly goes; "" lets the CDK choose (CDK_OUTDIR
	// under the CLI, else cdk.out).
	Outdir string
	// ContextFile is a cdk.context.json with cached lookups (availability zones, the
	// CloudFront prefix list) so synthesis needs no credentials. Missing is fine.
	ContextFile string
	// Context adds context values, such as the configuration keys.
	Context map[string]string
}

// NewApp returns a CDK app with the feature flags and cached lookups loaded. Context
// given by the CDK CLI (-c, cdk.json, cdk.context.json) takes precedence.
func NewApp(opts AppOptions) (awscdk.App, error) {
	ctx := featureFlags()
	if opts.ContextFile != "" {
		data, err := os.ReadFile(opts.ContextFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("read context file: %w", err)
		default:
			var cached map[string]interface{}
			if err := json.Unmarshal(data, &cached); err != nil {
				return nil, fmt.Errorf("parse %s: %w", opts.ContextFile, err)
			}
			for k, v := range cached {
				ctx[k] = v
			}
		}
	}
	for k, v := range opts.Context {
		ctx[k] = v
	}
	props := &awscdk.AppProps{Context: &ctx}
	if opts.Outdir != "" {
		props.Outdir = jsii.String(opts.Outdir)
	}
	return awscdk.NewApp(props), nil
}

// ContextLookup reads string context values from the app's node.
func ContextLookup(app awscdk.App) Lookup {
	return func(key string) (string, bool) {
		v := app.Node().TryGetContext(jsii.String(key))
		if v == nil {
			return "", false
		}
		return fmt.Sprint(v), true
	}
}

// Deployment is the stacks Build added to the app.
type Deployment struct {
	Main awscdk.Stack
	Edge awscdk.Stack // nil when the main stack is in us-east-1
}

// Build adds Easel's stacks to app and cdk-nag's AwsSolutions checks to every stack.
// With compute=ec2, cfg.BinaryPath must name the linux/arm64 easel binary (any file
// will do for synthesis); with compute=fargate, cfg.DockerDir must hold a Dockerfile.
func Build(app awscdk.App, cfg Config) (*Deployment, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Compute == ComputeFargate {
		if err := CheckDockerfile(cfg.DockerDir); err != nil {
			return nil, err
		}
	} else if st, err := os.Stat(cfg.BinaryPath); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("easel binary %q: not a file (set %s or -c %s=PATH)", cfg.BinaryPath, EnvName(KeyBinary), KeyBinary)
	}
	d := &Deployment{}
	s := &mainStack{cfg: cfg}
	crossRegion := cfg.SeparateEdgeStack()
	if crossRegion {
		d.Edge, s.edge = newEdgeStack(app, cfg)
	}
	s.stack = awscdk.NewStack(app, jsii.String(MainStackName), &awscdk.StackProps{
		Env:                   &awscdk.Environment{Account: jsii.String(cfg.Account), Region: jsii.String(cfg.Region)},
		CrossRegionReferences: jsii.Bool(crossRegion),
		Description:           jsii.String("Easel image generation service"),
	})
	if crossRegion {
		// Weak references (Fn::GetStackOutput) to the edge stack's web ACL and
		// certificate: a strong one (CDK's SSM export writer) refuses to change or
		// drop an exported value while this stack reads it, so changing or removing
		// the domain would wedge the edge stack's update.
		awscdk.CrossStackReferences_Of(s.stack).Consume(awscdk.ReferenceStrength_WEAK)
	}
	d.Main = s.stack
	if !crossRegion {
		s.edge = newEdgeResources(constructs.NewConstruct(s.stack, jsii.String("Edge")), cfg)
	}
	s.build()
	if d.Edge != nil {
		s.stack.AddStackDependency(d.Edge, jsii.String("CloudFront needs the us-east-1 web ACL and certificate"))
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	awscdk.Aspects_Of(app).Add(NewEaselChecks(), nil)
	suppressFindings(s)
	return d, nil
}

// mainStack carries the app stack's shared resources while it is built.
type mainStack struct {
	stack        awscdk.Stack
	cfg          Config
	edge         edgeResources
	zoneRef      awsroute53.IHostedZone
	logs         awss3.Bucket
	images       awss3.Bucket
	access       *accessPoint
	signing      *signingKeys // nil unless cfg.PrivateImages
	auth         *cognitoAuth // nil unless cfg.Auth is AuthCognito
	table        awsdynamodb.Table
	appLogs      awslogs.LogGroup
	alarmTopic   awssns.Topic
	originSecret awssecretsmanager.Secret
	lb           loadBalancer
	comp         compute
	distribution awscloudfront.Distribution
	cleanupFn    awslambda.Function
	cleanupRole  awsiam.Role
	jobs         jobs
}

// zone is the configured hosted zone, imported once.
func (s *mainStack) zone() awsroute53.IHostedZone {
	if s.zoneRef == nil {
		s.zoneRef = hostedZone(s.stack, s.cfg)
	}
	return s.zoneRef
}

func (s *mainStack) build() {
	s.logs = newLogBucket(s)
	net := newNetwork(s, s.logs)
	vpc := net.vpc
	s.images = newImageBucket(s, s.logs)
	s.access = newAccessPoint(s, vpc, s.images)
	s.table = newTable(s)
	cleanup := newFirstDeployCleanup(s, s.images, s.logs)
	s.appLogs = awslogs.NewLogGroup(s.stack, jsii.String("ServiceLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	s.alarmTopic = awssns.NewTopic(s.stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("Easel alarms"),
		EnforceSSL:  jsii.Bool(true),
	})
	s.originSecret = awssecretsmanager.NewSecret(s.stack, jsii.String("OriginSecret"), &awssecretsmanager.SecretProps{
		Description: jsii.String("Value of the " + OriginHeader + " header CloudFront sends to the Easel ALB"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			ExcludePunctuation: jsii.Bool(true),
			PasswordLength:     jsii.Number(48),
		},
	})
	s.jobs = newJobs(s)
	s.lb = newLoadBalancer(s, vpc, s.logs)
	if s.cfg.PrivateImages {
		s.signing = newSigningKeys(s)
	}
	dist := newDistribution(s, s.lb, s.images, s.logs, s.originSecret.SecretValue().UnsafeUnwrap())
	s.distribution = dist
	site := dist.DistributionDomainName()
	if s.cfg.HasDomain() {
		site = jsii.String(s.cfg.DomainName)
	}
	if s.cfg.Auth == AuthCognito {
		s.auth = newCognitoAuth(s, site)
	}
	if s.cfg.Compute == ComputeFargate {
		s.comp = newFargate(s, vpc, s.lb, site)
	} else {
		s.comp = newCompute(s, vpc, s.lb, site)
	}
	s.comp.workload.Node().AddDependency(net.egress...)
	if s.cfg.BedrockEndpoint {
		// Private DNS sends bedrock-runtime to the endpoint once it exists.
		s.comp.workload.Node().AddDependency(newBedrockEndpoint(s, vpc, s.comp.sg))
	}
	// What writes to the table or the buckets goes before the cleanup in a rollback.
	for _, writer := range []constructs.IConstruct{s.lb.alb, dist, s.comp.workload, vpc.Node().FindChild(jsii.String(flowLogID))} {
		writer.Node().AddDependency(cleanup)
	}
	dash := newMonitoring(s, s.lb, s.comp)
	s.access.finish()

	out := func(id, desc string, value *string) {
		awscdk.NewCfnOutput(s.stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(desc)})
	}
	out("SiteUrl", "Easel's public URL", jsii.String("https://"+*site+"/"))
	out("ImageBucketName", "S3 bucket holding the images (EASEL_BLOB)", s.images.BucketName())
	out("ImageAccessPointAlias", "S3 access point of the images (EASEL_BLOB s3://ALIAS?prefix=images/)", s.access.alias())
	out("ImageAccessPointArn", "S3 access point of the images, the only way the service reaches them", s.access.arn())
	out("CatalogTableName", "DynamoDB table (EASEL_CATALOG)", s.table.TableName())
	out("DistributionId", "CloudFront distribution", dist.DistributionId())
	if f := s.comp.fargate; f != nil {
		out("ClusterName", "ECS cluster of the Easel service", f.cluster.ClusterName())
		out("ServiceName", "ECS service of the Easel tasks", f.service.ServiceName())
	} else {
		out("AutoScalingGroupName", "Auto Scaling group of the Easel instances", s.comp.asg.AutoScalingGroupName())
	}
	out("ServiceLogGroup", "CloudWatch log group of the easel service", s.appLogs.LogGroupName())
	out("AlarmTopicArn", "SNS topic the alarms notify; subscribe to it", s.alarmTopic.TopicArn())
	out("OriginSecretArn", "Secret holding the "+OriginHeader+" value", s.originSecret.SecretArn())
	out("DashboardName", "CloudWatch dashboard", dash.DashboardName())
	if s.auth != nil {
		out("UserPoolId", "Cognito user pool of the people who sign in (add them here)", s.auth.pool.UserPoolId())
		out("UserPoolClientId", "Cognito app client of Easel's page (EASEL_OIDC_CLIENT_ID)", s.auth.client.UserPoolClientId())
		out("OidcIssuer", "OpenID Connect issuer (EASEL_OIDC_ISSUER)", s.auth.issuer)
		out("SignInDomain", "Cognito-hosted sign-in", s.auth.domain.BaseUrl(nil))
	}
	out("JobQueueUrl", "SQS job queue (EASEL_QUEUE)", s.jobs.queue.QueueUrl())
	out("JobDeadLetterQueueUrl", "SQS dead-letter queue of the job queue", s.jobs.deadLetter.QueueUrl())
	out("JobEventBusName", "EventBridge bus of the job events (EASEL_EVENTS)", s.jobs.bus.EventBusName())
	out("JobNotificationTopicArn", "SNS topic of terminal job events; subscribe to it", s.jobs.topic.TopicArn())
}
