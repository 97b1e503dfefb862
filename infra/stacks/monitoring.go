package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
)

// MetricNamespace holds the metrics derived from Easel's logs.
const MetricNamespace = "Easel"

// Alarm thresholds.
const (
	Alarm5xxPercent         = 5  // % of requests answered 5xx over 5 minutes
	AlarmResponseSecondsP90 = 45 // p90 target response time, seconds
	AlarmThrottlesPer5Min   = 5  // Bedrock throttles seen in Easel's log
)

// newMonitoring adds metric filters on Easel's JSON log (Bedrock throttles, error
// lines), alarms that notify the alarm topic (5xx rate, response time, unhealthy
// hosts, Bedrock throttles) and a dashboard.
func newMonitoring(s *mainStack, lb loadBalancer, c compute) awscloudwatch.Dashboard {
	period := awscdk.Duration_Minutes(jsii.Number(5))
	throttles := awslogs.NewMetricFilter(s.stack, jsii.String("BedrockThrottleFilter"), &awslogs.MetricFilterProps{
		LogGroup: s.appLogs,
		// Easel's bedrock adapter logs each throttled attempt with the SDK error, which
		// names the exception, and a quota exhaustion as "BEDROCK SERVICE QUOTA EXCEEDED".
		FilterPattern: awslogs.FilterPattern_AnyTerm(jsii.String("ThrottlingException"),
			jsii.String("TooManyRequestsException"), jsii.String("BEDROCK SERVICE QUOTA EXCEEDED")),
		MetricNamespace: jsii.String(MetricNamespace),
		MetricName:      jsii.String("BedrockThrottles"),
		MetricValue:     jsii.String("1"),
		DefaultValue:    jsii.Number(0),
	}).Metric(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period})
	errorLines := awslogs.NewMetricFilter(s.stack, jsii.String("ErrorLogFilter"), &awslogs.MetricFilterProps{
		LogGroup:        s.appLogs,
		FilterPattern:   awslogs.FilterPattern_StringValue(jsii.String("$.level"), jsii.String("="), jsii.String("ERROR")),
		MetricNamespace: jsii.String(MetricNamespace),
		MetricName:      jsii.String("ErrorLogLines"),
		MetricValue:     jsii.String("1"),
		DefaultValue:    jsii.Number(0),
	}).Metric(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period})

	m := lb.alb.Metrics()
	sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period}
	requests := m.RequestCount(sum)
	target5xx := m.HttpCodeTarget(elbv2.HttpCodeTarget_TARGET_5XX_COUNT, sum)
	elb5xx := m.HttpCodeElb(elbv2.HttpCodeElb_ELB_5XX_COUNT, sum)
	errorRate := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Label:      jsii.String("5xx %"),
		Expression: jsii.String("IF(req > 0, 100 * (FILL(t5, 0) + FILL(e5, 0)) / req, 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"req": requests, "t5": target5xx, "e5": elb5xx,
		},
		Period: period,
	})
	p90 := m.TargetResponseTime(&awscloudwatch.MetricOptions{Statistic: jsii.String("p90"), Period: period})
	unhealthy := c.group.Metrics().UnhealthyHostCount(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: awscdk.Duration_Minutes(jsii.Number(1))})
	healthy := c.group.Metrics().HealthyHostCount(&awscloudwatch.MetricOptions{Statistic: jsii.String("Minimum"), Period: awscdk.Duration_Minutes(jsii.Number(1))})

	action := awscloudwatchactions.NewSnsAction(s.alarmTopic)
	alarm := func(id, desc string, metric awscloudwatch.IMetric, threshold float64, periods float64) {
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
	alarm("Alarm5xxRate", "More than 5% of requests to Easel answered 5xx for 10 minutes", errorRate, Alarm5xxPercent, 2)
	alarm("AlarmResponseTime", "Easel p90 response time above 45 s for 15 minutes", p90, AlarmResponseSecondsP90, 3)
	alarm("AlarmUnhealthyHosts", "An Easel instance has failed ALB health checks for 5 minutes", unhealthy, 1, 5)
	alarm("AlarmBedrockThrottles", "Bedrock is throttling Easel's model calls", throttles, AlarmThrottlesPer5Min, 1)

	graph := func(title string, left ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &left, Width: jsii.Number(12), Height: jsii.Number(6),
		})
	}
	jobMetrics := s.jobs.alarms(s)
	return awscloudwatch.NewDashboard(s.stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		Widgets: &[]*[]awscloudwatch.IWidget{
			{graph("Requests", requests), graph("5xx", target5xx, elb5xx, errorRate)},
			{graph("Target response time (p90, s)", p90), graph("Hosts", healthy, unhealthy)},
			{graph("Bedrock throttles and error log lines", throttles, errorLines), graph("Instances (tasks) and CPU %", c.capacity, c.cpu)},
			{graph("Job queue: waiting messages, oldest (s)", jobMetrics[0], jobMetrics[1]),
				graph("Dead letters: waiting, jobs failed", jobMetrics[2], jobMetrics[3])},
		},
	})
}
