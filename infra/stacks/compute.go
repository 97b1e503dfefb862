package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/easelhq/easel/dynamostore/tabledef"
)

// CatalogActions returns the DynamoDB actions the dynamostore adapter uses (no Scan,
// no ConditionCheckItem); the instances get them on the table and its indexes only.
func CatalogActions() []string {
	return []string{
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
		"dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:DescribeTable",
	}
}

// HealthCheckPath is the target group's health check: Easel's readiness, which
// answers 503 while the instance drains or cannot reach its dependencies.
const HealthCheckPath = "/readyz"

// compute is the instances' (or the Fargate tasks') side of the stack.
type compute struct {
	role  awsiam.Role                     // the application's role: the instances' or the tasks'
	asg   awsautoscaling.AutoScalingGroup // nil with Fargate
	group elbv2.ApplicationTargetGroup
	sg    awsec2.SecurityGroup
	// workload is the Auto Scaling group or the ECS service: what must wait for the
	// network and go before the first-deploy cleanup.
	workload constructs.IConstruct
	// cpu and capacity are the dashboard's average CPU and instances (tasks) in service.
	cpu, capacity awscloudwatch.IMetric
	fargate       *fargateService // nil with EC2
}

// newCompute builds the instance role, the Graviton launch template (IMDSv2 only,
// hop limit 1, encrypted gp3 root volume, no SSH key: SSM Session Manager), and the
// Auto Scaling group in the private subnets behind the listener: ELB health checks,
// CPU target tracking, rolling updates gated on cfn-signal, optional Spot above one
// on-demand instance.
func newCompute(s *mainStack, vpc awsec2.IVpc, lb loadBalancer, site *string) compute {
	c := compute{}
	c.role = awsiam.NewRole(s.stack, jsii.String("InstanceRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		Description: jsii.String("Easel instances: Bedrock models, images through the access point, catalog table, SSM"),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonSSMManagedInstanceCore")),
		},
	})
	binary := awss3assets.NewAsset(s.stack, jsii.String("EaselBinary"), &awss3assets.AssetProps{
		Path: jsii.String(s.cfg.BinaryPath),
	})
	grantInstancePermissions(s, c.role, binary)

	c.sg = awsec2.NewSecurityGroup(s.stack, jsii.String("InstanceSg"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("Easel instances: port 8080 from the ALB only"),
		AllowAllOutbound: jsii.Bool(true),
	})
	userData := awsec2.UserData_ForLinux(nil)
	lt := awsec2.NewLaunchTemplate(s.stack, jsii.String("LaunchTemplate"), &awsec2.LaunchTemplateProps{
		// Looked up once and kept in cdk.context.json: a new Amazon Linux release must
		// not replace every instance on an unrelated deploy (docs/deploy.md says how to
		// move to a newer image on purpose).
		MachineImage: awsec2.MachineImage_LatestAmazonLinux2023(&awsec2.AmazonLinux2023ImageSsmParameterProps{
			CpuType:         awsec2.AmazonLinuxCpuType_ARM_64,
			CachedInContext: jsii.Bool(true),
		}),
		InstanceType:            awsec2.NewInstanceType(jsii.String(s.cfg.InstanceTypes[0])),
		Role:                    c.role,
		SecurityGroup:           c.sg,
		UserData:                userData,
		HttpEndpoint:            jsii.Bool(true),
		HttpTokens:              awsec2.LaunchTemplateHttpTokens_REQUIRED,
		HttpPutResponseHopLimit: jsii.Number(1),
		DetailedMonitoring:      jsii.Bool(true),
		BlockDevices: &[]*awsec2.BlockDevice{{
			DeviceName: jsii.String("/dev/xvda"),
			Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(16), &awsec2.EbsDeviceOptions{
				Encrypted:           jsii.Bool(true),
				VolumeType:          awsec2.EbsDeviceVolumeType_GP3,
				DeleteOnTermination: jsii.Bool(true),
			}),
		}},
	})

	inService := s.cfg.MinCapacity
	if inService >= s.cfg.MaxCapacity {
		inService = s.cfg.MaxCapacity - 1 // CloudFormation needs room for one new instance
	}
	props := &awsautoscaling.AutoScalingGroupProps{
		Vpc:          vpc,
		VpcSubnets:   &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
		MinCapacity:  jsii.Number(float64(s.cfg.MinCapacity)),
		MaxCapacity:  jsii.Number(float64(s.cfg.MaxCapacity)),
		Cooldown:     awscdk.Duration_Minutes(jsii.Number(5)),
		GroupMetrics: &[]awsautoscaling.GroupMetrics{awsautoscaling.GroupMetrics_All()},
		HealthChecks: awsautoscaling.HealthChecks_WithAdditionalChecks(&awsautoscaling.AdditionalHealthChecksOptions{
			AdditionalTypes: &[]awsautoscaling.AdditionalHealthCheckType{awsautoscaling.AdditionalHealthCheckType_ELB},
			GracePeriod:     awscdk.Duration_Minutes(jsii.Number(5)),
		}),
		Signals: awsautoscaling.Signals_WaitForMinCapacity(&awsautoscaling.SignalsOptions{
			Timeout: awscdk.Duration_Minutes(jsii.Number(15)),
		}),
		UpdatePolicy: awsautoscaling.UpdatePolicy_RollingUpdate(&awsautoscaling.RollingUpdateOptions{
			MaxBatchSize:          jsii.Number(1),
			MinInstancesInService: jsii.Number(float64(inService)),
			PauseTime:             awscdk.Duration_Minutes(jsii.Number(15)),
			WaitOnResourceSignals: jsii.Bool(true),
		}),
		Notifications: &[]*awsautoscaling.NotificationConfiguration{{
			Topic: s.alarmTopic, ScalingEvents: awsautoscaling.ScalingEvents_ALL(),
		}},
	}
	if s.cfg.Spot {
		var overrides []*awsautoscaling.LaunchTemplateOverrides
		for _, t := range s.cfg.InstanceTypes {
			overrides = append(overrides, &awsautoscaling.LaunchTemplateOverrides{InstanceType: awsec2.NewInstanceType(jsii.String(t))})
		}
		props.MixedInstancesPolicy = &awsautoscaling.MixedInstancesPolicy{
			LaunchTemplate:          lt,
			LaunchTemplateOverrides: &overrides,
			InstancesDistribution: &awsautoscaling.InstancesDistribution{
				OnDemandBaseCapacity:                jsii.Number(1),
				OnDemandPercentageAboveBaseCapacity: jsii.Number(0),
				SpotAllocationStrategy:              awsautoscaling.SpotAllocationStrategy_PRICE_CAPACITY_OPTIMIZED,
			},
		}
		props.CapacityRebalance = jsii.Bool(true)
	} else {
		props.LaunchTemplate = lt
	}
	c.asg = awsautoscaling.NewAutoScalingGroup(s.stack, jsii.String("Asg"), props)
	c.asg.ScaleOnCpuUtilization(jsii.String("CpuTracking"), &awsautoscaling.CpuUtilizationScalingProps{
		TargetUtilizationPercent: jsii.Number(50),
	})
	s.jobs.scaleOnBacklog(s, c.asg)
	c.group = addTargets(lb, c.asg)
	c.workload = c.asg
	c.cpu, c.capacity = asgMetrics(c.asg)

	settings := appSettings(s, site)
	settings.AssetURL = *binary.S3ObjectUrl()
	userData.AddSignalOnExitCommand(c.asg)
	userData.AddCommands(*jsii.Strings(settings.bootCommands()...)...)
	return c
}

