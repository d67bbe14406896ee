package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLinksNoRig: the operator's binary, which runs with production
// credentials, links nothing of the local rig (the States Language engine,
// the local AWS endpoint, the Lambda host, BIND) and nothing of the Lambda
// runtime. Its dependencies are read from the go command itself, so a new
// import anywhere below cmd/asgdns is caught, however indirect.
func TestLinksNoRig(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	forbidden := []string{
		"github.com/asgdns/asgdns/local",     // the rig's module
		"github.com/asgdns/asgdns/functions", // the Lambda functions
		"github.com/aws/aws-lambda-go",       // the Lambda runtime
	}
	product := 0
	for _, dep := range deps {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("the operator's binary links %s", dep)
			}
		}
		if strings.HasPrefix(dep, "github.com/asgdns/asgdns/") {
			product++
		}
	}
	// The check means something only if the list is the real one: the
	// binary links its own packages and the contract.
	for _, want := range []string{"github.com/asgdns/asgdns/cmd/asgdns/operate", "github.com/asgdns/asgdns/workflow"} {
		if !strings.Contains(" "+string(out)+" ", "\n"+want+"\n") && !strings.HasPrefix(string(out), want+"\n") {
			t.Errorf("go list -deps does not list %s: not the operator's dependency list?\n%s", want, out)
		}
	}
	t.Logf("%d packages, %d of them asgdns's", len(deps), product)
}
