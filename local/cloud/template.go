package cloud

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

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

// LoadDocument reads the SSM document of the shared-services template
// (shared-services/template.yaml), named as its DocumentName parameter's
// default names it.
func LoadDocument(templatePath string) (Document, error) {
	ss, err := loadSharedServices(templatePath, Options{Region: DefaultRegion})
	if err != nil {
		return Document{}, err
	}
	return ss.document, nil
}

// sharedServices is what the shared-services stack deploys that the
// endpoint enforces: the role, its trust and permission policies, and the
// document.
type sharedServices struct {
	roleARN     string
	maxSession  time.Duration
	trust       []statement
	permissions []statement
	document    Document
}

// loadSharedServices evaluates the shared-services template with the
// stack parameters the options give (TrustedRoleArns, ExternalId,
// TrustedOrganizationId).
func loadSharedServices(path string, opts Options) (*sharedServices, error) {
	params := map[string]any{
		"TrustedRoleArns":       opts.TrustedRoleARNs,
		"ExternalId":            opts.ExternalID,
		"TrustedOrganizationId": opts.TrustedOrganizationID,
	}
	if opts.TrustedRoleARNs == nil {
		params["TrustedRoleArns"] = []string{}
	}
	t, err := loadTemplate(path, params, opts.Region, SharedServicesAccount)
	if err != nil {
		return nil, err
	}
	roles, docs := t.resourcesOfType("AWS::IAM::Role"), t.resourcesOfType("AWS::SSM::Document")
	if len(roles) != 1 || len(docs) != 1 {
		return nil, fmt.Errorf("%s: want one AWS::IAM::Role and one AWS::SSM::Document, found %d and %d", path, len(roles), len(docs))
	}
	ss := &sharedServices{}

	_, docProps, _ := t.resource(docs[0])
	name, err := t.eval(property(docProps, "Name"))
	if err != nil {
		return nil, err
	}
	ss.document.Name = fmt.Sprint(name)
	t.refs[docs[0]] = ss.document.Name
	if ss.document.Content, err = sharedservices.LoadDocument(path); err != nil {
		return nil, err
	}
	content, err := t.eval(property(docProps, "Content"))
	if err != nil {
		return nil, err
	}
	ss.document.StepTimeouts = stepTimeouts(content)
	ss.document.Defaults = parameterDefaults(content)

	_, roleProps, _ := t.resource(roles[0])
	roleName, err := t.eval(property(roleProps, "RoleName"))
	if err != nil {
		return nil, err
	}
	t.refs[roles[0]] = fmt.Sprint(roleName)
	ss.roleARN = "arn:aws:iam::" + SharedServicesAccount + ":role/" + fmt.Sprint(roleName)
	ss.maxSession = time.Hour // IAM's default MaxSessionDuration
	if v, err := t.eval(property(roleProps, "MaxSessionDuration")); err != nil {
		return nil, err
	} else if v != nil {
		secs, err := strconv.Atoi(fmt.Sprint(v))
		if err != nil {
			return nil, fmt.Errorf("%s: MaxSessionDuration %v", path, v)
		}
		ss.maxSession = time.Duration(secs) * time.Second
	}
	trust, err := t.eval(property(roleProps, "AssumeRolePolicyDocument"))
	if err != nil {
		return nil, err
	}
	if ss.trust, err = parsePolicy(trust); err != nil {
		return nil, fmt.Errorf("%s: trust policy: %w", path, err)
	}
	policies, err := t.eval(property(roleProps, "Policies"))
	if err != nil {
		return nil, err
	}
	list, _ := policies.([]any)
	for _, p := range list {
		pm, _ := p.(map[string]any)
		stmts, err := parsePolicy(pm["PolicyDocument"])
		if err != nil {
			return nil, fmt.Errorf("%s: policy %v: %w", path, pm["PolicyName"], err)
		}
		ss.permissions = append(ss.permissions, stmts...)
	}
	return ss, nil
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
	t, err := loadTemplate(templatePath, map[string]any{"AsgNames": asgNames}, DefaultRegion, AppAccount)
	if err != nil {
		return Rule{}, err
	}
	var found []Rule
	for _, sm := range t.resourcesOfType("AWS::Serverless::StateMachine") {
		_, props, _ := t.resource(sm)
		events := property(props, "Events")
		for i := 0; events != nil && i+1 < len(events.Content); i += 2 {
			name, ev := events.Content[i].Value, events.Content[i+1]
			if property(ev, "Type") == nil || property(ev, "Type").Value != "EventBridgeRule" {
				continue
			}
			evProps := property(ev, "Properties")
			pattern, err := t.eval(property(evProps, "Pattern"))
			if err != nil {
				return Rule{}, err
			}
			raw, err := json.Marshal(pattern)
			if err != nil {
				return Rule{}, err
			}
			rule := Rule{Name: sm + name, Pattern: raw}
			if rp := property(evProps, "RetryPolicy"); rp != nil {
				v, err := t.eval(rp)
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
