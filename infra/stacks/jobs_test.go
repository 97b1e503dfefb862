package stacks_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/easelhq/easel/infra/stacks"
)

// queues returns the job queue and the dead-letter queue by logical id.
func queues(t *testing.T, s *synthesized) (queueID string, queue map[string]interface{}, dlqID string, dlq map[string]interface{}) {
	t.Helper()
	for id, q := range s.resources(stacks.MainStackName, "AWS::SQS::Queue") {
		switch {
		case strings.HasPrefix(id, "JobQueue"):
			queueID, queue = id, props(q)
		case strings.HasPrefix(id, "JobDeadLetters"):
			dlqID, dlq = id, props(q)
		}
	}
	if queue == nil || dlq == nil || len(s.resources(stacks.MainStackName, "AWS::SQS::Queue")) != 2 {
		t.Fatal("want exactly the job queue and its dead-letter queue")
	}
	return queueID, queue, dlqID, dlq
}

// TestJobQueue: the SQS job queue and its dead-letter queue are encrypted, refuse
// plain HTTP, and agree with the instances' lease and attempts; the instances are
// told the queue and the bus.
func TestJobQueue(t *testing.T) {
	if stacks.QueueMaxReceives <= stacks.JobMaxAttempts {
		t.Errorf("maxReceiveCount %d <= job attempts %d: SQS would give up before Easel", stacks.QueueMaxReceives, stacks.JobMaxAttempts)
	}
	if stacks.DeadLetterRetention <= stacks.QueueRetention {
		t.Errorf("dead-letter retention %v <= queue retention %v", stacks.DeadLetterRetention, stacks.QueueRetention)
	}
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			s := synthesize(t, v.name)
			queueID, queue, dlqID, dlq := queues(t, s)
			for name, q := range map[string]map[string]interface{}{queueID: queue, dlqID: dlq} {
				if q["SqsManagedSseEnabled"] != true {
					t.Errorf("%s: SqsManagedSseEnabled = %v, want true", name, q["SqsManagedSseEnabled"])
				}
				if q["VisibilityTimeout"] != stacks.JobLease.Seconds() {
					t.Errorf("%s: VisibilityTimeout = %v, want the job lease %v", name, q["VisibilityTimeout"], stacks.JobLease)
				}
			}
			if got, want := queue["MessageRetentionPeriod"], stacks.QueueRetention.Seconds(); got != want {
				t.Errorf("queue retention = %v, want %v", got, want)
			}
			if got := dlq["MessageRetentionPeriod"]; got != float64(14*24*3600) {
				t.Errorf("dead-letter retention = %v, want 14 days", got)
			}
			if got := queue["ReceiveMessageWaitTimeSeconds"]; got != float64(20) {
				t.Errorf("ReceiveMessageWaitTimeSeconds = %v, want 20", got)
			}
			redrive, _ := queue["RedrivePolicy"].(map[string]interface{})
			if flatten(redrive["deadLetterTargetArn"]) != "<"+dlqID+".Arn>" || redrive["maxReceiveCount"] != float64(stacks.QueueMaxReceives) {
				t.Errorf("RedrivePolicy = %v, want %d receives to %s", redrive, stacks.QueueMaxReceives, dlqID)
			}
			if dlq["RedrivePolicy"] != nil {
				t.Errorf("the dead-letter queue has a RedrivePolicy %v", dlq["RedrivePolicy"])
			}

			// TLS only: each queue's policy denies every SQS action without SecureTransport.
			secured := map[string]bool{}
			for _, p := range s.resources(stacks.MainStackName, "AWS::SQS::QueuePolicy") {
				pp := props(p)
				for _, st := range pp["PolicyDocument"].(map[string]interface{})["Statement"].([]interface{}) {
					st := st.(map[string]interface{})
					if st["Effect"] == "Deny" && flatten(st["Action"]) == "sqs:*" &&
						strings.Contains(flatten(st["Condition"]), `"aws:SecureTransport":"false"`) {
						for _, q := range list(pp["Queues"]) {
							secured[q] = true
						}
					}
				}
			}
			for _, id := range []string{queueID, dlqID} {
				if !secured["<"+id+">"] {
					t.Errorf("%s: no policy denies requests without TLS", id)
				}
			}

			script := userData(t, s)
			for _, w := range []string{
				"\nEASEL_QUEUE=sqs://<" + queueID + ".QueueName>\n",
				"\nEASEL_EVENTS=eventbridge://<JobEvents",
				fmt.Sprintf("\nEASEL_JOB_LEASE=%ds\n", int(stacks.JobLease.Seconds())),
				fmt.Sprintf("\nEASEL_JOB_MAX_ATTEMPTS=%d\n", stacks.JobMaxAttempts),
			} {
				if !strings.Contains(script, w) {
					t.Errorf("user data lacks %q", strings.TrimSpace(w))
				}
			}
			outputs, _ := s.templates[stacks.MainStackName]["Outputs"].(map[string]interface{})
			for _, name := range []string{"JobQueueUrl", "JobDeadLetterQueueUrl", "JobEventBusName", "JobNotificationTopicArn"} {
				if outputs[name] == nil {
					t.Errorf("no output %s", name)
				}
			}
		})
	}
}

