package stacks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// The Fargate task's size and layout.
const (
	TaskCPU       = 1024 // 1 vCPU
	TaskMemoryMiB = 2048 // 2 GB
	ContainerName = "easel"
	// TaskHealthGrace is how long the service ignores the ALB's health checks of a
	// new task while Easel starts.
	TaskHealthGrace = 120 // seconds
	// BacklogPerTask is the target of the Fargate service's queue backlog scaling,
	// the same as BacklogPerInstance: a task runs as many jobs as an instance.
	BacklogPerTask = BacklogPerInstance
)

// DockerExcludes are left out of the image's build context (beside .dockerignore):
// what the build never needs and what would make the asset's staging slow or
// recursive (the CDK's own output under infra/).
func DockerExcludes() []string {
	return []string{".git", "**/node_modules", "infra/cdk.out", "**/cdk.out", ".cache", "easel-data", "bin", "*.test"}
}

// CheckDockerfile reports whether dir holds the Dockerfile the Fargate image is built
// from; synthesis stages dir as a Docker image asset, which `cdk deploy` builds.
func CheckDockerfile(dir string) error {
	path := filepath.Join(dir, "Dockerfile")
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		abs, _ := filepath.Abs(path)
		return fmt.Errorf("%s=%s builds the container image from %s, which does not exist: run from infra/ "+
			"(the repository root's Dockerfile), or give its directory with -c %s=DIR or %s=DIR",
			KeyCompute, ComputeFargate, abs, KeyDockerDir, EnvName(KeyDockerDir))
	}
	return nil
}

// fargateService is the ECS side of compute=fargate.
type fargateService struct {
	cluster awsecs.Cluster
	service awsecs.FargateService
	task    awsecs.FargateTaskDefinition
	exec    awsiam.IRole // the task execution role (image pull, logs, the origin secret)
	scaling awsapplicationautoscaling.ScalableTarget
	backlog awsapplicationautoscaling.CfnScalingPolicy
}

// newFargate builds compute=fargate: an ECS cluster (Container Insights) and an ARM64
// Fargate service of 1 vCPU / 2 GB tasks in the private subnets behind the same
// listener and target group health check as the instances, from the image the repo's
// Dockerfile builds; the task role gets exactly the instance role's application
// grants (grantAppPermissions), the origin secret reaches the container as an ECS
// secret; rolling deployments keep every
// task until its replacement is healthy, with the circuit breaker rolling a failed
// deployment back; logs go to the service log group; the task count tracks CPU and the
// job backlog per task.
func newFargate(s *mainStack, vpc awsec2.IVpc, lb loadBalancer, site *string) compute {
	f := &fargateService{}
	c := compute{fargate: f}
	f.cluster = awsecs.NewCluster(s.stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                 vpc,
		ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
	})
	// Only ECS tasks of this account and region may assume the role.
	c.role = awsiam.NewRole(s.stack, jsii.String("TaskRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]interface{}{
				"StringEquals": map[string]interface{}{"aws:SourceAccount": s.stack.Account()},
				"ArnLike": map[string]interface{}{
					"aws:SourceArn": fmt.Sprintf("arn:%s:ecs:%s:%s:*", *s.stack.Partition(), *s.stack.Region(), *s.stack.Account()),
				},
			},
		}),
		Description: jsii.String("Easel tasks: Bedrock models, images through the access point, catalog table"),
	})
	grantAppPermissions(s, c.role)

	f.task = awsecs.NewFargateTaskDefinition(s.stack, jsii.String("TaskDefinition"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            jsii.Number(TaskCPU),
		MemoryLimitMiB: jsii.Number(TaskMemoryMiB),
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_ARM64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
		TaskRole: c.role,
	})
	image := awsecs.ContainerImage_FromAsset(jsii.String(s.cfg.DockerDir), &awsecs.AssetImageProps{
		File:     jsii.String("Dockerfile"),
		Platform: awsecrassets.Platform_LINUX_ARM64(),
		Exclude:  jsii.Strings(DockerExcludes()...),
	})
	env := map[string]*string{}
	for _, line := range appSettings(s, site).envLines() {
		k, v, _ := strings.Cut(line, "=")
		env[k] = jsii.String(v)
	}
	f.task.AddContainer(jsii.String(ContainerName), &awsecs.ContainerDefinitionOptions{
		ContainerName: jsii.String(ContainerName),
		Image:         image,
		Environment:   &env,
		Secrets: &map[string]awsecs.Secret{
			"EASEL_ORIGIN_SECRET": awsecs.Secret_FromSecretsManager(s.originSecret, nil),
		},
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup:     s.appLogs,
			StreamPrefix: jsii.String("easel"),
		}),
		PortMappings: &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(AppPort), Protocol: awsecs.Protocol_TCP}},
		// SIGTERM, then the drain delay and timeout before SIGKILL (Fargate allows 120 s).
		StopTimeout: awscdk.Duration_Seconds(jsii.Number(StopTimeout.Seconds())),
		// Not read-only: Fargate mounts task volumes owned by root, which the image's
		// non-root user (65532) could not write, so a read-only root would leave Easel
		// no writable /tmp (Go spills large multipart uploads there). The image keeps
		// /tmp (1777) and the data directory (65532) writable; the user has no shell
		// and no capabilities to change anything else.
		ReadonlyRootFilesystem: jsii.Bool(false),
		Essential:              jsii.Bool(true),
	})
	f.exec = f.task.ExecutionRole()

	c.sg = awsec2.NewSecurityGroup(s.stack, jsii.String("TaskSg"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("Easel tasks: port 8080 from the ALB only"),
		AllowAllOutbound: jsii.Bool(true),
	})
	f.service = awsecs.NewFargateService(s.stack, jsii.String("Service"), &awsecs.FargateServiceProps{
		Cluster:                f.cluster,
		TaskDefinition:         f.task,
		DesiredCount:           jsii.Number(float64(s.cfg.MinCapacity)),
		MinHealthyPercent:      jsii.Number(100),
		MaxHealthyPercent:      jsii.Number(200),
		CircuitBreaker:         &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		HealthCheckGracePeriod: awscdk.Duration_Seconds(jsii.Number(TaskHealthGrace)),
		VpcSubnets:             &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
		SecurityGroups:         &[]awsec2.ISecurityGroup{c.sg},
		AssignPublicIp:         jsii.Bool(false),
		PlatformVersion:        awsecs.FargatePlatformVersion_LATEST,
		PropagateTags:          awsecs.PropagatedTagSource_SERVICE,
		// ECS Exec replaces SSH, as Session Manager does on the instances: operators
		// run `easel keys create` in a task.
		EnableExecuteCommand: jsii.Bool(true),
	})
	c.group = addTargets(lb, f.service.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{
		ContainerName: jsii.String(ContainerName),
		ContainerPort: jsii.Number(AppPort),
	}))
	c.workload = f.service

	f.scaling = awsapplicationautoscaling.NewScalableTarget(s.stack, jsii.String("ServiceScaling"), &awsapplicationautoscaling.ScalableTargetProps{
		ServiceNamespace:  awsapplicationautoscaling.ServiceNamespace_ECS,
		ResourceId:        jsii.String("service/" + *f.cluster.ClusterName() + "/" + *f.service.ServiceName()),
		ScalableDimension: jsii.String("ecs:service:DesiredCount"),
		MinCapacity:       jsii.Number(float64(s.cfg.MinCapacity)),
		MaxCapacity:       jsii.Number(float64(s.cfg.MaxCapacity)),
	})
	f.scaling.ScaleToTrackMetric(jsii.String("CpuTracking"), &awsapplicationautoscaling.BasicTargetTrackingScalingPolicyProps{
		PredefinedMetric: awsapplicationautoscaling.PredefinedMetric_ECS_SERVICE_AVERAGE_CPU_UTILIZATION,
		TargetValue:      jsii.Number(50),
		ScaleOutCooldown: awscdk.Duration_Minutes(jsii.Number(2)),
		ScaleInCooldown:  awscdk.Duration_Minutes(jsii.Number(5)),
	})
	f.backlog = f.scaleOnBacklog(s)

	period := awscdk.Duration_Minutes(jsii.Number(5))
	dims := &map[string]*string{"ClusterName": f.cluster.ClusterName(), "ServiceName": f.service.ServiceName()}
	c.cpu = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("AWS/ECS"), MetricName: jsii.String("CPUUtilization"),
		DimensionsMap: dims, Statistic: jsii.String("Average"), Period: period,
	})
	c.capacity = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("ECS/ContainerInsights"), MetricName: jsii.String("RunningTaskCount"),
		DimensionsMap: dims, Statistic: jsii.String("Average"), Period: period,
	})
	return c
}

