package cloud_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/asgdns/asgdns/local/bind"
	"github.com/asgdns/asgdns/local/cfn"
	"github.com/asgdns/asgdns/local/cloud"
)

// The local world as a stack wires it: named for the zone, the endpoint,
// the functions' credentials, a domain controller, the deployed rule
// starting executions, and a demo group.
func Example() {
	dns, err := bind.Start(bind.Options{Zone: "corp.example.com", ReverseZones: []string{"20.10.in-addr.arpa"}})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = dns.Close() }()

	world, err := cloud.New(cloud.Options{
		SharedServicesTemplate: "../../shared-services/template.yaml",
		TenantAccountIDs:       []string{"111111111111"},
		TenantZones:            []string{"111111111111:corp.example.com"},
		TrustedRoleARNs:        []string{"arn:aws:iam::111111111111:role/asgdns-SendCommandFunctionRole"},
		DNSConfigPath:          dns.ConfigPath(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = world.Close() }()
	endpoint := httptest.NewServer(world.Handler()) // AWS_ENDPOINT_URL for the functions and the CLI
	defer endpoint.Close()

	// What a Lambda host would hand the SendCommand function.
	_ = world.AddCredentials("AKIALOCALSENDCOMMAND", "secret",
		"arn:aws:sts::111111111111:assumed-role/asgdns-SendCommandFunctionRole/asgdns-SendCommand")
	_ = world.RegisterDC("i-0dc0000000000001a", "Linux")

	// The rule and its dead-letter queue, as the application stack deploys them.
	app := cfn.AppDeployment{Account: cloud.AppAccount, StackName: "asgdns"}
	if _, err := world.CreateAppQueues("../../template.yaml", app, map[string]any{"AsgNames": []string{"web"}}); err != nil {
		log.Fatal(err)
	}
	rule, err := cloud.LoadRule("../../template.yaml", app, []string{"web"})
	if err != nil {
		log.Fatal(err)
	}
	rule.Target = func(ctx context.Context, event json.RawMessage) error {
		return nil // StartExecution on the state machine
	}
	if err := world.OnEvent(rule); err != nil {
		log.Fatal(err)
	}
	_ = world.CreateGroup(cloud.GroupSpec{Name: "web", Max: 3, Hooks: []cloud.HookSpec{
		{Name: "asgdns-launch", Transition: cloud.Launching},
		{Name: "asgdns-terminate", Transition: cloud.Terminating, DefaultResult: "CONTINUE"},
	}})
	_ = world.SetDesiredCapacity("web", 1)
	fmt.Println(rule.Name, len(world.GroupInstances("web")), world.GroupInstances("web")[0].LifecycleState)
	// Output: DnsRegistrationLifecycleAction 1 Pending:Wait
}
