package cloud

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/asgdns/asgdns/workflow"
)

// TestSendCommandListsThroughTheAgent: the document's list action, sent
// with only the parameters workflow.ListParameters names, runs on the local
// agent with the others at their defaults and page passed through as
// SSM_page: each page lists what it should.
func TestSendCommandListsThroughTheAgent(t *testing.T) {
	w, _ := dnsWorld(t)
	client := w.ssm(w.assume(keySendCommand, owner))
	reg := waitInvocation(t, client, aws.ToString(send(t, client, registerParams("register", "web-1", "10.20.1.10", owner)).CommandId), linuxStep)
	if reg.Status != types.CommandInvocationStatusSuccess {
		t.Fatalf("register: %s %q", reg.Status, aws.ToString(reg.StandardOutputContent))
	}
	for page, want := range []int{1, 0} {
		params, err := workflow.ListParameters(zone, page)
		if err != nil {
			t.Fatal(err)
		}
		cmd := send(t, client, params)
		if got := cmd.Parameters[workflow.ParamPage]; len(got) != 1 || got[0] != []string{"0", "1"}[page] {
			t.Errorf("page %d: the command's page parameter is %v", page, got)
		}
		inv := waitInvocation(t, client, aws.ToString(cmd.CommandId), linuxStep)
		stdout := aws.ToString(inv.StandardOutputContent)
		p, err := workflow.ParseListing(stdout)
		if inv.Status != types.CommandInvocationStatusSuccess || err != nil {
			t.Fatalf("page %d: %s %v\nstdout %q\nstderr %q", page, inv.Status, err, stdout, aws.ToString(inv.StandardErrorContent))
		}
		if p.Page != page || p.Pages != 1 || p.OwnedTotal != 1 || len(p.Owned) != want {
			t.Errorf("page %d: %+v", page, p)
		}
		if want == 1 && (p.Owned[0].FQDN != "web-1."+zone || p.Owned[0].OwnerAccount != AppAccount || p.Owned[0].OwnerInstance != owner) {
			t.Errorf("page %d: %+v", page, p.Owned[0])
		}
	}
}
