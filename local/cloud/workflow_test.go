package cloud

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/crossaccount"
)

// The functions' own cross-account code against the endpoint: it assumes
// the role as deployed (session name, SourceIdentity, ExternalId, 15
// minutes), checks the identity, and its cached credentials run the
// document with the parameters the workflow builds.
func TestWorkflowCrossAccountCode(t *testing.T) {
	w, dns := dnsWorld(t, func(o *Options) { o.ExternalID = "asgdns-ext-42" })
	session := config.Session{RoleARN: registrarARN, Account: SharedServicesAccount, ExternalID: "asgdns-ext-42"}
	provider := crossaccount.New(w.sts(keyCreds(keyAssumeRoleFn)), session)
	res, err := provider.Verify(context.Background(), owner, "exec-1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Account != SharedServicesAccount || res.SourceIdentity != "asgdns-"+owner ||
		res.AssumedRoleARN != "arn:aws:sts::222222222222:assumed-role/asgdns-dns-registrar-111111111111/asgdns-"+owner+"-exec-1" {
		t.Errorf("session = %+v", res)
	}

	params, err := workflow.DocumentParameters(workflow.ActionRegister, &workflow.InstanceResult{
		InstanceID: owner, PrivateIP: "10.20.1.50",
		Record: &workflow.Record{Hostname: "from-workflow", Zone: zone, FQDN: "from-workflow." + zone, TTL: 60},
	})
	if err != nil {
		t.Fatal(err)
	}
	sender := crossaccount.New(w.sts(keyCreds(keySendCommand)), session)
	client := w.ssm(keyCreds(keySendCommand)) // the function's own key; the option swaps in the session
	withSession := func(o *ssm.Options) { o.Credentials = sender.For(owner, "exec-1") }
	out, err := client.SendCommand(context.Background(), &ssm.SendCommandInput{
		DocumentName: aws.String(documentName), InstanceIds: []string{dcID}, Parameters: params}, withSession)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the workflow's command", func() (bool, string) {
		inv, err := client.GetCommandInvocation(context.Background(), &ssm.GetCommandInvocationInput{
			CommandId: out.Command.CommandId, InstanceId: aws.String(dcID), PluginName: aws.String(workflow.StepLinux)}, withSession)
		if err != nil {
			return false, err.Error()
		}
		outcome := workflow.ParseOutcome(aws.ToString(inv.StandardOutputContent))
		return inv.Status == ssmtypes.CommandInvocationStatusSuccess && outcome != nil && outcome.Outcome == "created", string(inv.Status)
	})
	if got := lookup(t, dns, "A", "from-workflow."+zone); got != "10.20.1.50" {
		t.Errorf("dig = %q", got)
	}
}