// TestJobAlarms: dead letters that wait, jobs that were dead-lettered, and an old
// queued job notify the alarm topic.
func TestJobAlarms(t *testing.T) {
	s := synthesize(t, "default")
	queueID, _, dlqID, _ := queues(t, s)
	type want struct {
		metric, dim string
		threshold   float64
		periods     float64
	}
	wants := map[string]want{
		"dead letters waiting": {"ApproximateNumberOfMessagesVisible", `"` + dlqID + `"`, stacks.AlarmDeadLettersDepth, 3},
		"jobs dead-lettered":   {"DeadLetteredJobs", "", 1, 1},
		"oldest queued job":    {"ApproximateAgeOfOldestMessage", `"` + queueID + `"`, stacks.AlarmQueueAgeSeconds, 2},
	}
	alarms := s.resources(stacks.MainStackName, "AWS::CloudWatch::Alarm")
	for name, w := range wants {
		found := false
		for _, a := range alarms {
			p := props(a)
			if p["MetricName"] != w.metric || (w.dim != "" && !strings.Contains(flatten(p["Dimensions"]), w.dim)) {
				continue
			}
			found = true
			if p["Threshold"] != w.threshold || p["EvaluationPeriods"] != w.periods ||
				p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" {
				t.Errorf("%s: threshold %v over %v periods (%v), want >= %v over %v", name,
					p["Threshold"], p["EvaluationPeriods"], p["ComparisonOperator"], w.threshold, w.periods)
			}
			if !strings.Contains(flatten(p["AlarmActions"]), "<AlarmTopic") {
				t.Errorf("%s: alarm actions %v, want the alarm topic", name, p["AlarmActions"])
			}
		}
		if !found {
			t.Errorf("no alarm on %s (%s)", name, w.metric)
		}
	}
	tpl := s.template(t, stacks.MainStackName)
	check(t, "dead-lettered jobs counted from the service log", func() {
		tpl.HasResourceProperties(str("AWS::Logs::MetricFilter"), obj{
			"FilterPattern":         `{ $.msg = "failed a dead-lettered job" }`,
			"MetricTransformations": arrayWith(like(obj{"MetricName": "DeadLetteredJobs", "MetricNamespace": stacks.MetricNamespace})),
		})
	})
}

