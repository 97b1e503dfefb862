package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
)

// newNetwork builds the two-AZ VPC: public subnets for the ALB and NAT, private
// subnets with egress for the instances (and the internal ALB of a VPC origin), flow
// logs to the log bucket, and gateway endpoints so S3 and DynamoDB traffic stays
// off the NAT.
func newNetwork(s *mainStack, logs awss3.IBucket) awsec2.Vpc {
	vpc := awsec2.NewVpc(s.stack, jsii.String("Vpc"), &awsec2.VpcProps{
		IpAddresses: awsec2.IpAddresses_Cidr(jsii.String("10.40.0.0/16")),
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(float64(s.cfg.NatGateways)),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("Public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
			{Name: jsii.String("Private"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(20)},
		},
		// Restricting the default security group needs a Lambda-backed custom
		// resource; nothing here uses the default group.
		RestrictDefaultSecurityGroup: jsii.Bool(false),
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"S3":       {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
			"DynamoDB": {Service: awsec2.GatewayVpcEndpointAwsService_DYNAMODB()},
		},
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"FlowLogs": {
				Destination: awsec2.FlowLogDestination_ToS3(logs, jsii.String("vpc-flow-logs/"), nil),
				TrafficType: awsec2.FlowLogTrafficType_ALL,
			},
		},
	})
	return vpc
}

// newBedrockEndpoint adds the bedrock-runtime interface endpoint in the private
// subnets, open only to the instances, with private DNS so the SDK uses it unchanged.
func newBedrockEndpoint(s *mainStack, vpc awsec2.IVpc, instances awsec2.ISecurityGroup) {
	sg := awsec2.NewSecurityGroup(s.stack, jsii.String("BedrockEndpointSg"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("bedrock-runtime endpoint: HTTPS from the Easel instances"),
		AllowAllOutbound: jsii.Bool(false),
	})
	sg.AddIngressRule(instances, awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS from Easel instances"), nil)
	awsec2.NewInterfaceVpcEndpoint(s.stack, jsii.String("BedrockRuntimeEndpoint"), &awsec2.InterfaceVpcEndpointProps{
		Vpc:               vpc,
		Service:           awsec2.InterfaceVpcEndpointAwsService_BEDROCK_RUNTIME(),
		Subnets:           &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
		PrivateDnsEnabled: jsii.Bool(true),
		SecurityGroups:    &[]awsec2.ISecurityGroup{sg},
		Open:              jsii.Bool(false),
	})
}
