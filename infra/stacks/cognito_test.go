package stacks_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/easelhq/easel/infra/stacks"
)

// TestCognitoAuth: auth=cognito adds a user pool (invitation only, strong passwords,
// TOTP MFA required, Plus plan with threat protection enforced, kept on deletion), a
// Cognito-hosted sign-in domain, and a public app client for the authorization code
// flow only, calling back to the deployment's own site; the application gets the
// issuer and the client id. The default (keys) has none of it.
func TestCognitoAuth(t *testing.T) {
	tests := []struct {
		variant, region, site string
	}{
		{"ec2-cognito-public", "us-east-1", "<Distribution830FAC52.DomainName>"},
		{"ec2-cognito-domain", "us-west-2", "images.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			s := synthesize(t, tt.variant)
			tpl := s.template(t, stacks.MainStackName)
			poolID, _ := one(t, s, stacks.MainStackName, "AWS::Cognito::UserPool")
			check(t, "user pool", func() {
				tpl.HasResource(str("AWS::Cognito::UserPool"), obj{
					"DeletionPolicy":      "RetainExceptOnCreate",
					"UpdateReplacePolicy": "Retain",
					"Properties": like(obj{
						"AdminCreateUserConfig": obj{"AllowAdminCreateUserOnly": true},
						"UsernameAttributes":    arr{"email"},
						"MfaConfiguration":      "ON",
						"EnabledMfas":           arr{"SOFTWARE_TOKEN_MFA"},
						"Policies": obj{"PasswordPolicy": like(obj{
							"MinimumLength": stacks.CognitoPasswordMinLength, "RequireLowercase": true,
							"RequireNumbers": true, "RequireSymbols": true, "RequireUppercase": true,
						})},
						"UserPoolTier":           "PLUS",
						"UserPoolAddOns":         obj{"AdvancedSecurityMode": "ENFORCED"},
						"AccountRecoverySetting": obj{"RecoveryMechanisms": arr{obj{"Name": "verified_email", "Priority": 1}}},
					}),
				})
			})
			_, domain := one(t, s, stacks.MainStackName, "AWS::Cognito::UserPoolDomain")
			if d := flatten(domain["Properties"].(map[string]interface{})["Domain"]); !strings.HasPrefix(d, "easel-") ||
				!strings.Contains(d, "AWS::StackId") {
				t.Errorf("sign-in domain prefix = %s, want easel- and part of the stack id", d)
			}
			clientID, client := one(t, s, stacks.MainStackName, "AWS::Cognito::UserPoolClient")
			cp := client["Properties"].(map[string]interface{})
			for k, want := range map[string]string{
				"GenerateSecret":                  "false",
				"AllowedOAuthFlows":               "code",
				"AllowedOAuthFlowsUserPoolClient": "true",
				"AllowedOAuthScopes":              strings.Join(stacks.OIDCScopes(), ""),
				"CallbackURLs":                    "https://" + tt.site + stacks.OIDCCallbackPath,
				"LogoutURLs":                      "https://" + tt.site + "/",
				"SupportedIdentityProviders":      "COGNITO",
				"ExplicitAuthFlows":               "ALLOW_REFRESH_TOKEN_AUTH",
				"PreventUserExistenceErrors":      "ENABLED",
				"EnableTokenRevocation":           "true",
				"UserPoolId":                      "<" + poolID + ">",
			} {
				if got := flatten(cp[k]); got != want {
					t.Errorf("app client %s = %s, want %s", k, got, want)
				}
			}
			script := userData(t, s)
			for _, w := range []string{
				"\nEASEL_OIDC_ISSUER=https://cognito-idp." + tt.region + ".amazonaws.com/<" + poolID + ">\n",
				"\nEASEL_OIDC_CLIENT_ID=<" + clientID + ">\n",
			} {
				if !strings.Contains(script, w) {
					t.Errorf("user data lacks %q", w)
				}
			}
			if strings.Contains(script, "EASEL_OIDC_CLIENT_SECRET") {
				t.Error("a public client has no secret to pass")
			}
			for _, out := range []string{"UserPoolId", "UserPoolClientId", "OidcIssuer", "SignInDomain"} {
				check(t, "output "+out, func() { tpl.HasOutput(str(out), obj{"Value": assertions.Match_AnyValue()}) })
			}
		})
	}
	t.Run("keys", func(t *testing.T) {
		for _, name := range []string{"default", "ec2-keys-public"} {
			s := synthesize(t, name)
			for _, typ := range []string{"AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::Cognito::UserPoolDomain"} {
				if n := len(s.resources(stacks.MainStackName, typ)); n != 0 {
					t.Errorf("%s: %d %s with auth=keys, want none", name, n, typ)
				}
			}
			if strings.Contains(userData(t, s), "EASEL_OIDC") {
				t.Errorf("%s: OIDC settings with auth=keys", name)
			}
		}
	})
}
