package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// flowLogID is the VPC flow log's construct id under the VPC.
const flowLogID = "FlowLogs"

// newNetwork builds the two-AZ VPC: public subnets for the ALB and NAT, private
// subnets with egress for the instances (and the internal ALB of a VPC origin), flow
// logs to the log bucket, and gateway endpoints so S3 and DynamoDB traffic stays
// off the NAT.
func newNetwork(s *mainStack, logs awss3.IBucket) network {
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
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			flowLogID: {
				Destination: awsec2.FlowLogDestination_ToS3(logs, jsii.String("vpc-flow-logs/"), nil),
				TrafficType: awsec2.FlowLogTrafficType_ALL,
			},
		},
	})
	net := network{vpc: vpc}
	// Same construct ids as VpcProps.GatewayEndpoints would use.
	net.egress = append(net.egress,
		vpc.AddGatewayEndpoint(jsii.String("S3"), &awsec2.GatewayVpcEndpointOptions{Service: awsec2.GatewayVpcEndpointAwsService_S3()}),
		vpc.AddGatewayEndpoint(jsii.String("DynamoDB"), &awsec2.GatewayVpcEndpointOptions{Service: awsec2.GatewayVpcEndpointAwsService_DYNAMODB()}))
	for _, sub := range *vpc.PrivateSubnets() {
		net.egress = append(net.egress, sub.InternetConnectivityEstablished())
	}
	return net
}

// network is the VPC and what the instances need before they boot.
type network struct {
	vpc awsec2.Vpc
	// egress are the private subnets' default routes (through NAT) and the S3 and
	// DynamoDB gateway endpoints (with their routes): the boot script downloads the
	// binary from S3, reads a secret and installs packages through NAT, and Easel's
	// readiness needs DynamoDB and S3, so no instance may start before them.
	egress []constructs.IDependable
}

// newBedrockEndpoint adds the bedrock-runtime interface endpoint in the private
// subnets, open only to the instances, with private DNS so the SDK uses it unchanged.
func newBedrockEndpoint(s *mainStack, vpc awsec2.IVpc, instances awsec2.ISecurityGroup) awsec2.InterfaceVpcEndpoint {
	sg := awsec2.NewSecurityGroup(s.stack, jsii.String("BedrockEndpointSg"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("bedrock-runtime endpoint: HTTPS from the Easel instances"),
		AllowAllOutbound: jsii.Bool(false),
	})
	sg.AddIngressRule(instances, awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS from Easel instances"), nil)
	return awsec2.NewInterfaceVpcEndpoint(s.stack, jsii.String("BedrockRuntimeEndpoint"), &awsec2.InterfaceVpcEndpointProps{
		Vpc:               vpc,
		Service:           awsec2.InterfaceVpcEndpointAwsService_BEDROCK_RUNTIME(),
		Subnets:           &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
		PrivateDnsEnabled: jsii.Bool(true),
		SecurityGroups:    &[]awsec2.ISecurityGroup{sg},
		Open:              jsii.Bool(false),
	})
}
