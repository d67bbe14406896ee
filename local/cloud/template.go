package cloud

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

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
// the application template (template.yaml) as a deployment deploys it:
// the EventBridgeRule event of its AWS::Serverless::StateMachine, with the
// AsgNames parameter set to asgNames, its RetryPolicy, and its
// DeadLetterConfig (the ARN of the queue CreateAppQueues creates for the
// same deployment). The rule is named as SAM names the AWS::Events::Rule
// it generates (<StateMachine><Event>) and is on the deployment's
// account's bus. The caller sets Target and TargetARN.
func LoadRule(templatePath string, at cfn.AppDeployment, asgNames []string) (Rule, error) {
	t, err := loadApp(templatePath, at, map[string]any{"AsgNames": asgNames})
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
			rule := Rule{Name: sm + name, Account: at.Account, Pattern: raw}
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
			if arn := cfn.Property(cfn.Property(evProps, "DeadLetterConfig"), "Arn"); arn != nil {
				if rule.DeadLetterQueueARN, err = queueARNOf(t, at, arn); err != nil {
					return Rule{}, fmt.Errorf("%s: %s DeadLetterConfig: %w", templatePath, rule.Name, err)
				}
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

// loadApp evaluates the application template as a deployment sees it.
func loadApp(templatePath string, at cfn.AppDeployment, params map[string]any) (*cfn.Template, error) {
	if at.Region == "" {
		at.Region = DefaultRegion
	}
	if at.StackName == "" {
		return nil, fmt.Errorf("%s: deployment %+v: no stack name", templatePath, at)
	}
	t, err := cfn.Load(templatePath, params, at.Region, at.Account)
	if err != nil {
		return nil, err
	}
	t.SetRef("AWS::StackName", at.StackName)
	return t, nil
}

// queueARNOf evaluates an Arn that is !GetAtt <Queue>.Arn of one of the
// template's queues, or a literal ARN.
func queueARNOf(t *cfn.Template, at cfn.AppDeployment, n *yaml.Node) (string, error) {
	if n.Tag == "!GetAtt" {
		id, attr, _ := strings.Cut(n.Value, ".")
		typ, props, err := t.Resource(id)
		if err != nil || typ != "AWS::SQS::Queue" || attr != "Arn" {
			return "", fmt.Errorf("!GetAtt %s: want the Arn of an AWS::SQS::Queue (%v)", n.Value, err)
		}
		name, err := appQueueName(t, at, id, props)
		if err != nil {
			return "", err
		}
		return "arn:aws:sqs:" + regionOr(at.Region) + ":" + at.Account + ":" + name, nil
	}
	v, err := t.Eval(n)
	if err != nil {
		return "", err
	}
	return fmt.Sprint(v), nil
}

func regionOr(region string) string {
	if region == "" {
		return DefaultRegion
	}
	return region
}

// appQueueName is a queue's QueueName, or the name CloudFormation
// generates for a queue the template does not name: <stack>-<LogicalId>-
// <suffix>, the same pattern as the roles it names (cfn.GeneratedRoleName).
func appQueueName(t *cfn.Template, at cfn.AppDeployment, logicalID string, props *yaml.Node) (string, error) {
	if n := cfn.Property(props, "QueueName"); n != nil {
		v, err := t.Eval(n)
		if err != nil {
			return "", err
		}
		return fmt.Sprint(v), nil
	}
	return cfn.GeneratedRoleName(at.StackName, logicalID), nil
}

// queueProperties are the AWS::SQS::Queue properties that are CreateQueue
// attributes the local queue models; QueueName names it, the rest
// (Tags, …) do not change how it behaves.
var queueProperties = map[string]bool{
	"VisibilityTimeout": true, "MessageRetentionPeriod": true, "DelaySeconds": true,
	"ReceiveMessageWaitTimeSeconds": true, "SqsManagedSseEnabled": true,
}

// CreateAppQueues creates the application template's AWS::SQS::Queue
// resources as a deployment with these stack parameters does (named by
// QueueName or as CloudFormation generates names, with their
// attributes), by logical id. A property that
// would change a queue's behaviour but is not modelled (FifoQueue,
// RedrivePolicy, KmsMasterKeyId, …) is an error.
func (c *Cloud) CreateAppQueues(templatePath string, at cfn.AppDeployment, params map[string]any) (map[string]Queue, error) {
	at.Region = regionOr(at.Region)
	if at.Region != c.region {
		return nil, fmt.Errorf("cloud: CreateAppQueues: deployment in %s, the endpoint serves %s", at.Region, c.region)
	}
	t, err := loadApp(templatePath, at, params)
	if err != nil {
		return nil, err
	}
	out := map[string]Queue{}
	for _, id := range t.ResourcesOfType("AWS::SQS::Queue") {
		_, props, _ := t.Resource(id)
		name, err := appQueueName(t, at, id, props)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", templatePath, id, err)
		}
		attrs := map[string]string{}
		for i := 0; props != nil && i+1 < len(props.Content); i += 2 {
			key := props.Content[i].Value
			switch {
			case key == "QueueName" || key == "Tags":
				continue
			case !queueProperties[key]:
				return nil, fmt.Errorf("%s: %s: property %s is not modelled by the local queue", templatePath, id, key)
			}
			v, err := t.Eval(props.Content[i+1])
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", templatePath, id, err)
			}
			attrs[key] = fmt.Sprint(v)
		}
		if out[id], err = c.CreateQueue(at.Account, name, attrs); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", templatePath, id, err)
		}
	}
	return out, nil
}