// addTargets adds the target group of the Easel instances or tasks to the listener,
// with the health check both use.
func addTargets(lb loadBalancer, targets elbv2.IApplicationLoadBalancerTarget) elbv2.ApplicationTargetGroup {
	return lb.listener.AddTargets(jsii.String("Easel"), &elbv2.AddApplicationTargetsProps{
		Port:                jsii.Number(AppPort),
		Protocol:            elbv2.ApplicationProtocol_HTTP,
		Targets:             &[]elbv2.IApplicationLoadBalancerTarget{targets},
		DeregistrationDelay: awscdk.Duration_Seconds(jsii.Number(DrainTimeout.Seconds())),
		// /readyz, not /healthz: a draining instance answers 503 and leaves the ALB
		// before it closes its listener. Easel exempts the check from the origin
		// secret for a private peer without X-Forwarded-For, which is what the ALB's
		// health checker is (anything through CloudFront and the ALB carries one).
		HealthCheck: &elbv2.HealthCheck{
			Path:                    jsii.String(HealthCheckPath),
			HealthyHttpCodes:        jsii.String("200"),
			Interval:                awscdk.Duration_Seconds(jsii.Number(HealthCheckInterval.Seconds())),
			Timeout:                 awscdk.Duration_Seconds(jsii.Number(5)),
			HealthyThresholdCount:   jsii.Number(2),
			UnhealthyThresholdCount: jsii.Number(HealthCheckUnhealthy),
		},
	})
}

