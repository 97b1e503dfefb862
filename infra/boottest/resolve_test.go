package boottest

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestResolve renders the intrinsics a user data script uses, and refuses what the
// test deployment does not define.
func TestResolve(t *testing.T) {
	d := Deployment{Region: "us-east-1", Account: "123456789012", StackName: "Easel",
		Refs:  map[string]string{"Table": "Easel-Table-ABC", "Bucket": "easel-bucket-abc"},
		Attrs: map[string]string{"Dist.DomainName": "d123.cloudfront.net"}}
	for _, tc := range []struct{ in, want string }{
		{`"plain"`, "plain"},
		{`{"Fn::Base64":{"Fn::Join":["",["a=",{"Ref":"Table"},"\nb=",{"Fn::GetAtt":["Dist","DomainName"]}]]}}`,
			"a=Easel-Table-ABC\nb=d123.cloudfront.net"},
		{`{"Fn::Join":["-",[{"Ref":"AWS::Region"},{"Ref":"AWS::AccountId"},{"Ref":"AWS::StackName"}]]}`, "us-east-1-123456789012-Easel"},
		{`{"Fn::Sub":"s3://${Bucket}/k-${AWS::Region}-${Dist.DomainName}-${!Literal}"}`, "s3://easel-bucket-abc/k-us-east-1-d123.cloudfront.net-${Literal}"},
		{`{"Fn::Select":[1,["a",{"Ref":"Bucket"}]]}`, "easel-bucket-abc"},
	} {
		var v interface{}
		if err := json.Unmarshal([]byte(tc.in), &v); err != nil {
			t.Fatal(err)
		}
		got, err := d.Resolve(v)
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		`{"Ref":"Unknown"}`,
		`{"Fn::GetAtt":["Dist","Arn"]}`,
		`{"Fn::ImportValue":"x"}`,
		`{"Fn::Join":["",[{"Ref":"Table"},{"Fn::If":["c","a","b"]}]]}`,
		`42`,
	} {
		var v interface{}
		_ = json.Unmarshal([]byte(in), &v)
		if got, err := d.Resolve(v); err == nil {
			t.Errorf("Resolve(%s) = %q, want an error", in, got)
		} else if strings.Contains(in, "Unknown") && !strings.Contains(err.Error(), "add it to the boot test") {
			t.Errorf("Resolve(%s) error %q does not say what to do", in, err)
		}
	}
}
