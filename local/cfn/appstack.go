package cfn

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// AppFunction is a Lambda function of the application template
// (template.yaml) as a local run starts it.
type AppFunction struct {
	LogicalID string
	Timeout   time.Duration
	MemoryMB  int
	// Env is the function's Environment.Variables, evaluated with the
	// parameters given (and their defaults).
	Env map[string]string
	// RoleARN is the execution role SAM generates for the function
	// (<LogicalId>Role), named as CloudFormation names it
	// (GeneratedRoleName), in the deployment's account.
	RoleARN string
	// Tags are the function's Tags, which SAM also puts on that role
	// (aws/serverless-application-model PR #1194): its sessions'
	// principal tags.
	Tags map[string]string
}

// AppDeployment is where the application template is deployed: the
// region (AWS::Region), the account (AWS::AccountId) and the stack's name
// (AWS::StackName, and the start of every name CloudFormation generates).
type AppDeployment struct {
	Region    string
	Account   string
	StackName string
	// StateMachineName is the name the deployment gives its state machine
	// (CloudFormation generates one, as the template names none): what
	// the Ref of SAM's AutoPublishAlias alias evaluates with, in a
	// function's environment. Empty: that Ref is an error.
	StateMachineName string
}

var accountID = regexp.MustCompile(`^[0-9]{12}$`)

// AppStack is what a local run takes from the application template: the
// functions with their configuration, and the state machine's definition
// and DefinitionSubstitutions.
type AppStack struct {
	Functions []AppFunction
	// StateMachine is the AWS::Serverless::StateMachine's logical id.
	StateMachine string
	// DefinitionURI is its DefinitionUri, relative to the template.
	DefinitionURI string
	// Substitutions are its DefinitionSubstitutions; a !GetAtt Fn.Arn
	// becomes functionARN(Fn).
	Substitutions map[string]string
	// AutoPublishAlias is its AutoPublishAlias: the alias SAM moves to the
	// version each deployment publishes ("" for none).
	AutoPublishAlias string
	// UseAliasAsEventTarget is its UseAliasAsEventTarget: its Events'
	// rules target the alias rather than the unqualified state machine.
	UseAliasAsEventTarget bool
}

// LoadAppStack reads the application template, deployed as at says, with
// the given parameters.
func LoadAppStack(templatePath string, at AppDeployment, params map[string]any, functionARN func(logicalID string) string) (AppStack, error) {
	if at.Region == "" || !accountID.MatchString(at.Account) || at.StackName == "" {
		return AppStack{}, fmt.Errorf("%s: deployment %+v: want a region, a 12-digit account and a stack name", templatePath, at)
	}
	t, err := Load(templatePath, params, at.Region, at.Account)
	if err != nil {
		return AppStack{}, err
	}
	t.SetRef("AWS::StackName", at.StackName)
	// Ref of a function is its name, not its ARN (AWS::Lambda::Function
	// return values, which SAM's function keeps).
	for _, fn := range t.ResourcesOfType("AWS::Serverless::Function") {
		arn := functionARN(fn)
		t.SetRef(fn, arn[strings.LastIndex(arn, ":")+1:])
	}
	if err := setResourceRefs(t, at); err != nil {
		return AppStack{}, err
	}
	globals, err := functionGlobals(templatePath)
	if err != nil {
		return AppStack{}, err
	}
	var app AppStack
	for _, id := range t.ResourcesOfType("AWS::Serverless::Function") {
		_, props, _ := t.Resource(id)
		fn := AppFunction{LogicalID: id, Timeout: globals.timeout, MemoryMB: globals.memory, Env: map[string]string{},
			RoleARN: "arn:aws:iam::" + at.Account + ":role/" + GeneratedRoleName(at.StackName, id+"Role"), Tags: map[string]string{}}
		if n := Property(props, "Tags"); n != nil {
			tags, err := t.Eval(n)
			m, ok := tags.(map[string]any)
			if err != nil || !ok {
				return AppStack{}, t.errorf(n, "%s: Tags: want a map of strings (%v)", id, err)
			}
			for k, v := range m {
				fn.Tags[k] = fmt.Sprint(v)
			}
		}
		if n := Property(props, "Timeout"); n != nil {
			s, err := strconv.Atoi(n.Value)
			if err != nil {
				return AppStack{}, t.errorf(n, "Timeout %q: %v", n.Value, err)
			}
			fn.Timeout = time.Duration(s) * time.Second
		}
		if n := Property(props, "MemorySize"); n != nil {
			if fn.MemoryMB, err = strconv.Atoi(n.Value); err != nil {
				return AppStack{}, t.errorf(n, "MemorySize %q: %v", n.Value, err)
			}
		}
		vars := Property(Property(props, "Environment"), "Variables")
		for i := 0; vars != nil && i+1 < len(vars.Content); i += 2 {
			v, err := t.Eval(vars.Content[i+1])
			if err != nil {
				return AppStack{}, fmt.Errorf("%s: %s: %w", id, vars.Content[i].Value, err)
			}
			fn.Env[vars.Content[i].Value] = fmt.Sprint(v)
		}
		app.Functions = append(app.Functions, fn)
	}
	machines := t.ResourcesOfType("AWS::Serverless::StateMachine")
	if len(machines) != 1 {
		return AppStack{}, fmt.Errorf("%s: want one AWS::Serverless::StateMachine, found %d", templatePath, len(machines))
	}
	app.StateMachine = machines[0]
	_, props, _ := t.Resource(app.StateMachine)
	if n := Property(props, "DefinitionUri"); n != nil {
		app.DefinitionURI = n.Value
	}
	if n := Property(props, "AutoPublishAlias"); n != nil {
		v, err := t.Eval(n)
		if err != nil {
			return AppStack{}, fmt.Errorf("%s: AutoPublishAlias: %w", app.StateMachine, err)
		}
		app.AutoPublishAlias = fmt.Sprint(v)
	}
	if n := Property(props, "UseAliasAsEventTarget"); n != nil {
		v, err := t.Eval(n)
		if err != nil {
			return AppStack{}, fmt.Errorf("%s: UseAliasAsEventTarget: %w", app.StateMachine, err)
		}
		if app.UseAliasAsEventTarget, err = strconv.ParseBool(fmt.Sprint(v)); err != nil {
			return AppStack{}, t.errorf(n, "%s: UseAliasAsEventTarget %q: want true or false", app.StateMachine, n.Value)
		}
		if app.UseAliasAsEventTarget && app.AutoPublishAlias == "" {
			// As SAM refuses it.
			return AppStack{}, t.errorf(n, "%s: 'UseAliasAsEventTarget' requires 'AutoPublishAlias' property to be specified", app.StateMachine)
		}
	}
	app.Substitutions = map[string]string{}
	subs := Property(props, "DefinitionSubstitutions")
	for i := 0; subs != nil && i+1 < len(subs.Content); i += 2 {
		n := subs.Content[i+1]
		if n.Tag == "!GetAtt" && strings.HasSuffix(n.Value, ".Arn") {
			app.Substitutions[subs.Content[i].Value] = functionARN(strings.TrimSuffix(n.Value, ".Arn"))
			continue
		}
		v, err := t.Eval(n)
		if err != nil {
			return AppStack{}, fmt.Errorf("%s: DefinitionSubstitutions.%s: %w", app.StateMachine, subs.Content[i].Value, err)
		}
		app.Substitutions[subs.Content[i].Value] = fmt.Sprint(v)
	}
	return app, nil
}

