package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/jsii-runtime-go"
)

// OIDCCallbackPath is where the identity provider sends people back to Easel after
// signing in (the page's authorization code flow); OIDCScopes are what Easel asks for.
const OIDCCallbackPath = "/auth/callback"

// OIDCScopes are the scopes of the app client.
func OIDCScopes() []string { return []string{"openid", "email", "profile"} }

// Cognito sign-in settings.
const (
	CognitoPasswordMinLength = 12
	CognitoTokenValidityHour = 1  // ID and access tokens, hours
	CognitoRefreshDays       = 30 // refresh tokens, days
)

// cognitoAuth is the user pool that signs people in when auth=cognito.
type cognitoAuth struct {
	pool   awscognito.UserPool
	domain awscognito.UserPoolDomain
	client awscognito.UserPoolClient
	issuer *string
}

// newCognitoAuth builds the user pool (administrators invite people, no self sign-up;
// a 12-character password policy with every character class; TOTP MFA required;
// the Plus feature plan with threat protection enforced), its Cognito-hosted sign-in
// domain, and a public app client for Easel's page: the authorization code flow (Easel
// sends PKCE), no client secret to keep, callback to the deployment's own
// OIDCCallbackPath.
func newCognitoAuth(s *mainStack, site *string) *cognitoAuth {
	a := &cognitoAuth{}
	a.pool = awscognito.NewUserPool(s.stack, jsii.String("UserPool"), &awscognito.UserPoolProps{
		SelfSignUpEnabled: jsii.Bool(false),
		SignInAliases:     &awscognito.SignInAliases{Email: jsii.Bool(true)},
		AutoVerify:        &awscognito.AutoVerifiedAttrs{Email: jsii.Bool(true)},
		PasswordPolicy: &awscognito.PasswordPolicy{
			MinLength:            jsii.Number(CognitoPasswordMinLength),
			RequireLowercase:     jsii.Bool(true),
			RequireUppercase:     jsii.Bool(true),
			RequireDigits:        jsii.Bool(true),
			RequireSymbols:       jsii.Bool(true),
			TempPasswordValidity: awscdk.Duration_Days(jsii.Number(3)),
		},
		Mfa:                          awscognito.Mfa_REQUIRED,
		MfaSecondFactor:              &awscognito.MfaSecondFactor{Otp: jsii.Bool(true), Sms: jsii.Bool(false)},
		AccountRecovery:              awscognito.AccountRecovery_EMAIL_ONLY,
		FeaturePlan:                  awscognito.FeaturePlan_PLUS,
		StandardThreatProtectionMode: awscognito.StandardThreatProtectionMode_FULL_FUNCTION,
		// The people are kept like the catalog: not on stack deletion or replacement,
		// but a failed first deploy removes the pool it created.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE,
	})
	// Cognito domain prefixes are unique per region: "easel-" and the stack id's first
	// group (hex digits, so never "aws" or "cognito", which Cognito refuses).
	prefix := awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("easel-"), stackIDPart(s)})
	a.domain = a.pool.AddDomain(jsii.String("SignInDomain"), &awscognito.UserPoolDomainOptions{
		CognitoDomain: &awscognito.CognitoDomainOptions{DomainPrefix: prefix},
	})
	base := "https://" + *site
	a.client = a.pool.AddClient(jsii.String("WebClient"), &awscognito.UserPoolClientOptions{
		GenerateSecret: jsii.Bool(false),
		OAuth: &awscognito.OAuthSettings{
			Flows: &awscognito.OAuthFlows{AuthorizationCodeGrant: jsii.Bool(true)},
			Scopes: &[]awscognito.OAuthScope{
				awscognito.OAuthScope_OPENID(), awscognito.OAuthScope_EMAIL(), awscognito.OAuthScope_PROFILE(),
			},
			CallbackUrls: jsii.Strings(base + OIDCCallbackPath),
			LogoutUrls:   jsii.Strings(base + "/"),
		},
		SupportedIdentityProviders: &[]awscognito.UserPoolClientIdentityProvider{awscognito.UserPoolClientIdentityProvider_COGNITO()},
		PreventUserExistenceErrors: jsii.Bool(true),
		EnableTokenRevocation:      jsii.Bool(true),
		IdTokenValidity:            awscdk.Duration_Hours(jsii.Number(CognitoTokenValidityHour)),
		AccessTokenValidity:        awscdk.Duration_Hours(jsii.Number(CognitoTokenValidityHour)),
		RefreshTokenValidity:       awscdk.Duration_Days(jsii.Number(CognitoRefreshDays)),
	})
	// Only refresh tokens through the API: people sign in on the hosted pages, never
	// by handing a password to a client (Cognito's default also allows SRP and custom).
	a.client.Node().DefaultChild().(awscognito.CfnUserPoolClient).SetExplicitAuthFlows(jsii.Strings("ALLOW_REFRESH_TOKEN_AUTH"))
	a.issuer = jsii.String("https://cognito-idp." + *s.stack.Region() + ".amazonaws.com/" + *a.pool.UserPoolId())
	return a
}

// stackIDPart is the first group of the stack id's GUID (8 hex digits): a suffix
// that makes account- or region-wide names unique per stack.
func stackIDPart(s *mainStack) *string {
	return awscdk.Fn_Select(jsii.Number(0), awscdk.Fn_Split(jsii.String("-"),
		awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), s.stack.StackId(), nil)), nil))
}
