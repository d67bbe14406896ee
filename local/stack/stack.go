// Package stack runs the whole asgdns workflow on one machine: one loopback
// endpoint speaking the AWS wire protocols (EC2, Auto Scaling, STS, SSM,
// EventBridge, SQS, Step Functions) over two accounts, the real function
// binaries under a Lambda host, the real state machine definition on the
// asl engine, and a real BIND named serving the zone. Everything that
// would be deployed comes from the two templates: the functions'
// configuration, the definition and its substitutions, the EventBridge
// rule and its dead-letter queue, the shared-services role and the SSM
// document.
package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/asgdns/asgdns/local/asl"
	"github.com/asgdns/asgdns/local/bind"
	"github.com/asgdns/asgdns/local/cfn"
	"github.com/asgdns/asgdns/local/cloud"
	"github.com/asgdns/asgdns/local/lambdahost"
	"github.com/asgdns/asgdns/local/stepfunctions"
)

// The local deployment's parameters (what samconfig.toml would say).
const (
	Region           = cloud.DefaultRegion
	AppAccount       = cloud.AppAccount
	OtherAppAccount  = cloud.OtherAppAccount
	SharedAccount    = cloud.SharedServicesAccount
	Zone             = "corp.example.com"
	ReverseZone      = "20.10.in-addr.arpa" // the local instances' 10.20.0.0/16
	DC               = "i-0dc00000000000001"
	ExternalID       = "asgdns-local-external-id"
	StateMachineName = "asgdns-DnsRegistration"
	// StackName is the application stacks' name unless Options.StackName
	// says otherwise: CloudFormation generates the functions' role names
	// from it.
	StackName = "asgdns"
	// Operator credentials: what `asgdns executions`, the AWS CLI and the
	// demo use (an administrator of the application account AppAccount;
	// another account's administrator signs with Deployment.OperatorKeyID
	// and the same secret).
	OperatorKeyID  = "AKIALOCALOPERATOR001"
	OperatorSecret = "local-operator-secret"
)

// Options configure a Stack.
type Options struct {
	// RepoRoot is the repository (go.work, template.yaml, functions/ …).
	RepoRoot string
	// Addr is the endpoint's listen address; 127.0.0.1:0 (any free port)
	// when empty.
	Addr string
	// ASGNames are the Auto Scaling groups the deployment serves (the
	// AsgNames parameter): the EventBridge rule matches their events.
	ASGNames []string
	// HoldBudget is the HoldBudgetSeconds parameter (default HoldBudget;
	// at least the product's 60 s).
	HoldBudget time.Duration
	// Accounts are the application accounts that each deploy the
	// application template (same ASGNames and parameters), and so the
	// shared-services stack's TenantAccountIds: [AppAccount] when empty.
	// The first is the primary deployment (Stack.StateMachineARN, …).
	Accounts []string
	// StackName is the application stacks' name (StackName when empty).
	StackName string
	// TrustByOrganization deploys the shared-services stack trusting the
	// organization's principals tagged asgdns-function
	// (TrustedOrganizationId) instead of the function roles' ARNs
	// (TrustedRoleArns, the default).
	TrustByOrganization bool
	// Throttle, AgentWorkers and CommandDuration are the world's load:
	// per-account API rates by "service:Operation", how many commands
	// the DC runs at once, and how long each takes on top (cloud.Options;
	// Cloud.SetThrottle, SetAgentWorkers and SetCommandDuration change
	// them while running). None, the agent's default and none when zero.
	Throttle        map[string]cloud.Rate
	AgentWorkers    int
	CommandDuration time.Duration
	// Log receives the stack's own log (API calls, commands run, build);
	// FunctionLogs the functions' output. Discarded when nil.
	Log, FunctionLogs io.Writer
}

// Stack is a running local deployment.
type Stack struct {
	// URL is the AWS endpoint (AWS_ENDPOINT_URL) for every service.
	URL string
	// StateMachineARN, StepFunctions and Lambdas are the primary
	// deployment's (Deployments[0]).
	StateMachineARN string
	Cloud           *cloud.Cloud
	StepFunctions   *stepfunctions.Service
	Lambdas         *lambdahost.Host
	DNS             *bind.Server
	// Deployments are the application template's deployments, one per
	// account of Options.Accounts, in that order.
	Deployments []*Deployment

	server  *http.Server
	metrics metricsLog // the functions' EMF metrics (metrics.go)
}

