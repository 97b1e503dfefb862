package stacks_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/easelhq/easel/dynamostore/tabledef"
	"github.com/easelhq/easel/infra/stacks"
)

func TestCatalogTable(t *testing.T) {
	def := tabledef.Definition()
	var gsis, defs []interface{}
	seen := map[string]bool{}
	addDef := func(k tabledef.KeyAttr) {
		if !seen[k.Name] {
			seen[k.Name] = true
			defs = append(defs, obj{"AttributeName": k.Name, "AttributeType": k.Type})
		}
	}
	addDef(def.PartitionKey)
	addDef(def.SortKey)
	for _, ix := range def.Indexes {
		gsis = append(gsis, like(obj{
			"IndexName": ix.Name,
			"KeySchema": arr{
				obj{"AttributeName": ix.PartitionKey.Name, "KeyType": "HASH"},
				obj{"AttributeName": ix.SortKey.Name, "KeyType": "RANGE"},
			},
			"Projection": obj{"ProjectionType": "ALL"},
		}))
		addDef(ix.PartitionKey)
		addDef(ix.SortKey)
	}
	tpl := synthesize(t, "default").template(t, stacks.MainStackName)
	check(t, "one table", func() { tpl.ResourceCountIs(str("AWS::DynamoDB::Table"), jsii.Number(1)) })
	check(t, "table from tabledef", func() {
		tpl.HasResourceProperties(str("AWS::DynamoDB::Table"), obj{
			"KeySchema": arr{
				obj{"AttributeName": def.PartitionKey.Name, "KeyType": "HASH"},
				obj{"AttributeName": def.SortKey.Name, "KeyType": "RANGE"},
			},
			"AttributeDefinitions":             assertions.Match_ArrayEquals(&defs),
			"GlobalSecondaryIndexes":           assertions.Match_ArrayEquals(&gsis),
			"BillingMode":                      "PAY_PER_REQUEST",
			"PointInTimeRecoverySpecification": obj{"PointInTimeRecoveryEnabled": true},
			"TimeToLiveSpecification":          obj{"AttributeName": def.TTLAttribute, "Enabled": true},
			"DeletionProtectionEnabled":        true,
		})
	})
	check(t, "table retained on stack deletion and replacement, not on a failed first deploy", func() {
		tpl.HasResource(str("AWS::DynamoDB::Table"), obj{"DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"})
	})
}

func TestImageBucket(t *testing.T) {
	s := synthesize(t, "default")
	tpl := s.template(t, stacks.MainStackName)
	check(t, "private, encrypted, owner-enforced, logged, lifecycle", func() {
		tpl.HasResourceProperties(str("AWS::S3::Bucket"), obj{
			"PublicAccessBlockConfiguration": obj{
				"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
			},
			"OwnershipControls": obj{"Rules": arr{obj{"ObjectOwnership": "BucketOwnerEnforced"}}},
			"BucketEncryption": like(obj{"ServerSideEncryptionConfiguration": arrayWith(like(obj{
				"ServerSideEncryptionByDefault": obj{"SSEAlgorithm": "AES256"},
			}))}),
			"LoggingConfiguration": like(obj{"DestinationBucketName": assertions.Match_AnyValue()}),
			"LifecycleConfiguration": obj{"Rules": arrayWith(like(obj{
				"AbortIncompleteMultipartUpload": obj{"DaysAfterInitiation": 1}, "Status": "Enabled",
			}))},
		})
	})
	check(t, "origin access control", func() {
		tpl.HasResourceProperties(str("AWS::CloudFront::OriginAccessControl"), obj{
			"OriginAccessControlConfig": like(obj{"OriginAccessControlOriginType": "s3", "SigningBehavior": "always"}),
		})
	})

	var statements []interface{}
	for _, p := range s.resources(stacks.MainStackName, "AWS::S3::BucketPolicy") {
		props := p["Properties"].(map[string]interface{})
		if strings.Contains(flatten(props["Bucket"]), "ImageBucket") {
			statements = props["PolicyDocument"].(map[string]interface{})["Statement"].([]interface{})
		}
	}
	tlsOnly, cloudFrontOnly, delegated := false, false, false
	for _, st := range statements {
		st := st.(map[string]interface{})
		text := flatten(st)
		switch {
		case st["Effect"] == "Deny":
			tlsOnly = tlsOnly || strings.Contains(text, `"aws:SecureTransport":"false"`)
		case flatten(st["Principal"]) == `{"Service":"cloudfront.amazonaws.com"}` && flatten(st["Action"]) == "s3:GetObject":
			cloudFrontOnly = strings.Contains(text, `"AWS:SourceArn"`) && strings.Contains(text, "Distribution")
		case st["Sid"] == "DelegateToAccessPoints":
			// TestAccessPoint checks it in detail.
			delegated = strings.Contains(text, `"s3:DataAccessPointAccount":"123456789012"`)
		default:
			t.Errorf("image bucket policy allows more than CloudFront reads: %s", text)
		}
	}
	if !tlsOnly || !cloudFrontOnly || !delegated {
		t.Errorf("image bucket policy: TLS-only deny %v, CloudFront-only read %v, delegation to the account's access points %v; want all",
			tlsOnly, cloudFrontOnly, delegated)
	}
}

func TestOriginSecret(t *testing.T) {
	s := synthesize(t, "default")
	tpl := s.template(t, stacks.MainStackName)
	check(t, "generated secret", func() {
		tpl.HasResourceProperties(str("AWS::SecretsManager::Secret"), obj{
			"GenerateSecretString": like(obj{"ExcludePunctuation": true, "PasswordLength": 48}),
		})
	})
	for _, d := range s.resources(stacks.MainStackName, "AWS::CloudFront::Distribution") {
		cfg := flatten(d["Properties"])
		if !strings.Contains(cfg, `"HeaderName":"`+stacks.OriginHeader+`"`) || !strings.Contains(cfg, "{{resolve:secretsmanager:") {
			t.Errorf("ALB origin does not carry %s from Secrets Manager: %s", stacks.OriginHeader, cfg)
		}
	}
}
