package cloud

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/asgdns/asgdns/local/cfn"
	"github.com/asgdns/asgdns/local/iampolicy"
	sharedservices "github.com/asgdns/asgdns/shared-services"
)

// Document is the SSM Command document as the local agent runs it.
type Document struct {
	// Name is the document's name in the shared-services account.
	Name string
	// Content is the document itself: parameters and steps.
	Content sharedservices.Document
	// StepTimeouts are the steps' inputs.timeoutSeconds, the execution
	// timeout the agent enforces (3600 s where a step sets none).
	StepTimeouts map[string]time.Duration
	// Defaults are the parameters that have a default, with it (which
	// may be ""). When nil, a non-empty Parameter.Default is the default.
	Defaults map[string]string
}

// defaultStepTimeout is aws:runShellScript's timeoutSeconds default.
const defaultStepTimeout = time.Hour

func (d Document) stepTimeout(step string) time.Duration {
	if t, ok := d.StepTimeouts[step]; ok && t > 0 {
		return t
	}
	return defaultStepTimeout
}

// LoadDocument reads the SSM document the shared-services template
// (shared-services/template.yaml) deploys for one application account,
// named as the DocumentName parameter's default and the account name it,
// with the account's zones (TenantZones pairs, account:zone).
func LoadDocument(templatePath, account string, tenantZones []string) (Document, error) {
	ss, err := loadSharedServices(templatePath, Options{Region: DefaultRegion, TenantAccountIDs: []string{account}, TenantZones: tenantZones})
	if err != nil {
		return Document{}, err
	}
	return ss.tenants[0].document, nil
}

// sharedServices is what the shared-services stack deploys that the
// endpoint enforces: for each application account (tenant), a role with
// its trust and permission policies, and a document.
type sharedServices struct {
	tenants []*tenant // in TenantAccountIds order
}

// tenant is one application account's share of the shared-services stack:
// one copy of the template's Fn::ForEach::Tenants body.
type tenant struct {
	account     string
	roleARN     string
	maxSession  time.Duration
	trust       iampolicy.Policy
	permissions iampolicy.Policy
	document    Document
}

// byRole is the tenant whose role has this ARN, or nil.
func (ss *sharedServices) byRole(roleARN string) *tenant {
	for _, t := range ss.tenants {
		if t.roleARN == roleARN {
			return t
		}
	}
	return nil
}

// byDocument is the tenant whose document has this name, or nil.
func (ss *sharedServices) byDocument(name string) *tenant {
	for _, t := range ss.tenants {
		if t.document.Name == name {
			return t
		}
	}
	return nil
}

// loadSharedServices evaluates the shared-services template with the
// stack parameters the options give (TenantAccountIds, TenantZones,
// TrustedRoleArns, ExternalId, TrustedOrganizationId): one role and one
// document per tenant account, found by the logical ids the
// Fn::ForEach::Tenants loop gives them (RegistrarRole<account>,
// DnsDocument<account>).
func loadSharedServices(path string, opts Options) (*sharedServices, error) {
	if len(opts.TenantAccountIDs) == 0 {
		return nil, fmt.Errorf("%s: no tenant accounts (Options.TenantAccountIDs, the TenantAccountIds parameter)", path)
	}
	params := map[string]any{
		"TenantAccountIds":      opts.TenantAccountIDs,
		"TenantZones":           opts.TenantZones,
		"TrustedRoleArns":       opts.TrustedRoleARNs,
		"ExternalId":            opts.ExternalID,
		"TrustedOrganizationId": opts.TrustedOrganizationID,
	}
	for _, list := range []string{"TenantZones", "TrustedRoleArns"} {
		if v, _ := params[list].([]string); v == nil {
			params[list] = []string{}
		}
	}
	t, err := cfn.Load(path, params, opts.Region, SharedServicesAccount)
	if err != nil {
		return nil, err
	}
	roles, docs := t.ResourcesOfType("AWS::IAM::Role"), t.ResourcesOfType("AWS::SSM::Document")
	if len(roles) != len(opts.TenantAccountIDs) || len(docs) != len(opts.TenantAccountIDs) {
		return nil, fmt.Errorf("%s: want one AWS::IAM::Role and one AWS::SSM::Document per tenant account (%d), found %d and %d",
			path, len(opts.TenantAccountIDs), len(roles), len(docs))
	}
	ss := &sharedServices{}
	for _, account := range opts.TenantAccountIDs {
		tn, err := loadTenant(t, path, account, opts.TenantZones)
		if err != nil {
			return nil, fmt.Errorf("%s: tenant %s: %w", path, account, err)
		}
		ss.tenants = append(ss.tenants, tn)
	}
	return ss, nil
}

// The logical ids Fn::ForEach::Tenants gives an account's role and
// document (&{TenantAccountId}: an account id is all digits).
const (
	tenantRoleLogicalID     = "RegistrarRole"
	tenantDocumentLogicalID = "DnsDocument"
)

