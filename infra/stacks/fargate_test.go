package stacks_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/easelhq/easel/infra/stacks"
)

// roleStatements returns the inline statements of the role whose logical id starts
// with rolePrefix, flattened, without the ones whose Sid or text matches skip.
func roleStatements(t *testing.T, s *synthesized, rolePrefix string, skip func(st map[string]interface{}) bool) []string {
	t.Helper()
	var out []string
	for _, p := range s.resources(stacks.MainStackName, "AWS::IAM::Policy") {
		pp := p["Properties"].(map[string]interface{})
		if !strings.HasPrefix(strings.Trim(flatten(pp["Roles"]), "<>"), rolePrefix) {
			continue
		}
		for _, st := range pp["PolicyDocument"].(map[string]interface{})["Statement"].([]interface{}) {
			st := st.(map[string]interface{})
			if !skip(st) {
				out = append(out, flatten(st))
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestFargateService: compute=fargate replaces the Auto Scaling group with an ECS
// cluster (Container Insights) and an ARM64 Fargate service of 1 vCPU / 2 GB tasks
// behind the same listener, health-checked on /readyz; the container is the image
// built from the Dockerfile (staged, not built: synthesis runs no Docker), with the
// instances' environment, the origin secret as an ECS secret, logs to the service
// log group; the task role has
// exactly the instance role's application grants; the circuit breaker rolls back;
// the task count tracks CPU and the job backlog per task.
func TestFargateService(t *testing.T) {
	for _, pair := range [][2]string{{"fargate-keys-public", "ec2-keys-public"}, {"fargate-cognito-private", "ec2-cognito-private"}} {
		t.Run(pair[0], func(t *testing.T) {
			s := synthesize(t, pair[0])
			ec2 := synthesize(t, pair[1])
			tpl := s.template(t, stacks.MainStackName)
			for _, typ := range []string{"AWS::AutoScaling::AutoScalingGroup", "AWS::EC2::LaunchTemplate"} {
				if n := len(s.resources(stacks.MainStackName, typ)); n != 0 {
					t.Errorf("%d %s with Fargate, want none", n, typ)
				}
			}
			check(t, "cluster with Container Insights", func() {
				tpl.HasResourceProperties(str("AWS::ECS::Cluster"), obj{
					"ClusterSettings": arr{obj{"Name": "containerInsights", "Value": "enabled"}},
				})
			})
			_, td := one(t, s, stacks.MainStackName, "AWS::ECS::TaskDefinition")
			tdp := td["Properties"].(map[string]interface{})
			for k, want := range map[string]string{
				"Cpu": "1024", "Memory": "2048", "NetworkMode": "awsvpc", "RequiresCompatibilities": "FARGATE",
				"RuntimePlatform": `{"CpuArchitecture":"ARM64","OperatingSystemFamily":"LINUX"}`,
			} {
				if got := flatten(tdp[k]); got != want {
					t.Errorf("task definition %s = %s, want %s", k, got, want)
				}
			}
			if r := flatten(tdp["TaskRoleArn"]); !strings.HasPrefix(r, "<TaskRole") {
				t.Errorf("task role = %s", r)
			}
			containers := tdp["ContainerDefinitions"].([]interface{})
			if len(containers) != 1 {
				t.Fatalf("%d containers, want 1", len(containers))
			}
			cd := containers[0].(map[string]interface{})
			if img := flatten(cd["Image"]); !strings.Contains(img, ".dkr.ecr.") || !strings.Contains(img, "container-assets") {
				t.Errorf("image = %s, want the Docker image asset", img)
			}
			for k, want := range map[string]string{
				"Name":                   stacks.ContainerName,
				"ReadonlyRootFilesystem": "false",
				"StopTimeout":            flatten(int(stacks.StopTimeout.Seconds())),
				"PortMappings":           `{"ContainerPort":8080,"Protocol":"tcp"}`,
			} {
				if got := flatten(cd[k]); got != want {
					t.Errorf("container %s = %s, want %s", k, got, want)
				}
			}
			if lc := flatten(cd["LogConfiguration"]); !strings.Contains(lc, `"LogDriver":"awslogs"`) || !strings.Contains(lc, `"awslogs-group":{"Ref":"ServiceLogs`) {
				t.Errorf("logging = %s, want awslogs to the service log group", lc)
			}
			if sec := flatten(cd["Secrets"]); !strings.Contains(sec, `"Name":"EASEL_ORIGIN_SECRET","ValueFrom":{"Ref":"OriginSecret`) {
				t.Errorf("secrets = %s, want the origin secret", sec)
			}
			// The same environment as the instances' env file, line for line.
			env := map[string]string{}
			for _, e := range cd["Environment"].([]interface{}) {
				e := e.(map[string]interface{})
				env[e["Name"].(string)] = flatten(e["Value"])
			}
			envFile := userData(t, ec2)
			for k, v := range env {
				if !strings.Contains(envFile, "\n"+k+"="+v+"\n") {
					t.Errorf("task environment %s=%s is not in the instances' env file", k, v)
				}
			}
			for _, k := range []string{"EASEL_BLOB", "EASEL_CATALOG", "EASEL_QUEUE", "EASEL_EVENTS", "EASEL_MODELS", "EASEL_PUBLIC_URL",
				"EASEL_DRAIN_TIMEOUT", "EASEL_DRAIN_DELAY", "EASEL_DATA", "EASEL_CLOUDFRONT_DISTRIBUTION"} {
				if _, ok := env[k]; !ok {
					t.Errorf("task environment lacks %s", k)
				}
			}
			if strings.Contains(pair[0], "private") && env["EASEL_PRIVATE_IMAGES"] != "true" {
				t.Error("private images variant without EASEL_PRIVATE_IMAGES")
			}
			if strings.Contains(pair[0], "cognito") && env["EASEL_OIDC_CLIENT_ID"] == "" {
				t.Error("cognito variant without EASEL_OIDC_CLIENT_ID")
			}

			_, svc := one(t, s, stacks.MainStackName, "AWS::ECS::Service")
			sp := svc["Properties"].(map[string]interface{})
			dc := sp["DeploymentConfiguration"].(map[string]interface{})
			for k, want := range map[string]string{
				"LaunchType":                    "FARGATE",
				"DesiredCount":                  "2",
				"HealthCheckGracePeriodSeconds": flatten(stacks.TaskHealthGrace),
				"EnableExecuteCommand":          "true",
			} {
				if got := flatten(sp[k]); got != want {
					t.Errorf("service %s = %s, want %s", k, got, want)
				}
			}
			if got := flatten(dc["DeploymentCircuitBreaker"]); got != `{"Enable":true,"Rollback":true}` {
				t.Errorf("circuit breaker = %s, want enabled with rollback", got)
			}
			if dc["MinimumHealthyPercent"] != float64(100) || dc["MaximumPercent"] != float64(200) {
				t.Errorf("deployment %v, want 100 %% healthy, up to 200 %%", dc)
			}
			if n := flatten(sp["NetworkConfiguration"]); !strings.Contains(n, `"AssignPublicIp":"DISABLED"`) || !strings.Contains(n, "PrivateSubnet") {
				t.Errorf("network = %s, want private subnets, no public IP", n)
			}
			groupID, _ := one(t, s, stacks.MainStackName, "AWS::ElasticLoadBalancingV2::TargetGroup")
			if lb := flatten(sp["LoadBalancers"]); lb != `{"ContainerName":"easel","ContainerPort":8080,"TargetGroupArn":{"Ref":"`+groupID+`"}}` {
				t.Errorf("service load balancers = %s", lb)
			}
			// The tasks admit the ALB on the app port, and nothing else.
			ingress := 0
			for _, r := range s.resources(stacks.MainStackName, "AWS::EC2::SecurityGroupIngress") {
				p := flatten(r["Properties"])
				if !strings.Contains(p, `"GroupId":{"Fn::GetAtt":["TaskSg`) {
					continue
				}
				ingress++
				if !strings.Contains(p, `"FromPort":8080`) || !strings.Contains(p, `"ToPort":8080`) || !strings.Contains(p, `"SourceSecurityGroupId":{"Fn::GetAtt":["AlbSg`) {
					t.Errorf("task security group ingress %s, want port 8080 from the ALB only", p)
				}
			}
			if ingress != 1 {
				t.Errorf("%d ingress rules on the tasks' security group, want 1", ingress)
			}
			check(t, "target group health check", func() {
				tpl.HasResourceProperties(str("AWS::ElasticLoadBalancingV2::TargetGroup"), obj{
					"TargetType": "ip", "Port": stacks.AppPort, "HealthCheckPath": stacks.HealthCheckPath,
					"HealthyThresholdCount": 2, "UnhealthyThresholdCount": stacks.HealthCheckUnhealthy,
					"Matcher": obj{"HttpCode": "200"},
				})
			})

			// Least privilege: the task role's grants are the instance role's, but for
			// what only the boot script uses (the binary, the log agent, the origin
			// secret, cfn-signal); beside them only ECS Exec's channels.
			ec2Only := func(st map[string]interface{}) bool {
				text := flatten(st)
				return st["Sid"] == "EaselBinaryAsset" || st["Sid"] == "ServiceLog" || strings.Contains(text, "OriginSecret") ||
					flatten(st["Action"]) == "cloudformation:SignalResource"
			}
			exec := func(st map[string]interface{}) bool { return strings.Contains(flatten(st["Action"]), "ssmmessages:") }
			task := roleStatements(t, s, "TaskRole", exec)
			inst := roleStatements(t, ec2, "InstanceRole", ec2Only)
			if strings.Join(task, "\n") != strings.Join(inst, "\n") {
				t.Errorf("task role grants differ from the instance role's:\ntask:\n%s\ninstances:\n%s", strings.Join(task, "\n"), strings.Join(inst, "\n"))
			}
			for _, st := range roleStatements(t, s, "TaskRole", func(st map[string]interface{}) bool { return !exec(st) }) {
				if !strings.Contains(st, `"Resource":"*"`) || strings.Contains(st, "ssmmessages:*") {
					t.Errorf("ECS Exec statement %s", st)
				}
			}
			check(t, "task role trusts this account's ECS tasks only", func() {
				tpl.HasResourceProperties(str("AWS::IAM::Role"), obj{
					"AssumeRolePolicyDocument": like(obj{"Statement": arrayWith(like(obj{
						"Principal": obj{"Service": "ecs-tasks.amazonaws.com"},
						"Condition": like(obj{"StringEquals": obj{"aws:SourceAccount": "123456789012"}}),
					}))}),
				})
			})

			// Scaling: CPU and the job backlog per task.
			check(t, "scalable target", func() {
				tpl.HasResourceProperties(str("AWS::ApplicationAutoScaling::ScalableTarget"), obj{
					"MinCapacity": 2, "MaxCapacity": 4, "ScalableDimension": "ecs:service:DesiredCount", "ServiceNamespace": "ecs",
				})
			})
			check(t, "CPU tracking", func() {
				tpl.HasResourceProperties(str("AWS::ApplicationAutoScaling::ScalingPolicy"), obj{
					"TargetTrackingScalingPolicyConfiguration": like(obj{
						"PredefinedMetricSpecification": obj{"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
						"TargetValue":                   50,
					}),
				})
			})
			queueID, _, _, _ := queues(t, s)
			backlog := ""
			for _, p := range s.resources(stacks.MainStackName, "AWS::ApplicationAutoScaling::ScalingPolicy") {
				if c := flatten(p["Properties"]); strings.Contains(c, "CustomizedMetricSpecification") {
					backlog = c
				}
			}
			for _, w := range []string{
				`"Expression":"backlog / tasks","Id":"perTask"`, `"ReturnData":true`,
				`"MetricName":"ApproximateNumberOfMessagesVisible","Namespace":"AWS/SQS"`, queueID,
				`"MetricName":"RunningTaskCount","Namespace":"ECS/ContainerInsights"`,
				`"TargetValue":` + flatten(stacks.BacklogPerTask),
			} {
				if !strings.Contains(backlog, w) {
					t.Errorf("backlog policy %s lacks %s", backlog, w)
				}
			}
			if n := len(s.resources(stacks.MainStackName, "AWS::AutoScaling::ScalingPolicy")); n != 0 {
				t.Errorf("%d EC2 scaling policies with Fargate", n)
			}

			// The image asset: staged from the Dockerfile's directory for linux/arm64.
			var assets struct {
				DockerImages map[string]struct {
					Source struct {
						Directory string `json:"directory"`
						Platform  string `json:"platform"`
					} `json:"source"`
				} `json:"dockerImages"`
			}
			if err := readJSON(filepath.Join(s.dir, stacks.MainStackName+".assets.json"), &assets); err != nil {
				t.Fatal(err)
			}
			if len(assets.DockerImages) != 1 {
				t.Fatalf("%d Docker image assets, want 1", len(assets.DockerImages))
			}
			for _, a := range assets.DockerImages {
				if a.Source.Platform != "linux/arm64" {
					t.Errorf("image platform %q, want linux/arm64", a.Source.Platform)
				}
				if _, err := os.Stat(filepath.Join(s.dir, a.Source.Directory, "Dockerfile")); err != nil {
					t.Errorf("staged image context lacks the Dockerfile: %v", err)
				}
			}
			check(t, "outputs", func() {
				tpl.HasOutput(str("ServiceName"), obj{"Value": assertions.Match_AnyValue()})
				tpl.HasOutput(str("ClusterName"), obj{"Value": assertions.Match_AnyValue()})
			})
		})
	}
}

// TestFargateNeedsDockerfile: without a Dockerfile in dockerDir, compute=fargate is
// refused before anything is built, naming the file and how to point at it; EC2 does
// not need one.
func TestFargateNeedsDockerfile(t *testing.T) {
	empty := t.TempDir()
	app, err := stacks.NewApp(stacks.AppOptions{Outdir: t.TempDir(), Context: map[string]string{
		stacks.KeyCompute: stacks.ComputeFargate, stacks.KeyDockerDir: empty,
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := stacks.LoadConfig(stacks.ContextLookup(app), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	_, err = stacks.Build(app, cfg)
	for _, w := range []string{filepath.Join(empty, "Dockerfile"), "does not exist", "compute=fargate", stacks.KeyDockerDir, "EASEL_CDK_DOCKER_DIR"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Build(fargate, no Dockerfile) error = %v, want one containing %q", err, w)
		}
	}
	if err := stacks.CheckDockerfile("../.."); err != nil {
		t.Logf("the repository has no Dockerfile yet: %v", err)
	}
}