type globals struct {
	timeout time.Duration
	memory  int
}

// functionGlobals reads Globals.Function's Timeout and MemorySize (Lambda's
// defaults, 3 s and 128 MB, when absent).
func functionGlobals(path string) (globals, error) {
	g := globals{timeout: 3 * time.Second, memory: 128}
	data, err := os.ReadFile(path)
	if err != nil {
		return g, err
	}
	var doc struct {
		Globals struct {
			Function struct {
				Timeout    int `yaml:"Timeout"`
				MemorySize int `yaml:"MemorySize"`
			} `yaml:"Function"`
		} `yaml:"Globals"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return g, fmt.Errorf("%s: %w", path, err)
	}
	if doc.Globals.Function.Timeout > 0 {
		g.timeout = time.Duration(doc.Globals.Function.Timeout) * time.Second
	}
	if doc.Globals.Function.MemorySize > 0 {
		g.memory = doc.Globals.Function.MemorySize
	}
	return g, nil
}

// setResourceRefs models what Ref returns for the resources a function's
// environment may name besides parameters (the reconciler's, DESIGN §9):
//   - an AWS::SQS::Queue: its URL, https://sqs.<region>.amazonaws.com/
//     <account>/<name>, named by QueueName or as CloudFormation generates
//     names (GeneratedRoleName), as the local endpoint creates it;
//   - the alias SAM generates for a state machine's AutoPublishAlias,
//     <StateMachine>Alias<alias>: <state machine ARN>:<alias>, the state
//     machine named at.StateMachineName.
func setResourceRefs(t *Template, at AppDeployment) error {
	for _, id := range t.ResourcesOfType("AWS::SQS::Queue") {
		_, props, _ := t.Resource(id)
		name := GeneratedRoleName(at.StackName, id)
		if n := Property(props, "QueueName"); n != nil {
			v, err := t.Eval(n)
			if err != nil {
				return fmt.Errorf("%s: QueueName: %w", id, err)
			}
			name = fmt.Sprint(v)
		}
		t.SetRef(id, "https://sqs."+at.Region+".amazonaws.com/"+at.Account+"/"+name)
	}
	if at.StateMachineName == "" {
		return nil
	}
	for _, id := range t.ResourcesOfType("AWS::Serverless::StateMachine") {
		_, props, _ := t.Resource(id)
		n := Property(props, "AutoPublishAlias")
		if n == nil {
			continue
		}
		alias, err := t.Eval(n)
		if err != nil {
			return fmt.Errorf("%s: AutoPublishAlias: %w", id, err)
		}
		t.SetRef(fmt.Sprintf("%sAlias%v", id, alias),
			fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s:%v", at.Region, at.Account, at.StateMachineName, alias))
	}
	return nil
}