func loadTenant(t *cfn.Template, path, account string, tenantZones []string) (*tenant, error) {
	tn := &tenant{account: account}
	roleID, docID := tenantRoleLogicalID+account, tenantDocumentLogicalID+account
	typ, docProps, err := t.Resource(docID)
	if err != nil || typ != "AWS::SSM::Document" {
		return nil, fmt.Errorf("no AWS::SSM::Document %s (%v)", docID, err)
	}
	name, err := t.Eval(cfn.Property(docProps, "Name"))
	if err != nil {
		return nil, err
	}
	tn.document.Name = fmt.Sprint(name)
	t.SetRef(docID, tn.document.Name)
	if tn.document.Content, err = sharedservices.LoadDocument(path, sharedservices.Tenancy{AccountID: account, TenantZones: tenantZones}); err != nil {
		return nil, err
	}
	content, err := t.Eval(cfn.Property(docProps, "Content"))
	if err != nil {
		return nil, err
	}
	tn.document.StepTimeouts = stepTimeouts(content)
	tn.document.Defaults = parameterDefaults(content)

	typ, roleProps, err := t.Resource(roleID)
	if err != nil || typ != "AWS::IAM::Role" {
		return nil, fmt.Errorf("no AWS::IAM::Role %s (%v)", roleID, err)
	}
	roleName, err := t.Eval(cfn.Property(roleProps, "RoleName"))
	if err != nil {
		return nil, err
	}
	t.SetRef(roleID, fmt.Sprint(roleName))
	tn.roleARN = "arn:aws:iam::" + SharedServicesAccount + ":role/" + fmt.Sprint(roleName)
	tn.maxSession = time.Hour // IAM's default MaxSessionDuration
	if v, err := t.Eval(cfn.Property(roleProps, "MaxSessionDuration")); err != nil {
		return nil, err
	} else if v != nil {
		secs, err := strconv.Atoi(fmt.Sprint(v))
		if err != nil {
			return nil, fmt.Errorf("MaxSessionDuration %v", v)
		}
		tn.maxSession = time.Duration(secs) * time.Second
	}
	trust, err := t.Eval(cfn.Property(roleProps, "AssumeRolePolicyDocument"))
	if err != nil {
		return nil, err
	}
	if tn.trust, err = iampolicy.Parse(trust); err != nil {
		return nil, fmt.Errorf("trust policy: %w", err)
	}
	policies, err := t.Eval(cfn.Property(roleProps, "Policies"))
	if err != nil {
		return nil, err
	}
	list, _ := policies.([]any)
	for _, p := range list {
		pm, _ := p.(map[string]any)
		stmts, err := iampolicy.Parse(pm["PolicyDocument"])
		if err != nil {
			return nil, fmt.Errorf("policy %v: %w", pm["PolicyName"], err)
		}
		tn.permissions = append(tn.permissions, stmts...)
	}
	return tn, nil
}

func stepTimeouts(content any) map[string]time.Duration {
	out := map[string]time.Duration{}
	doc, _ := content.(map[string]any)
	steps, _ := doc["mainSteps"].([]any)
	for _, s := range steps {
		step, _ := s.(map[string]any)
		inputs, _ := step["inputs"].(map[string]any)
		if secs, err := strconv.Atoi(fmt.Sprint(inputs["timeoutSeconds"])); err == nil {
			out[fmt.Sprint(step["name"])] = time.Duration(secs) * time.Second
		}
	}
	return out
}

func parameterDefaults(content any) map[string]string {
	out := map[string]string{}
	doc, _ := content.(map[string]any)
	params, _ := doc["parameters"].(map[string]any)
	for name, p := range params {
		decl, _ := p.(map[string]any)
		if def, ok := decl["default"]; ok {
			out[name] = fmt.Sprint(def)
		}
	}
	return out
}

// LoadRule reads the EventBridge rule that starts the state machine from
// the application template (template.yaml): the EventBridgeRule event of
// its AWS::Serverless::StateMachine, with the AsgNames parameter set to
// asgNames, and its RetryPolicy. The rule is named as SAM names the
// AWS::Events::Rule it generates (<StateMachine><Event>). The caller sets
// Target.
func LoadRule(templatePath string, asgNames []string) (Rule, error) {
	t, err := cfn.Load(templatePath, map[string]any{"AsgNames": asgNames}, DefaultRegion, AppAccount)
	if err != nil {
		return Rule{}, err
	}
	var found []Rule
	for _, sm := range t.ResourcesOfType("AWS::Serverless::StateMachine") {
		_, props, _ := t.Resource(sm)
		events := cfn.Property(props, "Events")
		for i := 0; events != nil && i+1 < len(events.Content); i += 2 {
			name, ev := events.Content[i].Value, events.Content[i+1]
			if cfn.Property(ev, "Type") == nil || cfn.Property(ev, "Type").Value != "EventBridgeRule" {
				continue
			}
			evProps := cfn.Property(ev, "Properties")
			pattern, err := t.Eval(cfn.Property(evProps, "Pattern"))
			if err != nil {
				return Rule{}, err
			}
			raw, err := json.Marshal(pattern)
			if err != nil {
				return Rule{}, err
			}
			rule := Rule{Name: sm + name, Pattern: raw}
			if rp := cfn.Property(evProps, "RetryPolicy"); rp != nil {
				v, err := t.Eval(rp)
				if err != nil {
					return Rule{}, err
				}
				m, _ := v.(map[string]any)
				age, _ := strconv.Atoi(fmt.Sprint(m["MaximumEventAgeInSeconds"]))
				retries, _ := strconv.Atoi(fmt.Sprint(m["MaximumRetryAttempts"]))
				rule.RetryPolicy = &RetryPolicy{MaximumRetryAttempts: retries, MaximumEventAge: time.Duration(age) * time.Second}
			}
			found = append(found, rule)
		}
	}
	if len(found) != 1 {
		names := make([]string, len(found))
		for i, r := range found {
			names[i] = r.Name
		}
		return Rule{}, fmt.Errorf("%s: want one EventBridgeRule event on a state machine, found %d (%s)", templatePath, len(found), strings.Join(names, ", "))
	}
	return found[0], nil
}