// Deployment is the application template deployed in one account: its
// functions under their own Lambda host, its state machine, its rule.
type Deployment struct {
	Account         string
	StackName       string
	StateMachineARN string
	// StateMachineAliasARN is the AutoPublishAlias alias, when the
	// template asks for one.
	StateMachineAliasARN string
	StepFunctions        *stepfunctions.Service
	Lambdas              *lambdahost.Host
	// Roles are the functions' execution roles (as SAM generates and
	// CloudFormation names them) by logical id.
	Roles map[string]string
	// AccessKeys are the access key ids of the functions' credentials, by
	// function name.
	AccessKeys map[string]string
	// OperatorKeyID signs as an administrator of the account (secret
	// OperatorSecret).
	OperatorKeyID string
	// Queues are the template's SQS queues by logical id, as the
	// deployment created them on the endpoint (the Ref of each is its
	// URL).
	Queues map[string]cloud.Queue
	// UndeliveredEventsQueueURL is the queue the rule dead-letters into
	// (its DeadLetterConfig): where the events it could not deliver are.
	UndeliveredEventsQueueURL string

	close func() error
}

// FunctionRoleARN is the primary deployment's execution role of a
// function (by logical id).
func (s *Stack) FunctionRoleARN(logicalID string) string { return s.Deployments[0].Roles[logicalID] }

// Deployment is the deployment in an account, or nil.
func (s *Stack) Deployment(account string) *Deployment {
	for _, d := range s.Deployments {
		if d.Account == account {
			return d
		}
	}
	return nil
}

func functionARN(account, logicalID string) string {
	return "arn:aws:lambda:" + Region + ":" + account + ":function:" + functionName(logicalID)
}

func functionName(logicalID string) string {
	return "asgdns-" + strings.TrimSuffix(logicalID, "Function")
}

var camel = regexp.MustCompile(`[A-Z][a-z]*`)

// functionDir is the folder under functions/ a function is built from:
// DescribeInstanceFunction → describe-instance (the Makefile's mapping).
func functionDir(logicalID string) string {
	words := camel.FindAllString(strings.TrimSuffix(logicalID, "Function"), -1)
	return strings.ToLower(strings.Join(words, "-"))
}

// appParameters are the application stack's parameters (samconfig.toml's),
// except HoldBudgetSeconds: the local stack runs on real time, so a DNS
// outage holds instances for Options.HoldBudget (not the deployed default
// of half an hour) before the failure result, and failure demos and tests
// end in minutes.
func appParameters(opts Options) map[string]any {
	budget := opts.HoldBudget
	if budget == 0 {
		budget = HoldBudget
	}
	return map[string]any{
		"AsgNames": strings.Join(opts.ASGNames, ","), "SharedServicesAccountId": SharedAccount,
		"ExternalId": ExternalID, "Zone": Zone, "DcInstanceIds": DC, "DcPlatform": "Linux", "CreatePtr": "true",
		"HoldBudgetSeconds": strconv.Itoa(int(budget.Seconds())),
	}
}

// HoldBudget is the local stack's default HoldBudgetSeconds.
const HoldBudget = 90 * time.Second