// asgMetrics are the instances' average CPU and their number in service.
func asgMetrics(asg awsautoscaling.AutoScalingGroup) (cpu, capacity awscloudwatch.IMetric) {
	period := awscdk.Duration_Minutes(jsii.Number(5))
	dims := &map[string]*string{"AutoScalingGroupName": asg.AutoScalingGroupName()}
	cpu = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("AWS/EC2"), MetricName: jsii.String("CPUUtilization"),
		DimensionsMap: dims, Statistic: jsii.String("Average"), Period: period,
	})
	capacity = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("AWS/AutoScaling"), MetricName: jsii.String("GroupInServiceInstances"),
		DimensionsMap: dims, Statistic: jsii.String("Average"), Period: period,
	})
	return cpu, capacity
}

// appSettings are Easel's settings, the same for instances and tasks.
func appSettings(s *mainStack, site *string) instanceSettings {
	return instanceSettings{
		Region:       s.cfg.Region,
		Table:        *s.table.TableName(),
		Bucket:       *s.access.alias(),
		Models:       s.cfg.Models,
		SiteHost:     *site,
		SecretArn:    *s.originSecret.SecretArn(),
		LogGroup:     *s.appLogs.LogGroupName(),
		DrainSeconds: int(DrainTimeout.Seconds()),
		QueueName:    *s.jobs.queue.QueueName(),
		EventBus:     *s.jobs.bus.EventBusName(),
		Extra:        accessEnv(s),
	}
}

// grantInstancePermissions gives the role exactly what Easel and the boot script use.
func grantInstancePermissions(s *mainStack, role awsiam.Role, binary awss3assets.Asset) {
	grantAppPermissions(s, role)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:     jsii.String("EaselBinaryAsset"),
		Actions: jsii.Strings("s3:GetObject"),
		Resources: jsii.Strings(fmt.Sprintf("arn:%s:s3:::%s/%s",
			*s.stack.Partition(), *binary.S3BucketName(), *binary.S3ObjectKey())),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ServiceLog"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
		Resources: jsii.Strings(*s.appLogs.LogGroupArn()),
	}))
	s.originSecret.GrantRead(role, nil)
}

// grantAppPermissions gives an application role (the instances' or the Fargate
// task's) exactly what Easel itself uses: the models, the catalog table, the images
// through the access point, the job queues and bus, invalidations of the
// distribution, and with private images the current signing key.
func grantAppPermissions(s *mainStack, role awsiam.Role) {
	for _, st := range bedrockStatements(s.stack, s.cfg.Models) {
		role.AddToPrincipalPolicy(st)
	}
	tableResources := []string{*s.table.TableArn()}
	for _, ix := range tabledef.Definition().Indexes {
		tableResources = append(tableResources, *s.table.TableArn()+"/index/"+ix.Name)
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("CatalogTable"),
		Actions:   jsii.Strings(CatalogActions()...),
		Resources: jsii.Strings(tableResources...),
	}))
	s.access.grant(role)
	s.jobs.grant(role)
	grantInvalidation(s, role)
	if s.signing != nil {
		s.signing.grantApp(role)
	}
}
