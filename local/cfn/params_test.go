package cfn

import "testing"

func TestStackParameters(t *testing.T) {
	params, err := StackParameters(appTemplate, map[string]any{
		"AsgNames": "web,api", "SharedServicesAccountId": sharedServicesAccount, "ExternalId": "secret-ish",
		"Zone": "corp.example.com", "DcInstanceIds": "i-0dc00000000000001",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for i, p := range params {
		got[p.Key] = p.Value
		if i > 0 && params[i-1].Key >= p.Key {
			t.Errorf("not in name order: %s before %s", params[i-1].Key, p.Key)
		}
	}
	for k, want := range map[string]string{
		"AsgNames": "web,api", "Zone": "corp.example.com",
		"ExternalId":     "****",          // NoEcho, as DescribeStacks shows it
		"LaunchHookName": "asgdns-launch", // the template's default
		"RecordTTL":      "300",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if _, err := StackParameters(appTemplate, map[string]any{"NoSuchParameter": "x"}); err == nil {
		t.Error("a parameter the template does not declare was accepted")
	}
}