// Start brings the stack up: named, the world, each account's functions
// (built or reused), state machine and rule, and the endpoint.
func Start(ctx context.Context, opts Options) (s *Stack, err error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if len(opts.ASGNames) == 0 {
		return nil, errors.New("stack: no ASG names")
	}
	if len(opts.Accounts) == 0 {
		opts.Accounts = []string{AppAccount}
	}
	if opts.StackName == "" {
		opts.StackName = StackName
	}
	logs := opts.Log
	if logs == nil {
		logs = io.Discard
	}
	s = &Stack{}
	var listener net.Listener
	defer func() {
		if err != nil {
			if listener != nil {
				_ = listener.Close()
			}
			_ = s.Close() // the error being returned is the one that matters
		}
	}()
	if s.DNS, err = bind.Start(bind.Options{Zone: Zone, ReverseZones: []string{ReverseZone}}); err != nil {
		return nil, err
	}
	if listener, err = net.Listen("tcp", opts.Addr); err != nil {
		return nil, err
	}
	s.URL = "http://" + listener.Addr().String()

	// The application template as each account deploys it.
	template := filepath.Join(opts.RepoRoot, "template.yaml")
	apps := make([]cfn.AppStack, len(opts.Accounts))
	var trusted, tenantZones []string
	for i, account := range opts.Accounts {
		at := cfn.AppDeployment{Region: Region, Account: account, StackName: opts.StackName, StateMachineName: StateMachineName}
		if apps[i], err = cfn.LoadAppStack(template, at, appParameters(opts),
			func(id string) string { return functionARN(account, id) }); err != nil {
			return nil, err
		}
		for _, fn := range apps[i].Functions {
			if _, assumes := fn.Env["ASGDNS_ROLE_ARN"]; assumes {
				trusted = append(trusted, fn.RoleARN)
			}
		}
		tenantZones = append(tenantZones, account+":"+Zone)
	}

	// The shared-services stack: one role and document per account.
	shared := cloud.Options{
		SharedServicesTemplate: filepath.Join(opts.RepoRoot, "shared-services", "template.yaml"),
		TenantAccountIDs:       opts.Accounts, TenantZones: tenantZones,
		TrustedRoleARNs: trusted, ExternalID: ExternalID, DNSConfigPath: s.DNS.ConfigPath(),
		Throttle: opts.Throttle, AgentWorkers: opts.AgentWorkers, CommandDuration: opts.CommandDuration,
		Log: slog.New(slog.NewTextHandler(logs, nil)),
	}
	if opts.TrustByOrganization {
		shared.TrustedRoleARNs, shared.TrustedOrganizationID = nil, cloud.OrganizationID
	}
	if s.Cloud, err = cloud.New(shared); err != nil {
		return nil, err
	}
	if err := s.Cloud.RegisterDC(DC, "Linux"); err != nil {
		return nil, err
	}

	keys := 0
	for i, account := range opts.Accounts {
		d, err := s.deploy(ctx, opts, account, apps[i], &keys, logs)
		if d != nil && d.close != nil {
			s.Deployments = append(s.Deployments, d) // for Close, even if it failed
		}
		if err != nil {
			return nil, fmt.Errorf("stack: deployment in %s: %w", account, err)
		}
	}
	primary := s.Deployments[0]
	s.StateMachineARN, s.StepFunctions, s.Lambdas = primary.StateMachineARN, primary.StepFunctions, primary.Lambdas
	s.Cloud.HandleTarget("AWSStepFunctions", s.stepFunctionsRouter())

	s.server = &http.Server{Handler: s.Cloud.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.server.Handler = s.operatorAPIs(opts) // cloudformation:DescribeStacks/DescribeStackResource, lambda:Invoke
	go func() { _ = s.server.Serve(listener) }()
	return s, nil
}

// deploy runs one account's deployment of the application template: its
// operator, its functions with their roles' credentials and tags, its
// state machine and its EventBridge rule.
func (s *Stack) deploy(ctx context.Context, opts Options, account string, app cfn.AppStack, keys *int, logs io.Writer) (*Deployment, error) {
	d := &Deployment{Account: account, StackName: opts.StackName, Roles: map[string]string{}, AccessKeys: map[string]string{},
		OperatorKeyID: OperatorKeyID}
	if account != AppAccount {
		d.OperatorKeyID = "AKIAOPERATOR" + account
	}
	if err := s.Cloud.AddCredentials(d.OperatorKeyID, OperatorSecret, "arn:aws:iam::"+account+":user/operator"); err != nil {
		return nil, err
	}
	template := filepath.Join(opts.RepoRoot, "template.yaml")
	at := cfn.AppDeployment{Region: Region, Account: account, StackName: opts.StackName}
	var err error
	if d.Queues, err = s.Cloud.CreateAppQueues(template, at, appParameters(opts)); err != nil {
		return nil, err
	}

	// The functions: the real binaries, their configuration from the
	// template, and credentials of their own roles, tagged as SAM tags
	// them. Only AWS_ENDPOINT_URL and the credentials differ from a
	// deployment.
	var fns []lambdahost.Function
	for _, fn := range app.Functions {
		keyID := fmt.Sprintf("AKIALOCALFUNCTION%03d", *keys)
		*keys++
		secret := "local-secret-" + account + "-" + fn.LogicalID
		d.Roles[fn.LogicalID], d.AccessKeys[functionName(fn.LogicalID)] = fn.RoleARN, keyID
		if err := s.Cloud.AddCredentials(keyID, secret, fn.RoleARN); err != nil {
			return nil, err
		}
		if err := s.Cloud.TagRole(fn.RoleARN, fn.Tags); err != nil {
			return nil, err
		}
		env := map[string]string{"AWS_ENDPOINT_URL": s.URL, "AWS_ACCESS_KEY_ID": keyID, "AWS_SECRET_ACCESS_KEY": secret}
		for k, v := range fn.Env {
			env[k] = v
		}
		fns = append(fns, lambdahost.Function{
			Name: functionName(fn.LogicalID), Dir: functionDir(fn.LogicalID), Timeout: fn.Timeout, MemoryMB: fn.MemoryMB,
			Concurrency: 100, LogFormat: "JSON", Env: env, Logs: s.metrics.writer(account, fn.LogicalID, opts.FunctionLogs),
		})
	}
	if d.Lambdas, err = lambdahost.New(lambdahost.Options{RepoRoot: opts.RepoRoot, Region: Region, AccountID: account,
		BuildLog: logs, Functions: fns}); err != nil {
		return nil, err
	}
	if err := d.Lambdas.Build(ctx); err != nil {
		_ = d.Lambdas.Close()
		return nil, err
	}

	// The state machine: the definition and substitutions the template
	// deploys, its Lambda tasks invoking the hosted functions.
	resources := asl.Resources{}
	for _, fn := range app.Functions {
		resources[functionARN(account, fn.LogicalID)] = invoker(d.Lambdas, functionName(fn.LogicalID))
	}
	clock := asl.RealClock()
	engine := asl.NewEngine(asl.Options{Clock: clock, Resources: resources})
	if d.StepFunctions, err = stepfunctions.New(stepfunctions.Options{Engine: engine, Clock: clock, Region: Region, Account: account}); err != nil {
		_ = d.Lambdas.Close()
		return nil, err
	}
	d.close = func() error { return errors.Join(d.StepFunctions.Close(), d.Lambdas.Close()) }
	definition, err := os.ReadFile(filepath.Join(opts.RepoRoot, app.DefinitionURI))
	if err != nil {
		return d, err
	}
	d.StateMachineARN, err = d.StepFunctions.AddStateMachine(StateMachineName, definition, app.Substitutions,
		"arn:aws:iam::"+account+":role/"+cfn.GeneratedRoleName(opts.StackName, app.StateMachine+"Role"))
	if err != nil {
		return d, err
	}

	// SAM's AutoPublishAlias: the deployment publishes the definition as
	// version 1 and points the alias at it; with UseAliasAsEventTarget the
	// rule starts executions on the alias, so they run the version it
	// points to when they start (a later deployment: UpdateStateMachine,
	// PublishVersion, SetAlias).
	target := d.StateMachineARN
	if app.AutoPublishAlias != "" {
		version, err := d.StepFunctions.PublishVersion(d.StateMachineARN, "")
		if err != nil {
			return d, err
		}
		alias, err := d.StepFunctions.SetAlias(d.StateMachineARN, app.AutoPublishAlias, version)
		if err != nil {
			return d, err
		}
		d.StateMachineAliasARN = alias
		if app.UseAliasAsEventTarget {
			target = alias
		}
	}

	// The EventBridge rule the template deploys, on the account's bus,
	// targeting the state machine (or its alias): each matching event
	// starts an execution with the event as its input, as EventBridge does.
	// What it cannot deliver goes to the queue its DeadLetterConfig names.
	rule, err := cloud.LoadRule(template, at, opts.ASGNames)
	if err != nil {
		return d, err
	}
	rule.TargetARN = target
	rule.Target = func(ctx context.Context, event json.RawMessage) error {
		_, err := d.StepFunctions.Start(ctx, target, "", string(event))
		return err
	}
	for _, q := range d.Queues {
		if q.ARN == rule.DeadLetterQueueARN {
			d.UndeliveredEventsQueueURL = q.URL
		}
	}
	return d, s.Cloud.OnEvent(rule)
}

// stepFunctionsRouter serves each account's Step Functions calls from its
// own deployment's service (the primary's for accounts without one).
func (s *Stack) stepFunctionsRouter() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := s.Deployments[0]
		if caller, ok := cloud.CallerFrom(r.Context()); ok && s.Deployment(caller.Account) != nil {
			d = s.Deployment(caller.Account)
		}
		d.StepFunctions.ServeHTTP(w, r)
	})
}

