package stacks

import (
	"fmt"
	"strings"
	"time"
)

// Instance layout and timings shared by the user data, the target group and the
// tests.
const (
	BinaryInstallPath = "/usr/local/bin/easel"
	DataDir           = "/var/lib/easel" // systemd StateDirectory; EASEL_DATA
	EnvFilePath       = "/etc/easel/easel.env"
	UnitPath          = "/etc/systemd/system/easel.service"
	LogFilePath       = "/var/log/easel/easel.log"
	ServiceUser       = "easel"
	AppPort           = 8080
	// GenerateTimeout bounds one generation on the instances: below CloudFront's
	// 60-second origin read timeout (cdn.go), so the API's own error reaches the client.
	GenerateTimeout = GenerateTimeoutSeconds * time.Second
	// DrainMargin is what a request may still need after its generation timed out or
	// finished: storing the images (S3 PUT, DynamoDB) and answering.
	DrainMargin = 10 * time.Second
	// DrainTimeout is EASEL_DRAIN_TIMEOUT and the target group's deregistration delay:
	// at least the generation timeout plus the margin, so neither a scale-in nor a
	// rolling update cuts off a generation in flight (and bills a model call whose
	// answer is lost).
	DrainTimeout = GenerateTimeout + DrainMargin
	// HealthCheckInterval and HealthCheckUnhealthy are the target group's health
	// check of /readyz: the ALB stops sending requests to an instance that answered
	// 503 this many times in a row.
	HealthCheckInterval  = 10 * time.Second
	HealthCheckUnhealthy = 2
	// DrainDelay is EASEL_DRAIN_DELAY: on SIGTERM Easel answers /readyz 503 but keeps
	// serving this long, so that the ALB's health check has taken the instance out
	// before the listener closes (two failed checks, plus a margin).
	DrainDelay = HealthCheckInterval*HealthCheckUnhealthy + 5*time.Second
	// StopTimeout is systemd's TimeoutStopSec: above the drain delay plus the drain
	// timeout, so Easel finishes draining before systemd kills it.
	StopTimeout = DrainDelay + DrainTimeout + 5*time.Second
)

// instanceSettings are the per-deployment values the boot script needs. Values may be
// CDK tokens; they are rendered by CloudFormation.
type instanceSettings struct {
	Region       string
	Table        string
	Bucket       string // the images access point's alias, used as a bucket name
	Models       []string
	SiteHost     string
	SecretArn    string
	AssetURL     string // s3://bucket/key of the binary
	LogGroup     string
	DrainSeconds int
	QueueName    string   // the SQS job queue (EASEL_QUEUE=sqs://NAME)
	EventBus     string   // the EventBridge bus (EASEL_EVENTS=eventbridge://NAME)
	Extra        []string // KEY=VALUE lines of the access options (accessEnv)
}

// GenerateTimeoutSeconds is GenerateTimeout in seconds (EASEL_GENERATE_TIMEOUT).
const GenerateTimeoutSeconds = 55

// envFile returns /etc/easel/easel.env without the origin secret, which the boot
// script appends after reading it from Secrets Manager.
func (v instanceSettings) envFile() string { return strings.Join(v.envLines(), "\n") + "\n" }

// envLines are Easel's KEY=VALUE settings, the same on an instance and in a task.
func (v instanceSettings) envLines() []string {
	models := make([]string, len(v.Models))
	for i, m := range v.Models {
		models[i] = "bedrock:" + m
	}
	lines := []string{
		"EASEL_ADDR=0.0.0.0:" + fmt.Sprint(AppPort),
		"EASEL_ENV=production",
		"EASEL_DATA=" + DataDir,
		"EASEL_CATALOG=dynamodb://" + v.Table,
		"EASEL_BLOB=s3://" + v.Bucket + "?prefix=" + ImagePrefix,
		"EASEL_MODELS=" + strings.Join(models, ","),
		"EASEL_PUBLIC_URL=https://" + v.SiteHost + "/" + ImagePrefix,
		fmt.Sprintf("EASEL_DRAIN_TIMEOUT=%ds", v.DrainSeconds),
		fmt.Sprintf("EASEL_DRAIN_DELAY=%ds", int(DrainDelay.Seconds())),
		// CloudFront gives the origin 60 s to answer: Easel answers first, with its own
		// 504 model_timeout, rather than leaving the client CloudFront's bare 504.
		fmt.Sprintf("EASEL_GENERATE_TIMEOUT=%ds", GenerateTimeoutSeconds),
		fmt.Sprintf("EASEL_BEDROCK_TIMEOUT=%ds", GenerateTimeoutSeconds-5),
		// Jobs: the queue's visibility timeout is the lease and its redrive count sits
		// above the attempts (jobs.go), so Easel fails a job before SQS gives up on it.
		"EASEL_QUEUE=sqs://" + v.QueueName,
		"EASEL_EVENTS=eventbridge://" + v.EventBus,
		fmt.Sprintf("EASEL_JOB_LEASE=%ds", int(JobLease.Seconds())),
		fmt.Sprintf("EASEL_JOB_MAX_ATTEMPTS=%d", JobMaxAttempts),
		"EASEL_CHECK_MODELS=true",
		"EASEL_LOG_FORMAT=json",
	}
	lines = append(lines, v.Extra...)
	return append(lines, "AWS_REGION="+v.Region)
}

