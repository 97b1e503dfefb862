package stacks

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// Jobs: the queue, its dead-letter queue and the event bus, and the settings the
// instances and the queue must agree on.
const (
	// JobLease is EASEL_JOB_LEASE and the queue's visibility timeout: a worker's claim
	// on a job, renewed every 5 s while the job runs, and how long a received message
	// stays hidden. Easel sets the visibility on each receive anyway; the queue's
	// default matches so that a consumer that sets none behaves the same.
	JobLease = 30 * time.Second
	// JobMaxAttempts is EASEL_JOB_MAX_ATTEMPTS: how many times a job is started before
	// Easel fails it with its own clear error.
	JobMaxAttempts = 5
	// QueueReceiveAllowance is the receives of a message that start nothing: messages a
	// draining instance held and handed back, a job whose backoff is not yet due, a
	// duplicate delivery of a job with a live lease. They count towards SQS's
	// maxReceiveCount but not towards Easel's attempts.
	QueueReceiveAllowance = 5
	// QueueMaxReceives is the redrive policy's maxReceiveCount: above JobMaxAttempts,
	// so a job that keeps failing to finish fails in Easel first (with the job's own
	// error), and the dead-letter queue only catches messages whose job could not even
	// be claimed (Easel's reaper then fails the job: "delivered N times").
	QueueMaxReceives = JobMaxAttempts + QueueReceiveAllowance
	// QueueRetention keeps a queued job's message for 4 days (SQS's default); Easel's
	// reaper sends a new message for a job queued too long anyway.
	QueueRetention = 4 * 24 * time.Hour
	// DeadLetterRetention is the longest SQS allows: time to look at a dead letter.
	// It must exceed QueueRetention, since a standard queue's message keeps its
	// original enqueue time in the dead-letter queue.
	DeadLetterRetention = 14 * 24 * time.Hour
	// QueueLongPoll is the queue's ReceiveMessageWaitTimeSeconds (SQS's longest): a
	// receive that gives no wait of its own long-polls.
	QueueLongPoll = 20 * time.Second

	// EventSource and the detail types are what Easel's EventBridge adapter publishes
	// (eventbridge package); the rule forwards exactly these to the topic.
	EventSource = "easel"

	// BacklogPerInstance is the target of the queue-backlog scaling policy: visible
	// (not yet taken) job messages per InService instance. An instance runs
	// EASEL_WORKERS jobs at once (by default --max-inflight, 64) and already holds up
	// to twice that many messages; a generation takes about 5-15 s, so 64 visible
	// messages per instance is about one more generation's wait for each of them.
	// Above it, jobs wait longer than they run and the group adds an instance.
	BacklogPerInstance = 64

	// Alarm thresholds of the job queue.
	AlarmQueueAgeSeconds  = 600 // oldest message, seconds, for two 5-minute periods
	AlarmDeadLettersDepth = 1   // messages in the dead-letter queue
)

// JobEventTypes are the EventBridge detail types of terminal job events.
func JobEventTypes() []string {
	return []string{"Image Generation Succeeded", "Image Generation Failed", "Image Generation Canceled"}
}

// QueueActions are the SQS actions Easel's sqsqueue adapter uses on the job queue.
func QueueActions() []string {
	return []string{
		"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
		"sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:SendMessage",
	}
}

// DeadLetterActions are the SQS actions Easel uses on the dead-letter queue: its
// reaper resolves it (named by the redrive policy), receives dead letters, fails
// their jobs and deletes them. No SendMessage: SQS itself moves dead messages.
func DeadLetterActions() []string {
	return []string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"}
}

// jobs is the job queue and the event bus.
type jobs struct {
	queue      awssqs.Queue
	deadLetter awssqs.Queue
	bus        awsevents.EventBus
	rule       awsevents.Rule
	topic      awssns.Topic
	key        awskms.Key
}