// TestEventNotifications: the bus's rule sends exactly Easel's terminal job events to
// a topic encrypted with a rotated customer-managed key that EventBridge may use;
// notifyEmail subscribes an address.
func TestEventNotifications(t *testing.T) {
	tests := []struct {
		variant string
		email   string
	}{
		{"default", ""},
		{"full", "ops@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			s := synthesize(t, tt.variant)
			tpl := s.template(t, stacks.MainStackName)
			busID, _ := one(t, s, stacks.MainStackName, "AWS::Events::EventBus")
			_, rule := one(t, s, stacks.MainStackName, "AWS::Events::Rule")
			rp := props(rule)
			if flatten(rp["EventBusName"]) != "<"+busID+">" {
				t.Errorf("rule on bus %v, want %s", rp["EventBusName"], busID)
			}
			pattern := rp["EventPattern"].(map[string]interface{})
			if got := list(pattern["source"]); strings.Join(got, ",") != stacks.EventSource {
				t.Errorf("rule source = %v, want [%s]", got, stacks.EventSource)
			}
			wantTypes := stacks.JobEventTypes()
			sort.Strings(wantTypes)
			if got := list(pattern["detail-type"]); strings.Join(got, "|") != strings.Join(wantTypes, "|") {
				t.Errorf("rule detail-type = %v, want %v", got, wantTypes)
			}
			topicID := ""
			for id := range s.resources(stacks.MainStackName, "AWS::SNS::Topic") {
				if strings.HasPrefix(id, "JobNotifications") {
					topicID = id
				}
			}
			targets := rp["Targets"].([]interface{})
			if len(targets) != 1 || flatten(targets[0].(map[string]interface{})["Arn"]) != "<"+topicID+">" {
				t.Errorf("rule targets = %v, want the topic %s", targets, topicID)
			}

			keyID, key := one(t, s, stacks.MainStackName, "AWS::KMS::Key")
			if props(key)["EnableKeyRotation"] != true {
				t.Error("the notification key is not rotated")
			}
			check(t, "topic encrypted with the key, TLS only", func() {
				tpl.HasResourceProperties(str("AWS::SNS::Topic"), obj{
					"KmsMasterKeyId": obj{"Fn::GetAtt": arr{keyID, "Arn"}},
				})
				tpl.HasResourceProperties(str("AWS::SNS::TopicPolicy"), obj{
					"Topics": arr{obj{"Ref": topicID}},
					"PolicyDocument": like(obj{"Statement": arrayWith(
						like(obj{"Effect": "Deny", "Condition": like(obj{"Bool": obj{"aws:SecureTransport": "false"}})}),
						like(obj{"Effect": "Allow", "Action": "sns:Publish", "Principal": obj{"Service": "events.amazonaws.com"}}),
					)}),
				})
			})
			check(t, "EventBridge may use the key", func() {
				tpl.HasResourceProperties(str("AWS::KMS::Key"), obj{
					"KeyPolicy": like(obj{"Statement": arrayWith(like(obj{
						"Effect":    "Allow",
						"Principal": obj{"Service": "events.amazonaws.com"},
						"Action":    arr{"kms:Decrypt", "kms:GenerateDataKey*"},
					}))}),
				})
			})
			subs := s.resources(stacks.MainStackName, "AWS::SNS::Subscription")
			if tt.email == "" {
				if len(subs) != 0 {
					t.Errorf("%d subscriptions without notifyEmail, want none", len(subs))
				}
				return
			}
			if len(subs) != 1 {
				t.Fatalf("%d subscriptions, want the notifyEmail one", len(subs))
			}
			for _, sub := range subs {
				p := props(sub)
				if p["Protocol"] != "email" || p["Endpoint"] != tt.email || flatten(p["TopicArn"]) != "<"+topicID+">" {
					t.Errorf("subscription %v, want email to %s on %s", p, tt.email, topicID)
				}
			}
		})
	}
}

// TestJobGrants: the instance role may use exactly the actions the queue and events
// adapters call, on exactly the job queue, its dead-letter queue and the bus.
func TestJobGrants(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			s := synthesize(t, v.name)
			queueID, _, dlqID, _ := queues(t, s)
			busID, _ := one(t, s, stacks.MainStackName, "AWS::Events::EventBus")
			want := map[string][]string{
				"<" + queueID + ".Arn>": {"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
					"sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:SendMessage"},
				"<" + dlqID + ".Arn>": {"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"},
				"<" + busID + ".Arn>": {"events:PutEvents"},
			}
			got := map[string][]string{}
			for _, st := range policyStatements(t, s) {
				var actions []string
				for _, a := range list(st["Action"]) {
					if strings.HasPrefix(a, "sqs:") || strings.HasPrefix(a, "events:") {
						actions = append(actions, a)
					}
				}
				if len(actions) == 0 {
					continue
				}
				if st["Effect"] != "Allow" || st["Condition"] != nil {
					t.Errorf("statement %v: want a plain Allow", st)
				}
				if len(actions) != len(list(st["Action"])) {
					t.Errorf("statement mixes queue or event actions with others: %v", st["Action"])
				}
				for _, r := range list(st["Resource"]) {
					got[r] = append(got[r], actions...)
				}
			}
			for r := range got {
				sort.Strings(got[r])
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("queue and event grants = %v, want %v", got, want)
			}
			if strings.Join(stacks.QueueActions(), " ") != strings.Join(want["<"+queueID+".Arn>"], " ") {
				t.Errorf("QueueActions() = %v", stacks.QueueActions())
			}
		})
	}
}

