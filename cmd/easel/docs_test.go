package main

import (
	"flag"
	"io"
	"os"
	"strings"
	"testing"
)

// TestConfigurationDocumented keeps docs/configuration.md and the serve flags in step.
func TestConfigurationDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	var c serveConfig
	f := newFlags("serve", "", "", io.Discard)
	c.bind(f)
	f.VisitAll(func(fl *flag.Flag) {
		if !strings.Contains(string(doc), "`--"+fl.Name+"`") {
			t.Errorf("flag --%s is not in docs/configuration.md", fl.Name)
		}
		env := fl.Usage[strings.LastIndex(fl.Usage, "$")+1:]
		env = strings.TrimRight(env, ")")
		env, _, _ = strings.Cut(env, ",")
		if !strings.Contains(string(doc), "`"+env+"`") {
			t.Errorf("variable %s (of --%s) is not in docs/configuration.md", env, fl.Name)
		}
	})
}
