package stacks_test

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/easelhq/easel/infra/stacks"
)

// logicalID returns the logical id of the only resource of typ whose id starts with prefix.
func logicalID(t *testing.T, s *synthesized, typ, prefix string) string {
	t.Helper()
	var ids []string
	for id := range s.resources(stacks.MainStackName, typ) {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%s resources named %s*: %v, want one", typ, prefix, ids)
	}
	return ids[0]
}

// TestPrivateImagesVariant: with privateImages=true the /images/* behaviour trusts a
// key group of public keys whose private halves a deploy-time function generated into
// Secrets Manager; the application may read exactly the current key's secret and
// invalidate exactly the distribution, and is told the key's id, the secret and the
// expiry. A rotation (generation 2) signs with the new key and keeps the old one in
// the group. Without privateImages there is no key group, and deletes still invalidate.
func TestPrivateImagesVariant(t *testing.T) {
	tests := []struct {
		variant string
		gens    []string // the generations in the key group
	}{
		{"ec2-keys-private", []string{"1"}},
		{"ec2-keys-private-g2", []string{"1", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			s := synthesize(t, tt.variant)
			cur := tt.gens[len(tt.gens)-1]
			_, group := one(t, s, stacks.MainStackName, "AWS::CloudFront::KeyGroup")
			groupID := logicalID(t, s, "AWS::CloudFront::KeyGroup", "SigningKeyGroup")
			items := list(group["Properties"].(map[string]interface{})["KeyGroupConfig"].(map[string]interface{})["Items"])
			var want []string
			for _, g := range tt.gens {
				want = append(want, "<"+logicalID(t, s, "AWS::CloudFront::PublicKey", "SigningPublicKey"+g)+">")
			}
			sort.Strings(want)
			if strings.Join(items, " ") != strings.Join(want, " ") {
				t.Errorf("key group items = %v, want %v", items, want)
			}
			for _, g := range tt.gens {
				pk := s.resources(stacks.MainStackName, "AWS::CloudFront::PublicKey")[logicalID(t, s, "AWS::CloudFront::PublicKey", "SigningPublicKey"+g)]
				cfg := pk["Properties"].(map[string]interface{})["PublicKeyConfig"].(map[string]interface{})
				crID := logicalID(t, s, stacks.SigningKeyResourceType, "SigningKey"+g)
				if got := flatten(cfg["EncodedKey"]); got != "<"+crID+".PublicKey>" {
					t.Errorf("public key %s encoded key = %s, want the custom resource's PublicKey", g, got)
				}
				cr := s.resources(stacks.MainStackName, stacks.SigningKeyResourceType)[crID]
				secretID := logicalID(t, s, "AWS::SecretsManager::Secret", "SigningKeySecret"+g)
				if got := flatten(cr["Properties"].(map[string]interface{})["SecretArn"]); got != "<"+secretID+">" {
					t.Errorf("signing key %s writes into %s, want its secret %s", g, got, secretID)
				}
			}
			fnID := logicalID(t, s, "AWS::Lambda::Function", "SigningKeyFunction")
			fn := s.resources(stacks.MainStackName, "AWS::Lambda::Function")[fnID]
			code := flatten(fn["Properties"].(map[string]interface{})["Code"].(map[string]interface{})["ZipFile"])
			if code != stacks.SigningKeyHandler || !strings.Contains(code, "generateKeyPairSync('rsa'") ||
				!strings.Contains(code, "PutSecretValueCommand") || len(code) > 4096 {
				t.Errorf("signing key function code is not the embedded RSA generator (%d bytes)", len(code))
			}
			// No private key anywhere but in the generator's source.
			for id, r := range s.templates[stacks.MainStackName]["Resources"].(map[string]interface{}) {
				if id != fnID && strings.Contains(flatten(r), "PRIVATE KEY") {
					t.Errorf("%s carries a private key", id)
				}
			}

			// The /images/* behaviour, and only it, needs signed URLs.
			for _, d := range s.resources(stacks.MainStackName, "AWS::CloudFront::Distribution") {
				dc := d["Properties"].(map[string]interface{})["DistributionConfig"].(map[string]interface{})
				if _, ok := dc["DefaultCacheBehavior"].(map[string]interface{})["TrustedKeyGroups"]; ok {
					t.Error("the default behaviour requires signed URLs")
				}
				found := false
				for _, b := range dc["CacheBehaviors"].([]interface{}) {
					b := b.(map[string]interface{})
					tkg := flatten(b["TrustedKeyGroups"])
					switch b["PathPattern"] {
					case "/" + stacks.ImagePrefix + "*":
						found = tkg == "<"+groupID+">"
					default:
						if b["TrustedKeyGroups"] != nil {
							t.Errorf("behaviour %v requires signed URLs", b["PathPattern"])
						}
					}
				}
				if !found {
					t.Error("the /images/* behaviour does not trust the key group")
				}
			}

			sts := policyStatements(t, s)
			secretID := logicalID(t, s, "AWS::SecretsManager::Secret", "SigningKeySecret"+cur)
			signing := 0
			for _, st := range statementsWith(sts, "secretsmanager:GetSecretValue") {
				res := list(st["Resource"])
				if strings.Contains(strings.Join(res, " "), "SigningKeySecret") {
					signing++
					if strings.Join(res, " ") != "<"+secretID+">" || strings.Join(list(st["Action"]), " ") != "secretsmanager:GetSecretValue" {
						t.Errorf("signing key grant %v on %v, want GetSecretValue on exactly %s", list(st["Action"]), res, secretID)
					}
				}
			}
			if signing != 1 {
				t.Errorf("%d statements grant the signing key secrets, want 1", signing)
			}
			checkInvalidationGrant(t, s)
			script := userData(t, s)
			pkID := logicalID(t, s, "AWS::CloudFront::PublicKey", "SigningPublicKey"+cur)
			for _, w := range []string{
				"\nEASEL_PRIVATE_IMAGES=true\n",
				"\nEASEL_PRIVATE_IMAGE_EXPIRY=1h\n",
				"\nEASEL_CLOUDFRONT_KEY_PAIR_ID=<" + pkID + ">\n",
				"\nEASEL_CLOUDFRONT_PRIVATE_KEY_SECRET=<" + secretID + ">\n",
				"\nEASEL_CLOUDFRONT_DISTRIBUTION=<Distribution",
			} {
				if !strings.Contains(script, w) {
					t.Errorf("user data lacks %q", w)
				}
			}
		})
	}
	t.Run("public", func(t *testing.T) {
		s := synthesize(t, "default")
		for _, typ := range []string{"AWS::CloudFront::KeyGroup", "AWS::CloudFront::PublicKey", stacks.SigningKeyResourceType} {
			if n := len(s.resources(stacks.MainStackName, typ)); n != 0 {
				t.Errorf("%d %s without private images, want none", n, typ)
			}
		}
		script := userData(t, s)
		if strings.Contains(script, "EASEL_PRIVATE_IMAGES") || !strings.Contains(script, "\nEASEL_CLOUDFRONT_DISTRIBUTION=<Distribution") {
			t.Error("without private images the instances get no signing settings but still the distribution to invalidate")
		}
		checkInvalidationGrant(t, s)
	})
}

// checkInvalidationGrant: the instance role may create invalidations on exactly the
// deployment's distribution, and nothing else in CloudFront.
func checkInvalidationGrant(t *testing.T, s *synthesized) {
	t.Helper()
	n := 0
	for _, st := range policyStatements(t, s) {
		for _, a := range list(st["Action"]) {
			if !strings.HasPrefix(a, "cloudfront:") {
				continue
			}
			n++
			res := list(st["Resource"])
			if a != "cloudfront:CreateInvalidation" || len(res) != 1 ||
				!regexp.MustCompile(`^arn:<AWS::Partition>:cloudfront::123456789012:distribution/<Distribution[0-9A-F]+>$`).MatchString(res[0]) {
				t.Errorf("CloudFront grant %s on %v, want CreateInvalidation on the distribution", a, res)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d CloudFront grants, want CreateInvalidation once", n)
	}
}