// newJobs builds the SQS job queue with its dead-letter queue (SSE-SQS, TLS only),
// and the EventBridge bus whose rule sends terminal job events to an SNS topic
// encrypted with a customer-managed key (an email subscription with notifyEmail).
func newJobs(s *mainStack) jobs {
	j := jobs{}
	j.deadLetter = awssqs.NewQueue(s.stack, jsii.String("JobDeadLetters"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Seconds(jsii.Number(DeadLetterRetention.Seconds())),
		// Easel's reaper receives dead letters with the lease as their visibility.
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(JobLease.Seconds())),
	})
	j.queue = awssqs.NewQueue(s.stack, jsii.String("JobQueue"), &awssqs.QueueProps{
		Encryption:             awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:             jsii.Bool(true),
		VisibilityTimeout:      awscdk.Duration_Seconds(jsii.Number(JobLease.Seconds())),
		RetentionPeriod:        awscdk.Duration_Seconds(jsii.Number(QueueRetention.Seconds())),
		ReceiveMessageWaitTime: awscdk.Duration_Seconds(jsii.Number(QueueLongPoll.Seconds())),
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			Queue:           j.deadLetter,
			MaxReceiveCount: jsii.Number(QueueMaxReceives),
		},
	})

	j.bus = awsevents.NewEventBus(s.stack, jsii.String("JobEvents"), &awsevents.EventBusProps{
		Description: jsii.String("Easel's terminal job events (source " + EventSource + ")"),
	})
	j.key = awskms.NewKey(s.stack, jsii.String("NotificationKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts Easel's job notification topic"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
	})
	j.topic = awssns.NewTopic(s.stack, jsii.String("JobNotifications"), &awssns.TopicProps{
		DisplayName: jsii.String("Easel job notifications"),
		MasterKey:   j.key,
		EnforceSSL:  jsii.Bool(true),
	})
	if s.cfg.NotifyEmail != "" {
		j.topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(s.cfg.NotifyEmail), nil))
	}
	j.rule = awsevents.NewRule(s.stack, jsii.String("JobEventsToTopic"), &awsevents.RuleProps{
		EventBus:    j.bus,
		Description: jsii.String("Terminal image generation jobs to the notification topic"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings(EventSource),
			DetailType: jsii.Strings(JobEventTypes()...),
		},
		// The SNS target also lets EventBridge publish to the topic (topic policy) and
		// use its key (key policy: kms:Decrypt, kms:GenerateDataKey*), which it needs
		// to publish to an encrypted topic as itself.
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSnsTopic(j.topic, nil)},
	})
	return j
}

// grant gives the instance role exactly what the queue and events adapters use.
func (j jobs) grant(role awsiam.Role) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("JobQueue"),
		Actions:   jsii.Strings(QueueActions()...),
		Resources: jsii.Strings(*j.queue.QueueArn()),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("JobDeadLetters"),
		Actions:   jsii.Strings(DeadLetterActions()...),
		Resources: jsii.Strings(*j.deadLetter.QueueArn()),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("JobEvents"),
		Actions:   jsii.Strings("events:PutEvents"),
		Resources: jsii.Strings(*j.bus.EventBusArn()),
	}))
}

