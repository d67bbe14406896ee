package check

import (
	"regexp"
	"slices"
	"strings"

	"github.com/asgdns/asgdns/workflow/config"
)

// The application stack's parameters (template.yaml) the check reads.
const (
	paramAsgNames             = "AsgNames"
	paramCreateLifecycleHooks = "CreateLifecycleHooks"
	paramHookHeartbeatTimeout = "HookHeartbeatTimeout"
	paramLaunchHookName       = "LaunchHookName"
	paramTerminateHookName    = "TerminateHookName"
	paramSharedAccount        = "SharedServicesAccountId"
	paramSharedRoleName       = "SharedRoleName"
	paramZone                 = "Zone"
	paramHostnameTemplate     = "HostnameTemplate"
	paramRecordTTL            = "RecordTTL"
	paramCreatePtr            = "CreatePtr"
	paramDcInstanceIds        = "DcInstanceIds"
	paramDcPlatform           = "DcPlatform"
	paramDocumentName         = "DocumentName"
	paramOnFailure            = "OnFailure"
)

// knownParameters are the application template's parameters: an override
// naming anything else is a typo. (TestParametersAreTheTemplates pins the
// list to template.yaml's.)
var knownParameters = []string{
	paramAsgNames, paramCreateLifecycleHooks, paramLaunchHookName, paramTerminateHookName, "HoldBudgetSeconds",
	paramHookHeartbeatTimeout, paramSharedAccount, paramSharedRoleName, "ExternalId", paramZone, paramHostnameTemplate,
	paramRecordTTL, paramCreatePtr, paramDcInstanceIds, paramDcPlatform, paramDocumentName, paramOnFailure,
	"HeldAlarmSeconds", "AlarmEmail", "LogRetentionDays",
	// The reconciler's (asgdns reconcile runs it on demand).
	"ReconcileIntervalMinutes", "ReconcileMode", "ReconcileRemovalPercent", "ReconcileRemovalFloor",
}

// requiredParameters have no default in template.yaml: a deployment
// always has them, and a check without a stack needs them given.
var requiredParameters = []string{paramAsgNames, paramSharedAccount, paramZone, paramDcInstanceIds}

// The hook names template.yaml defaults LaunchHookName and
// TerminateHookName to (config.DefaultHookNames, pinned by a test).
const (
	defaultLaunchHook    = "asgdns-launch"
	defaultTerminateHook = "asgdns-terminate"
)

// describeInstanceEnv maps the DescribeInstance function's environment
// variables to the stack parameters template.yaml sets them from (!Ref);
// ASGDNS_DOCUMENT_NAME and ASGDNS_HOOK_NAMES are !Sub, see environment.
// TestEnvironmentIsTheTemplates pins this against template.yaml.
var describeInstanceEnv = []struct{ env, param string }{
	{config.EnvZone, paramZone},
	{config.EnvHostnameTemplate, paramHostnameTemplate},
	{config.EnvTTL, paramRecordTTL},
	{config.EnvPTR, paramCreatePtr},
	{config.EnvDCInstanceIDs, paramDcInstanceIds},
	{config.EnvDCPlatform, paramDcPlatform},
	{config.EnvOnFailure, paramOnFailure},
}

// parameters are the stack parameters in effect: the stack's, with the
// overrides on top.
type parameters map[string]string

// get returns a parameter's value, or def when it is not given.
func (p parameters) get(name, def string) string {
	if v, ok := p[name]; ok {
		return v
	}
	return def
}

// list reads a CommaDelimitedList parameter.
func (p parameters) list(name string) []string {
	var out []string
	for part := range strings.SplitSeq(p[name], ",") {
		if s := strings.TrimSpace(part); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// environment is the DescribeInstance function's environment as
// template.yaml builds it from the parameters in account. A parameter not
// given leaves its variable unset, so config.Load applies its own default.
func (p parameters) environment(account string) map[string]string {
	env := map[string]string{}
	for _, m := range describeInstanceEnv {
		if v, ok := p[m.param]; ok {
			env[m.env] = v
		}
	}
	// ASGDNS_DOCUMENT_NAME: !Sub ${DocumentName}-${AWS::AccountId}
	env[config.EnvDocumentName] = p.get(paramDocumentName, config.DefaultDocumentName) + "-" + account
	// ASGDNS_HOOK_NAMES: !Sub ${LaunchHookName},${TerminateHookName}
	env[config.EnvHookNames] = p.get(paramLaunchHookName, defaultLaunchHook) + "," + p.get(paramTerminateHookName, defaultTerminateHook)
	return env
}

// envParameter names the stack parameter behind an environment variable,
// for messages that should say what the operator sets.
func envParameter(env string) (string, bool) {
	if env == config.EnvDocumentName {
		return paramDocumentName, true
	}
	i := slices.IndexFunc(describeInstanceEnv, func(m struct{ env, param string }) bool { return m.env == env })
	if i < 0 {
		return "", false
	}
	return describeInstanceEnv[i].param, true
}

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
