package stacks

import (
	_ "embed"
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
)

// SigningKeyHandler is the signing key function's code (Node.js, CommonJS, with the
// AWS SDK v3 the Lambda runtime provides; inline, at most 4,096 bytes).
//
//go:embed signingkey/index.js
var SigningKeyHandler string

// SigningKeyResourceType is the signing key custom resource's CloudFormation type.
const SigningKeyResourceType = "Custom::ImageSigningKey"

// PrivateImageExpiry is EASEL_PRIVATE_IMAGE_EXPIRY: how long a signed image URL works.
const PrivateImageExpiry = time.Hour

// CloudFrontInvalidationActions is what the application may do to the distribution:
// invalidate a deleted image's paths (EASEL_CLOUDFRONT_DISTRIBUTION), nothing else.
func CloudFrontInvalidationActions() []string { return []string{"cloudfront:CreateInvalidation"} }

// signingKeys is the private images' CloudFront key group and the current key.
type signingKeys struct {
	group     awscloudfront.CfnKeyGroup
	current   awscloudfront.CfnPublicKey         // the key Easel signs with
	secret    awssecretsmanager.Secret           // its private key
	secrets   []awssecretsmanager.Secret         // every generation's secret in the template
	publicKey map[int]awscloudfront.CfnPublicKey // by generation
	fn        awslambda.Function
	role      awsiam.Role
}

// newSigningKeys builds, for the configured generation and the one before it (so a
// rotation keeps URLs signed with the previous key working until they expire): a
// secret, a custom resource whose function generates an RSA 2048 key pair into that
// secret at deploy time and answers the public key, and a CloudFront public key; and
// the key group of those public keys, which the /images/* behaviour trusts. The
// private key appears in no template, output or log.
func newSigningKeys(s *mainStack) *signingKeys {
	k := &signingKeys{publicKey: map[int]awscloudfront.CfnPublicKey{}}
	logs := awslogs.NewLogGroup(s.stack, jsii.String("SigningKeyLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	k.role = awsiam.NewRole(s.stack, jsii.String("SigningKeyRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Easel signing key function: writes the generated private key into its secret"),
	})
	k.role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("OwnLog"), Actions: jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: &[]*string{logs.LogGroupArn()},
	}))
	k.fn = awslambda.NewFunction(s.stack, jsii.String("SigningKeyFunction"), &awslambda.FunctionProps{
		Description:  jsii.String("Easel: generates a CloudFront signing key pair into Secrets Manager"),
		Runtime:      awslambda.Runtime_NODEJS_24_X(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("index.handler"),
		Code:         awslambda.Code_FromInline(jsii.String(SigningKeyHandler)),
		Timeout:      awscdk.Duration_Minutes(jsii.Number(2)),
		MemorySize:   jsii.Number(256),
		Role:         k.role,
		LogGroup:     logs,
	})
	// Unique per account (CloudFront names are global): the stack id's first group.
	guid := stackIDPart(s)
	gen := s.cfg.SigningKeyGeneration
	var items []*string
	for g := max(1, gen-1); g <= gen; g++ {
		secret := awssecretsmanager.NewSecret(s.stack, jsii.String(fmt.Sprintf("SigningKeySecret%d", g)), &awssecretsmanager.SecretProps{
			Description: jsii.String(fmt.Sprintf("Easel's CloudFront signing key, generation %d (PEM private key, "+
				"written by the signing key function at deploy time)", g)),
			// Replaced by the function on its first run; removed with the generation.
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
		secret.GrantRead(k.role, nil)
		secret.GrantWrite(k.role)
		cr := awscdk.NewCustomResource(s.stack, jsii.String(fmt.Sprintf("SigningKey%d", g)), &awscdk.CustomResourceProps{
			ServiceToken: k.fn.FunctionArn(),
			ResourceType: jsii.String(SigningKeyResourceType),
			Properties:   &map[string]interface{}{"SecretArn": secret.SecretArn(), "Generation": g},
		})
		// After the role's policy, so the function can write when it runs.
		cr.Node().AddDependency(k.role)
		name := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String(MainStackName + "-images-"), guid, jsii.String(fmt.Sprintf("-g%d", g))})
		pk := awscloudfront.NewCfnPublicKey(s.stack, jsii.String(fmt.Sprintf("SigningPublicKey%d", g)), &awscloudfront.CfnPublicKeyProps{
			PublicKeyConfig: &awscloudfront.CfnPublicKey_PublicKeyConfigProperty{
				Name:            name,
				CallerReference: name,
				EncodedKey:      cr.GetAttString(jsii.String("PublicKey")),
				Comment:         jsii.String(fmt.Sprintf("Easel private images, signing key generation %d", g)),
			},
		})
		k.publicKey[g] = pk
		k.secrets = append(k.secrets, secret)
		items = append(items, pk.Ref())
		k.current, k.secret = pk, secret
	}
	k.group = awscloudfront.NewCfnKeyGroup(s.stack, jsii.String("SigningKeyGroup"), &awscloudfront.CfnKeyGroupProps{
		KeyGroupConfig: &awscloudfront.CfnKeyGroup_KeyGroupConfigProperty{
			Name:    awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String(MainStackName + "-images-"), guid}),
			Items:   &items,
			Comment: jsii.String("Easel private images: the current signing key and the previous one"),
		},
	})
	return k
}

// grantApp lets role read the current generation's private key, and nothing else of
// the signing keys.
func (k *signingKeys) grantApp(role awsiam.Role) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("SigningKey"),
		Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
		Resources: &[]*string{k.secret.SecretArn()},
	}))
}

// grantInvalidation lets role invalidate paths of the deployment's distribution only.
func grantInvalidation(s *mainStack, role awsiam.Role) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:     jsii.String("InvalidateImages"),
		Actions: jsii.Strings(CloudFrontInvalidationActions()...),
		Resources: jsii.Strings(fmt.Sprintf("arn:%s:cloudfront::%s:distribution/%s",
			*s.stack.Partition(), *s.stack.Account(), *s.distribution.DistributionId())),
	}))
}
