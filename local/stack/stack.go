// Package stack runs the whole asgdns workflow on one machine: one loopback
// endpoint speaking the AWS wire protocols (EC2, Auto Scaling, STS, SSM,
// EventBridge, Step Functions) over two accounts, the real function
// binaries under a Lambda host, the real state machine definition on the
// asl engine, and a real BIND named serving the zone. Everything that
// would be deployed comes from the two templates: the functions'
// configuration, the definition and its substitutions, the EventBridge
// rule, the shared-services role and the SSM document.
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
	"strings"
	"time"

	"github.com/asgdns/asgdns/asl"
	"github.com/asgdns/asgdns/local/cloud"
	"github.com/asgdns/asgdns/local/cloud/bind"
	"github.com/asgdns/asgdns/local/lambdahost"
	"github.com/asgdns/asgdns/local/stepfunctions"
)

// The local deployment's parameters (what samconfig.toml would say).
const (
	Region           = cloud.DefaultRegion
	AppAccount       = cloud.AppAccount
	SharedAccount    = cloud.SharedServicesAccount
	Zone             = "corp.example.com"
	ReverseZone      = "20.10.in-addr.arpa" // the local instances' 10.20.0.0/16
	DC               = "i-0dc00000000000001"
	ExternalID       = "asgdns-local-external-id"
	StateMachineName = "asgdns-DnsRegistration"
	// Operator credentials: what `asgdns executions`, the AWS CLI and the
	// demo use (an administrator of the application account).
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
	// Log receives the stack's own log (API calls, commands run, build);
	// FunctionLogs the functions' output. Discarded when nil.
	Log, FunctionLogs io.Writer
}

// Stack is a running local deployment.
type Stack struct {
	// URL is the AWS endpoint (AWS_ENDPOINT_URL) for every service.
	URL string
	// StateMachineARN is the asgdns state machine.
	StateMachineARN string
	Cloud           *cloud.Cloud
	StepFunctions   *stepfunctions.Service
	Lambdas         *lambdahost.Host
	DNS             *bind.Server

	server *http.Server
}

func functionARN(logicalID string) string {
	return "arn:aws:lambda:" + Region + ":" + AppAccount + ":function:" + functionName(logicalID)
}

func functionName(logicalID string) string {
	return "asgdns-" + strings.TrimSuffix(logicalID, "Function")
}

// roleARN is the execution role SAM would create for a function.
func roleARN(logicalID string) string {
	return "arn:aws:iam::" + AppAccount + ":role/asgdns-" + logicalID + "Role"
}

var camel = regexp.MustCompile(`[A-Z][a-z]*`)

// functionDir is the folder under functions/ a function is built from:
// DescribeInstanceFunction → describe-instance (the Makefile's mapping).
func functionDir(logicalID string) string {
	words := camel.FindAllString(strings.TrimSuffix(logicalID, "Function"), -1)
	return strings.ToLower(strings.Join(words, "-"))
}