// accessEnv is the settings of the access options: the distribution whose paths
// Easel invalidates when an image is deleted; with private images the signing key
// (its CloudFront id and the secret of its private key) and the URLs' expiry; with
// Cognito the issuer and the app client.
func accessEnv(s *mainStack) []string {
	lines := []string{"EASEL_CLOUDFRONT_DISTRIBUTION=" + *s.distribution.DistributionId()}
	if s.signing != nil {
		lines = append(lines,
			"EASEL_PRIVATE_IMAGES=true",
			fmt.Sprintf("EASEL_PRIVATE_IMAGE_EXPIRY=%dh", int(PrivateImageExpiry.Hours())),
			"EASEL_CLOUDFRONT_KEY_PAIR_ID="+*s.signing.current.Ref(),
			"EASEL_CLOUDFRONT_PRIVATE_KEY_SECRET="+*s.signing.secret.SecretArn())
	}
	if s.auth != nil {
		lines = append(lines,
			"EASEL_OIDC_ISSUER="+*s.auth.issuer,
			"EASEL_OIDC_CLIENT_ID="+*s.auth.client.UserPoolClientId())
	}
	return lines
}

// unitFile is the systemd unit: a dedicated non-root user, the env file, restart
// always, SIGTERM with a stop timeout above the drain timeout, logs to a file the
// CloudWatch agent ships.
func unitFile() string {
	return fmt.Sprintf(`[Unit]
Description=Easel image generation service
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=%[1]s
Group=%[1]s
EnvironmentFile=%[2]s
ExecStart=%[3]s serve
Restart=always
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec=%[4]d
StandardOutput=append:%[5]s
StandardError=append:%[5]s
StateDirectory=easel
WorkingDirectory=%[6]s
NoNewPrivileges=true
PrivateTmp=true
ProtectSystem=strict
ProtectHome=true
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`, ServiceUser, EnvFilePath, BinaryInstallPath, int(StopTimeout.Seconds()), LogFilePath, DataDir)
}

// adminWrapper is /usr/bin/easel: sudo's PATH lacks /usr/local/bin, so an operator's
// `sudo easel keys create --user NAME` runs this, which loads the service's env file
// and runs the binary as the service user.
func adminWrapper() string {
	return fmt.Sprintf(`#!/bin/sh
# Runs the easel CLI with the service's configuration (see %[1]s).
set -a
. %[1]s
set +a
cd %[4]s
exec runuser -u %[2]s -- %[3]s "$@"
`, EnvFilePath, ServiceUser, BinaryInstallPath, DataDir)
}

// agentConfig ships the service log to CloudWatch Logs, one stream per instance.
func (v instanceSettings) agentConfig() string {
	return fmt.Sprintf(`{"logs":{"logs_collected":{"files":{"collect_list":[`+
		`{"file_path":"%s","log_group_name":"%s","log_stream_name":"{instance_id}","retention_in_days":-1}]}}}}`,
		LogFilePath, v.LogGroup)
}

// logrotateConfig keeps the local log file bounded; copytruncate suits the
// append-mode file descriptor systemd holds.
func logrotateConfig() string {
	return LogFilePath + ` {
    daily
    rotate 7
    compress
    missingok
    notifempty
    copytruncate
}
`
}

// bootCommands is the user data after CDK's cfn-signal trap: install packages, the
// user, the binary, configuration, the unit and the log agent, start Easel and wait
// until /readyz answers, so the Auto Scaling group's signal means "serving".
func (v instanceSettings) bootCommands() []string {
	heredoc := func(path, mode, owner, body string) string {
		return fmt.Sprintf("install -D -m %s -o %s -g %s /dev/null %s\ncat > %s <<'EASEL_EOF'\n%sEASEL_EOF",
			mode, strings.Split(owner, ":")[0], strings.Split(owner, ":")[1], path, path, body)
	}
	return []string{
		"set -euo pipefail",
		"dnf install -y aws-cfn-bootstrap amazon-cloudwatch-agent logrotate",
		fmt.Sprintf("id -u %[1]s >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin %[1]s", ServiceUser),
		"aws s3 cp '" + v.AssetURL + "' /tmp/easel --region " + v.Region + " --only-show-errors",
		"install -m 0755 -o root -g root /tmp/easel " + BinaryInstallPath + " && rm -f /tmp/easel",
		"install -d -m 0750 -o root -g " + ServiceUser + " /etc/easel",
		heredoc(EnvFilePath, "0640", "root:"+ServiceUser, v.envFile()),
		"secret=$(aws secretsmanager get-secret-value --region " + v.Region + " --secret-id '" + v.SecretArn +
			"' --query SecretString --output text)",
		`printf 'EASEL_ORIGIN_SECRET=%s\n' "$secret" >> ` + EnvFilePath + " && unset secret",
		heredoc("/usr/bin/easel", "0755", "root:root", adminWrapper()),
		"install -d -m 0755 -o " + ServiceUser + " -g " + ServiceUser + " /var/log/easel",
		heredoc("/etc/logrotate.d/easel", "0644", "root:root", logrotateConfig()),
		heredoc(UnitPath, "0644", "root:root", unitFile()),
		heredoc("/opt/aws/amazon-cloudwatch-agent/etc/easel.json", "0644", "root:root", v.agentConfig()+"\n"),
		"/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s " +
			"-c file:/opt/aws/amazon-cloudwatch-agent/etc/easel.json",
		"systemctl daemon-reload",
		"systemctl enable --now easel",
		fmt.Sprintf("for i in $(seq 1 60); do curl -fsS -o /dev/null http://127.0.0.1:%d/readyz && exit 0; sleep 5; done", AppPort),
		"echo 'easel did not become ready; see " + LogFilePath + "' >&2",
		"exit 1",
	}
}