// invoker runs a Task on a hosted function; a function error keeps its
// name and the error document Lambda reports as the Cause.
func invoker(host *lambdahost.Host, name string) asl.Handler {
	return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		out, err := host.Invoke(ctx, name, in)
		var named interface {
			ErrorName() string
			ErrorCause() string
		}
		if errors.As(err, &named) {
			return nil, asl.TaskError{Name: named.ErrorName(), Cause: named.ErrorCause()}
		}
		return out, err
	}
}

// OperatorEnv is the environment for a client of the stack (the AWS CLI,
// asgdns executions/replay): endpoint, region and operator credentials.
func (s *Stack) OperatorEnv() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.URL, "AWS_REGION=" + Region, "AWS_DEFAULT_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + OperatorKeyID, "AWS_SECRET_ACCESS_KEY=" + OperatorSecret,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
}

// Close stops everything.
func (s *Stack) Close() error {
	var errs []error
	if s.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, s.server.Shutdown(ctx))
		cancel()
	}
	for _, d := range s.Deployments {
		errs = append(errs, d.close())
	}
	if s.Cloud != nil {
		errs = append(errs, s.Cloud.Close())
	}
	if s.DNS != nil {
		errs = append(errs, s.DNS.Close())
	}
	return errors.Join(errs...)
}
