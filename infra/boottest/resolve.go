package boottest

import (
	"fmt"
	"sort"
	"strings"
)

// Deployment is what CloudFormation knows when it renders a template: the pseudo
// parameters and the physical ids and attributes of the stack's resources.
type Deployment struct {
	Region, Account, StackName string
	// Refs maps a logical id to what Ref returns for it (a name, an ARN).
	Refs map[string]string
	// Attrs maps "LogicalId.Attribute" to what Fn::GetAtt returns.
	Attrs map[string]string
}

// Resolve renders a CloudFormation value the way CloudFormation does for the
// intrinsics a user data script uses (Fn::Base64 is left to EC2, which decodes it):
// Fn::Join, Ref (resources and pseudo parameters), Fn::GetAtt, Fn::Select and
// Fn::Sub. Anything else, or a reference the deployment does not define, is an error,
// so a template that starts depending on something new fails loudly.
func (d Deployment) Resolve(v interface{}) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case map[string]interface{}:
		if len(x) != 1 {
			return "", fmt.Errorf("not an intrinsic: %v", x)
		}
		for fn, arg := range x {
			return d.intrinsic(fn, arg)
		}
	}
	return "", fmt.Errorf("cannot render %T %v", v, v)
}

func (d Deployment) intrinsic(fn string, arg interface{}) (string, error) {
	switch fn {
	case "Fn::Base64":
		return d.Resolve(arg)
	case "Fn::Join":
		a, ok := arg.([]interface{})
		if !ok || len(a) != 2 {
			return "", fmt.Errorf("Fn::Join %v", arg)
		}
		sep, _ := a[0].(string)
		parts, _ := a[1].([]interface{})
		out := make([]string, len(parts))
		for i, p := range parts {
			s, err := d.Resolve(p)
			if err != nil {
				return "", err
			}
			out[i] = s
		}
		return strings.Join(out, sep), nil
	case "Ref":
		name, _ := arg.(string)
		return d.ref(name)
	case "Fn::GetAtt":
		a, ok := arg.([]interface{})
		if !ok || len(a) != 2 {
			return "", fmt.Errorf("Fn::GetAtt %v", arg)
		}
		key := fmt.Sprint(a[0]) + "." + fmt.Sprint(a[1])
		v, ok := d.Attrs[key]
		if !ok {
			return "", fmt.Errorf("Fn::GetAtt %s: not in the test deployment (add it to the boot test)", key)
		}
		return v, nil
	case "Fn::Select":
		a, ok := arg.([]interface{})
		if !ok || len(a) != 2 {
			return "", fmt.Errorf("Fn::Select %v", arg)
		}
		i, ok := a[0].(float64)
		list, _ := a[1].([]interface{})
		if !ok || int(i) < 0 || int(i) >= len(list) {
			return "", fmt.Errorf("Fn::Select %v", arg)
		}
		return d.Resolve(list[int(i)])
	case "Fn::Sub":
		tpl, ok := arg.(string)
		if !ok {
			return "", fmt.Errorf("Fn::Sub with variables is not rendered by the boot test: %v", arg)
		}
		var b strings.Builder
		for {
			i := strings.Index(tpl, "${")
			if i < 0 {
				b.WriteString(tpl)
				return b.String(), nil
			}
			j := strings.IndexByte(tpl[i:], '}')
			if j < 0 {
				return "", fmt.Errorf("Fn::Sub %q: unclosed ${", arg)
			}
			b.WriteString(tpl[:i])
			name := tpl[i+2 : i+j]
			var v string
			var err error
			if strings.HasPrefix(name, "!") {
				v = "${" + name[1:] + "}"
			} else if res, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
				v, err = d.intrinsic("Fn::GetAtt", []interface{}{res, attr})
			} else {
				v, err = d.ref(name)
			}
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			tpl = tpl[i+j+1:]
		}
	}
	return "", fmt.Errorf("intrinsic %s is not rendered by the boot test", fn)
}

func (d Deployment) ref(name string) (string, error) {
	switch name {
	case "AWS::Region":
		return d.Region, nil
	case "AWS::AccountId":
		return d.Account, nil
	case "AWS::StackName":
		return d.StackName, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	}
	if v, ok := d.Refs[name]; ok {
		return v, nil
	}
	known := make([]string, 0, len(d.Refs))
	for k := range d.Refs {
		known = append(known, k)
	}
	sort.Strings(known)
	return "", fmt.Errorf("Ref %s: not in the test deployment %v (add it to the boot test)", name, known)
}