// TestQueueBacklogScaling: besides CPU, the group tracks visible job messages per
// InService instance, computed with metric math over the queue and the group.
func TestQueueBacklogScaling(t *testing.T) {
	s := synthesize(t, "default")
	queueID, _, _, _ := queues(t, s)
	asgID, _ := one(t, s, stacks.MainStackName, "AWS::AutoScaling::AutoScalingGroup")
	var policies []map[string]interface{}
	for _, p := range s.resources(stacks.MainStackName, "AWS::AutoScaling::ScalingPolicy") {
		policies = append(policies, props(p))
	}
	if len(policies) != 2 {
		t.Fatalf("%d scaling policies, want CPU and queue backlog", len(policies))
	}
	found := false
	for _, p := range policies {
		cfg := p["TargetTrackingConfiguration"].(map[string]interface{})
		spec, ok := cfg["CustomizedMetricSpecification"].(map[string]interface{})
		if !ok {
			continue
		}
		found = true
		if p["PolicyType"] != "TargetTrackingScaling" || flatten(p["AutoScalingGroupName"]) != "<"+asgID+">" {
			t.Errorf("backlog policy %v, want target tracking on %s", p, asgID)
		}
		if cfg["TargetValue"] != float64(stacks.BacklogPerInstance) || cfg["DisableScaleIn"] == true {
			t.Errorf("target %v (scale-in disabled %v), want %d", cfg["TargetValue"], cfg["DisableScaleIn"], stacks.BacklogPerInstance)
		}
		byID := map[string]map[string]interface{}{}
		var returned []string
		for _, m := range spec["Metrics"].([]interface{}) {
			m := m.(map[string]interface{})
			byID[m["Id"].(string)] = m
			if m["ReturnData"] == true {
				returned = append(returned, m["Id"].(string))
			}
		}
		if len(returned) != 1 || byID[returned[0]]["Expression"] != "backlog / instances" {
			t.Fatalf("metrics %v: want one returned expression backlog / instances", spec["Metrics"])
		}
		stat := func(id string) string { return flatten(byID[id]["MetricStat"]) }
		if w := `"MetricName":"ApproximateNumberOfMessagesVisible"`; !strings.Contains(stat("backlog"), w) ||
			!strings.Contains(stat("backlog"), `"Namespace":"AWS/SQS"`) || !strings.Contains(stat("backlog"), queueID) {
			t.Errorf("backlog = %s, want %s of %s", stat("backlog"), w, queueID)
		}
		if w := `"MetricName":"GroupInServiceInstances"`; !strings.Contains(stat("instances"), w) ||
			!strings.Contains(stat("instances"), asgID) {
			t.Errorf("instances = %s, want %s of %s", stat("instances"), w, asgID)
		}
	}
	if !found {
		t.Error("no target tracking policy on a customized metric")
	}
	check(t, "group metrics for GroupInServiceInstances", func() {
		s.template(t, stacks.MainStackName).HasResourceProperties(str("AWS::AutoScaling::AutoScalingGroup"), obj{
			"MetricsCollection": arrayWith(like(obj{"Granularity": "1Minute"})),
		})
	})
}

// TestHealthCheckReachesEasel: the ALB checks /readyz, so a draining instance (503)
// leaves it, and Easel serves /readyz 503 for longer than the ALB takes to notice.
func TestHealthCheckReachesEasel(t *testing.T) {
	if stacks.HealthCheckPath != "/readyz" {
		t.Errorf("HealthCheckPath = %q, want /readyz", stacks.HealthCheckPath)
	}
	noticed := stacks.HealthCheckInterval * stacks.HealthCheckUnhealthy
	if stacks.DrainDelay <= noticed {
		t.Errorf("drain delay %v <= the ALB's %v to mark the instance unhealthy", stacks.DrainDelay, noticed)
	}
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			s := synthesize(t, v.name)
			_, tg := one(t, s, stacks.MainStackName, "AWS::ElasticLoadBalancingV2::TargetGroup")
			p := props(tg)
			if p["HealthCheckPath"] != "/readyz" || p["Matcher"].(map[string]interface{})["HttpCode"] != "200" {
				t.Errorf("health check %v %v, want GET /readyz answering 200", p["HealthCheckPath"], p["Matcher"])
			}
			if p["HealthCheckIntervalSeconds"] != stacks.HealthCheckInterval.Seconds() ||
				p["UnhealthyThresholdCount"] != float64(stacks.HealthCheckUnhealthy) {
				t.Errorf("health check every %v s, unhealthy after %v, want %v and %d",
					p["HealthCheckIntervalSeconds"], p["UnhealthyThresholdCount"], stacks.HealthCheckInterval, stacks.HealthCheckUnhealthy)
			}
			if w := fmt.Sprintf("\nEASEL_DRAIN_DELAY=%ds\n", int(stacks.DrainDelay.Seconds())); !strings.Contains(userData(t, s), w) {
				t.Errorf("user data lacks %q", strings.TrimSpace(w))
			}
		})
	}
}