// scaleOnBacklog tracks the job queue's visible messages per running task (Container
// Insights counts the tasks), beside CPU tracking: the service scales out when either
// asks, in only when both agree.
func (f *fargateService) scaleOnBacklog(s *mainStack) awsapplicationautoscaling.CfnScalingPolicy {
	dim := func(name string, value *string) interface{} {
		return &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricDimensionProperty{Name: jsii.String(name), Value: value}
	}
	query := func(id, label, namespace, metric, stat string, dims ...interface{}) interface{} {
		return &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricDataQueryProperty{
			Id:    jsii.String(id),
			Label: jsii.String(label),
			MetricStat: &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricStatProperty{
				Metric: &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricProperty{
					Namespace: jsii.String(namespace), MetricName: jsii.String(metric), Dimensions: &dims,
				},
				Stat: jsii.String(stat),
			},
			ReturnData: jsii.Bool(false),
		}
	}
	return awsapplicationautoscaling.NewCfnScalingPolicy(s.stack, jsii.String("TaskBacklogTracking"), &awsapplicationautoscaling.CfnScalingPolicyProps{
		PolicyName:      jsii.String("TaskBacklogTracking"),
		PolicyType:      jsii.String("TargetTrackingScaling"),
		ScalingTargetId: f.scaling.ScalableTargetId(),
		TargetTrackingScalingPolicyConfiguration: &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingScalingPolicyConfigurationProperty{
			TargetValue:      jsii.Number(BacklogPerTask),
			ScaleOutCooldown: jsii.Number(120),
			ScaleInCooldown:  jsii.Number(300),
			CustomizedMetricSpecification: &awsapplicationautoscaling.CfnScalingPolicy_CustomizedMetricSpecificationProperty{
				Metrics: &[]interface{}{
					query("backlog", "Job messages waiting (visible)", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Sum",
						dim("QueueName", s.jobs.queue.QueueName())),
					query("tasks", "Running tasks", "ECS/ContainerInsights", "RunningTaskCount", "Average",
						dim("ClusterName", f.cluster.ClusterName()), dim("ServiceName", f.service.ServiceName())),
					&awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricDataQueryProperty{
						Id:         jsii.String("perTask"),
						Label:      jsii.String("Job backlog per task"),
						Expression: jsii.String("backlog / tasks"),
						ReturnData: jsii.Bool(true),
					},
				},
			},
		},
	})
}