// Start brings the stack up: named, the world, the functions (built or
// reused), the state machine and the endpoint.
func Start(ctx context.Context, opts Options) (s *Stack, err error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if len(opts.ASGNames) == 0 {
		return nil, errors.New("stack: no ASG names")
	}
	logs := opts.Log
	if logs == nil {
		logs = io.Discard
	}
	s = &Stack{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.DNS, err = bind.Start(bind.Options{Zone: Zone, ReverseZones: []string{ReverseZone}}); err != nil {
		return nil, err
	}

	listener, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + listener.Addr().String()

	template := filepath.Join(opts.RepoRoot, "template.yaml")
	app, err := cloud.LoadAppStack(template, map[string]any{
		"AsgNames": strings.Join(opts.ASGNames, ","), "SharedServicesAccountId": SharedAccount,
		"ExternalId": ExternalID, "Zone": Zone, "DcInstanceIds": DC, "DcPlatform": "Linux", "CreatePtr": "true",
	}, functionARN)
	if err != nil {
		listener.Close()
		return nil, err
	}
	var trusted []string
	for _, fn := range app.Functions {
		if _, assumes := fn.Env["ASGDNS_ROLE_ARN"]; assumes {
			trusted = append(trusted, roleARN(fn.LogicalID))
		}
	}
	s.Cloud, err = cloud.New(cloud.Options{
		SharedServicesTemplate: filepath.Join(opts.RepoRoot, "shared-services", "template.yaml"),
		TrustedRoleARNs:        trusted, ExternalID: ExternalID, DNSConfigPath: s.DNS.ConfigPath(),
		Log: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		listener.Close()
		return nil, err
	}
	if err := s.Cloud.RegisterDC(DC, "Linux"); err != nil {
		listener.Close()
		return nil, err
	}
	if err := s.Cloud.AddCredentials(OperatorKeyID, OperatorSecret, "arn:aws:iam::"+AppAccount+":user/operator"); err != nil {
		listener.Close()
		return nil, err
	}

	// The functions: the real binaries, their configuration from the
	// template, and credentials of their own roles. Only AWS_ENDPOINT_URL
	// and the credentials differ from a deployment.
	var fns []lambdahost.Function
	for i, fn := range app.Functions {
		keyID := fmt.Sprintf("AKIALOCALFUNCTION%03d", i)
		secret := "local-secret-" + fn.LogicalID
		if err := s.Cloud.AddCredentials(keyID, secret, roleARN(fn.LogicalID)); err != nil {
			listener.Close()
			return nil, err
		}
		env := map[string]string{"AWS_ENDPOINT_URL": s.URL, "AWS_ACCESS_KEY_ID": keyID, "AWS_SECRET_ACCESS_KEY": secret}
		for k, v := range fn.Env {
			env[k] = v
		}
		fns = append(fns, lambdahost.Function{
			Name: functionName(fn.LogicalID), Dir: functionDir(fn.LogicalID), Timeout: fn.Timeout, MemoryMB: fn.MemoryMB,
			Concurrency: 100, LogFormat: "JSON", Env: env, Logs: opts.FunctionLogs,
		})
	}
	if s.Lambdas, err = lambdahost.New(lambdahost.Options{RepoRoot: opts.RepoRoot, Region: Region, AccountID: AppAccount,
		BuildLog: logs, Functions: fns}); err != nil {
		listener.Close()
		return nil, err
	}
	if err := s.Lambdas.Build(ctx); err != nil {
		listener.Close()
		return nil, err
	}

	// The state machine: the definition and substitutions the template
	// deploys, its Lambda tasks invoking the hosted functions.
	resources := asl.Resources{}
	for _, fn := range app.Functions {
		resources[functionARN(fn.LogicalID)] = s.invoker(functionName(fn.LogicalID))
	}
	clock := asl.RealClock()
	engine := asl.NewEngine(asl.Options{Clock: clock, Resources: resources})
	if s.StepFunctions, err = stepfunctions.New(stepfunctions.Options{Engine: engine, Clock: clock, Region: Region, Account: AppAccount}); err != nil {
		listener.Close()
		return nil, err
	}
	definition, err := os.ReadFile(filepath.Join(opts.RepoRoot, app.DefinitionURI))
	if err != nil {
		listener.Close()
		return nil, err
	}
	s.StateMachineARN, err = s.StepFunctions.AddStateMachine(StateMachineName, definition, app.Substitutions,
		"arn:aws:iam::"+AppAccount+":role/asgdns-"+app.StateMachine+"Role")
	if err != nil {
		listener.Close()
		return nil, err
	}
	s.Cloud.HandleTarget("AWSStepFunctions", s.StepFunctions)

	// The EventBridge rule the template deploys, targeting the state
	// machine: each matching event starts an execution with the event as
	// its input, as EventBridge does.
	rule, err := cloud.LoadRule(template, opts.ASGNames)
	if err != nil {
		listener.Close()
		return nil, err
	}
	rule.Target = func(ctx context.Context, event json.RawMessage) error {
		_, err := s.StepFunctions.Start(ctx, s.StateMachineARN, "", string(event))
		return err
	}
	if err := s.Cloud.OnEvent(rule); err != nil {
		listener.Close()
		return nil, err
	}

	s.server = &http.Server{Handler: s.Cloud.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.server.Serve(listener) }()
	return s, nil
}

// invoker runs a Task on a hosted function; a function error keeps its
// name and the error document Lambda reports as the Cause.
func (s *Stack) invoker(name string) asl.Handler {
	return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		out, err := s.Lambdas.Invoke(ctx, name, in)
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
	if s.StepFunctions != nil {
		errs = append(errs, s.StepFunctions.Close())
	}
	if s.Lambdas != nil {
		errs = append(errs, s.Lambdas.Close())
	}
	if s.Cloud != nil {
		errs = append(errs, s.Cloud.Close())
	}
	if s.DNS != nil {
		errs = append(errs, s.DNS.Close())
	}
	return errors.Join(errs...)
}