// scaleOnBacklog adds target tracking on the queue's backlog per InService instance,
// beside CPU tracking: the group scales out when either asks, in only when both
// agree. Metric math over two metrics needs the L1 resource.
func (j jobs) scaleOnBacklog(s *mainStack, asg awsautoscaling.AutoScalingGroup) awsautoscaling.CfnScalingPolicy {
	dim := func(name string, value *string) interface{} {
		return &awsautoscaling.CfnScalingPolicy_MetricDimensionProperty{Name: jsii.String(name), Value: value}
	}
	return awsautoscaling.NewCfnScalingPolicy(s.stack, jsii.String("QueueBacklogTracking"), &awsautoscaling.CfnScalingPolicyProps{
		AutoScalingGroupName:    asg.AutoScalingGroupName(),
		PolicyType:              jsii.String("TargetTrackingScaling"),
		EstimatedInstanceWarmup: jsii.Number(300),
		TargetTrackingConfiguration: &awsautoscaling.CfnScalingPolicy_TargetTrackingConfigurationProperty{
			TargetValue: jsii.Number(BacklogPerInstance),
			CustomizedMetricSpecification: &awsautoscaling.CfnScalingPolicy_CustomizedMetricSpecificationProperty{
				Metrics: &[]interface{}{
					&awsautoscaling.CfnScalingPolicy_TargetTrackingMetricDataQueryProperty{
						Id:    jsii.String("backlog"),
						Label: jsii.String("Job messages waiting (visible)"),
						MetricStat: &awsautoscaling.CfnScalingPolicy_TargetTrackingMetricStatProperty{
							Metric: &awsautoscaling.CfnScalingPolicy_MetricProperty{
								Namespace:  jsii.String("AWS/SQS"),
								MetricName: jsii.String("ApproximateNumberOfMessagesVisible"),
								Dimensions: &[]interface{}{dim("QueueName", j.queue.QueueName())},
							},
							Stat: jsii.String("Sum"),
						},
						ReturnData: jsii.Bool(false),
					},
					&awsautoscaling.CfnScalingPolicy_TargetTrackingMetricDataQueryProperty{
						Id:    jsii.String("instances"),
						Label: jsii.String("InService instances"),
						MetricStat: &awsautoscaling.CfnScalingPolicy_TargetTrackingMetricStatProperty{
							Metric: &awsautoscaling.CfnScalingPolicy_MetricProperty{
								Namespace:  jsii.String("AWS/AutoScaling"),
								MetricName: jsii.String("GroupInServiceInstances"),
								Dimensions: &[]interface{}{dim("AutoScalingGroupName", asg.AutoScalingGroupName())},
							},
							Stat: jsii.String("Average"),
						},
						ReturnData: jsii.Bool(false),
					},
					&awsautoscaling.CfnScalingPolicy_TargetTrackingMetricDataQueryProperty{
						Id:         jsii.String("perInstance"),
						Label:      jsii.String("Job backlog per instance"),
						Expression: jsii.String("backlog / instances"),
						ReturnData: jsii.Bool(true),
					},
				},
			},
		},
	})
}

// alarms notify the alarm topic when dead letters pile up (the reaper fails and
// deletes each within seconds, so one that stays means no instance is reaping), when
// a job was dead-lettered at all (Easel's log), and when the oldest queued job has
// waited too long.
func (j jobs) alarms(s *mainStack) []awscloudwatch.IMetric {
	period := awscdk.Duration_Minutes(jsii.Number(5))
	deadLettered := awslogs.NewMetricFilter(s.stack, jsii.String("DeadLetteredJobFilter"), &awslogs.MetricFilterProps{
		LogGroup: s.appLogs,
		// service/reaper.go logs this for each job it fails because its message died.
		FilterPattern:   awslogs.FilterPattern_StringValue(jsii.String("$.msg"), jsii.String("="), jsii.String("failed a dead-lettered job")),
		MetricNamespace: jsii.String(MetricNamespace),
		MetricName:      jsii.String("DeadLetteredJobs"),
		MetricValue:     jsii.String("1"),
		DefaultValue:    jsii.Number(0),
	}).Metric(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period})
	depth := j.deadLetter.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
		Statistic: jsii.String("Maximum"), Period: period,
	})
	age := j.queue.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{
		Statistic: jsii.String("Maximum"), Period: period,
	})
	action := awscloudwatchactions.NewSnsAction(s.alarmTopic)
	alarm := func(id, desc string, metric awscloudwatch.IMetric, threshold, periods float64) {
		a := awscloudwatch.NewAlarm(s.stack, jsii.String(id), &awscloudwatch.AlarmProps{
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(periods),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
			AlarmDescription:   jsii.String(desc),
		})
		a.AddAlarmAction(action)
		a.AddOkAction(action)
	}
	alarm("AlarmJobDeadLetters", "Messages have waited in Easel's job dead-letter queue for 15 minutes: no instance is failing their jobs",
		depth, AlarmDeadLettersDepth, 3)
	alarm("AlarmDeadLetteredJobs", "A job failed because its queue message was delivered too often (see the service log)",
		deadLettered, 1, 1)
	alarm("AlarmJobQueueAge", fmt.Sprintf("The oldest queued job has waited more than %d s for 10 minutes", AlarmQueueAgeSeconds),
		age, AlarmQueueAgeSeconds, 2)
	visible := j.queue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
		Statistic: jsii.String("Maximum"), Period: period,
	})
	return []awscloudwatch.IMetric{visible, age, depth, deadLettered}
}
