// Package cloud is the asgdns local stack's AWS: one loopback HTTP endpoint
// that speaks the real wire protocols of EC2, Auto Scaling, STS (AWS query
// and EC2 query), SSM and EventBridge (JSON 1.1) and SQS (JSON 1.0: the
// application stacks' queues, EventBridge's dead letters among them) over
// an in-memory world of two accounts — the application account with the
// Auto Scaling groups and their instances, and the shared-services
// account with the domain controllers — so the unchanged asgdns
// functions, the AWS SDK and the AWS CLI work against it through
// AWS_ENDPOINT_URL.
//
// The access key id in a request's SigV4 signature says who is calling
// (AddCredentials, or credentials AssumeRole issued), and calls act in that
// principal's account. The shared-services role's trust and permission
// policies and the SSM document are read from shared-services/template.yaml;
// the rule that starts the state machine from template.yaml (LoadRule). A
// local SSM agent runs the document's Linux step for real (bash, against a
// real BIND named: see package bind).
//
// What touches no emulator state lives in packages of its own: the wire
// formats (package wire), IAM policy evaluation (iampolicy), EventBridge
// event patterns (eventpattern) and CloudFormation template evaluation
// (cfn).
package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/asgdns/asgdns/local/iampolicy"
	"github.com/asgdns/asgdns/local/wire"
)

// The accounts of the local world and its default region: two
// application accounts (each may run its own asgdns deployment) and the
// shared-services account with the domain controllers.
const (
	AppAccount            = "111111111111"
	SharedServicesAccount = "222222222222"
	OtherAppAccount       = "333333333333"
	DefaultRegion         = "eu-west-1"
)

// Options configure a Cloud.
type Options struct {
	// Clock is the world's time; RealClock when nil. Tests pass a FakeClock.
	Clock Clock
	// Region is the one region the endpoint serves (DefaultRegion when
	// empty); requests signed for another are refused, as AWS refuses them.
	Region string
	// SharedServicesTemplate is shared-services/template.yaml: the role
	// AssumeRole evaluates and the SSM document come from it. Required.
	SharedServicesTemplate string
	// TenantAccountIDs, TenantZones (account:zone pairs), TrustedRoleARNs,
	// ExternalID and TrustedOrganizationID are that stack's
	// TenantAccountIds, TenantZones, TrustedRoleArns, ExternalId and
	// TrustedOrganizationId parameters: one role and one document per
	// tenant account. At least one tenant is required.
	TenantAccountIDs      []string
	TenantZones           []string
	TrustedRoleARNs       []string
	ExternalID            string
	TrustedOrganizationID string
	// Document replaces the template's document of the same Name (tests
	// use a copy with a short timeout or another script).
	Document *Document
	// DNSConfigPath is ASGDNS_CONFIG for the document's Linux step on the
	// domain controllers RegisterDC registers: the dns.conf of the BIND
	// named they update (bind.Server.ConfigPath).
	DNSConfigPath string
	// AgentPickupDelay is how long (real time) the agent takes to pick a
	// command up; until then GetCommandInvocation answers
	// InvocationDoesNotExist, as right after a real SendCommand.
	AgentPickupDelay time.Duration
	// AgentWorkers is how many commands a managed node's agent runs at
	// once (the agent's CommandWorkersLimit); DefaultAgentWorkers when 0.
	// Further commands wait, Pending, and time out undelivered if their
	// TimeoutSeconds passes first.
	AgentWorkers int
	// CommandDuration is how long (real time) each command keeps its
	// worker busy on top of running its steps: a loaded DC. None when 0.
	CommandDuration time.Duration
	// Throttle throttles APIs for every account: a token bucket per
	// account and operation, keyed "service:Operation" by the signing
	// name (ssm:SendCommand, ec2:DescribeInstances, sts:AssumeRole,
	// autoscaling:RecordLifecycleActionHeartbeat, …) or "service:*" for
	// each of a service's operations. No throttling when empty; see
	// SetThrottle to change it while running.
	Throttle map[string]Rate
	// WorkDir is where the agent writes the scripts it runs; a temporary
	// directory (removed by Close) when empty.
	WorkDir string
	// Log receives a line per API call (refusals at Info, the rest at
	// Debug), per event, lifecycle action and command run (its output, as
	// CloudWatch Logs would have it); discarded when nil.
	Log *slog.Logger
}

// OrganizationID is the AWS Organization every account of the local world
// belongs to (aws:PrincipalOrgID in the trust policy when
// TrustedOrganizationID is set).
const OrganizationID = "o-asgdnslocal1"

// Cloud is the in-memory world and the endpoint serving it.
type Cloud struct {
	clock   Clock
	region  string
	log     *slog.Logger
	shared  *sharedServices
	dnsConf string
	pickup  time.Duration
	workDir string
	ownDir  bool
	limits  *limiter

	// base is cancelled by Close: it stops the agent's processes and
	// event deliveries in flight.
	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	query map[string]map[string]handlerFunc // service → Action → handler
	json  map[string]map[string]handlerFunc // target prefix → operation → handler

	mu           sync.Mutex
	closed       bool
	targets      map[string]http.Handler
	creds        map[string]*credential
	rolePolicies map[string]iampolicy.Policy
	roleTags     map[string]map[string]string // role ARN → tag key → value
	networks     map[string]*network
	instances    map[string]*instance
	groups       map[string]*group // key: account/name
	nodes        map[string]*managedNode
	commands     map[string]*command
	agent        agentPool
	rules        []*rule
	queues       map[string]*queue // by ARN
}

// call is one API request as a handler sees it.
type call struct {
	ctx       context.Context
	caller    Principal
	form      wire.Form // query protocols
	body      []byte    // JSON protocols
	requestID string
}

type handlerFunc func(*call) (any, *wire.Error)

type credential struct {
	secret, token string
	principal     Principal
}

// New builds the world: both accounts' networks, the shared-services role
// and document from the template. It starts nothing in the background.
func New(opts Options) (*Cloud, error) {
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.Clock == nil {
		opts.Clock = RealClock()
	}
	if opts.SharedServicesTemplate == "" {
		return nil, errors.New("cloud: Options.SharedServicesTemplate (shared-services/template.yaml) is required")
	}
	shared, err := loadSharedServices(opts.SharedServicesTemplate, opts)
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	if opts.Document != nil {
		tn := shared.byDocument(opts.Document.Name)
		if tn == nil {
			return nil, fmt.Errorf("cloud: Options.Document %s: the template deploys no document of that name", opts.Document.Name)
		}
		tn.document = *opts.Document
	}
	for key, r := range opts.Throttle {
		if err := ValidateThrottle(key, r); err != nil {
			return nil, fmt.Errorf("cloud: Options.Throttle: %w", err)
		}
	}
	if opts.AgentWorkers < 0 || opts.CommandDuration < 0 {
		return nil, fmt.Errorf("cloud: Options.AgentWorkers (%d) and Options.CommandDuration (%s) must not be negative", opts.AgentWorkers, opts.CommandDuration)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cloud{
		clock: opts.Clock, region: opts.Region, log: log, shared: shared,
		dnsConf: opts.DNSConfigPath, pickup: opts.AgentPickupDelay, workDir: opts.WorkDir,
		targets: map[string]http.Handler{}, creds: map[string]*credential{},
		rolePolicies: map[string]iampolicy.Policy{}, roleTags: map[string]map[string]string{},
		networks: map[string]*network{}, instances: map[string]*instance{}, groups: map[string]*group{},
		nodes: map[string]*managedNode{}, commands: map[string]*command{}, queues: map[string]*queue{},
		limits: newLimiter(opts.Throttle), agent: newAgentPool(opts.AgentWorkers, opts.CommandDuration),
	}
	if c.workDir == "" {
		if c.workDir, err = os.MkdirTemp("", "asgdns-ssm-agent-"); err != nil {
			return nil, fmt.Errorf("cloud: %w", err)
		}
		c.ownDir = true
	}
	c.base, c.cancel = context.WithCancel(context.Background())
	c.query = map[string]map[string]handlerFunc{
		"ec2": {"DescribeInstances": c.describeInstances},
		"autoscaling": {
			"CreateAutoScalingGroup": c.createAutoScalingGroup, "DescribeAutoScalingGroups": c.describeAutoScalingGroups,
			"DescribeAutoScalingInstances": c.describeAutoScalingInstances, "UpdateAutoScalingGroup": c.updateAutoScalingGroup,
			"SetDesiredCapacity": c.setDesiredCapacity, "TerminateInstanceInAutoScalingGroup": c.terminateInstanceInAutoScalingGroup,
			"PutLifecycleHook": c.putLifecycleHook, "DescribeLifecycleHooks": c.describeLifecycleHooks,
			"DeleteLifecycleHook": c.deleteLifecycleHook, "CompleteLifecycleAction": c.completeLifecycleAction,
			"RecordLifecycleActionHeartbeat": c.recordLifecycleActionHeartbeat,
		},
		"sts": {"AssumeRole": c.assumeRole, "GetCallerIdentity": c.getCallerIdentity},
	}
	c.json = map[string]map[string]handlerFunc{
		"AmazonSSM": {"SendCommand": c.sendCommand, "GetCommandInvocation": c.getCommandInvocation, "ListCommandInvocations": c.listCommandInvocations},
		"AWSEvents": {"PutEvents": c.putEvents, "TestEventPattern": c.testEventPattern},
		sqsTarget: {
			"GetQueueUrl": c.getQueueURL, "GetQueueAttributes": c.getQueueAttributes, "SendMessage": c.sendMessage,
			"ReceiveMessage": c.receiveMessage, "DeleteMessage": c.deleteMessage, "DeleteMessageBatch": c.deleteMessageBatch,
			"ChangeMessageVisibility": c.changeMessageVisibility,
		},
	}
	c.serveInventory()
	for _, tn := range shared.tenants {
		c.rolePolicies[tn.roleARN] = tn.permissions
	}
	c.network(AppAccount)
	c.network(SharedServicesAccount)
	c.network(OtherAppAccount)
	return c, nil
}

// Handler returns the endpoint.
func (c *Cloud) Handler() http.Handler { return c }

// Region is the region the endpoint serves.
func (c *Cloud) Region() string { return c.region }

// RoleARN is the shared-services role an application account assumes, as
// the template names it; "" for an account that is not a tenant.
func (c *Cloud) RoleARN(account string) string {
	if tn := c.tenant(account); tn != nil {
		return tn.roleARN
	}
	return ""
}

// DocumentName is the SSM document of an application account in the
// shared-services account; "" for an account that is not a tenant.
func (c *Cloud) DocumentName(account string) string {
	if tn := c.tenant(account); tn != nil {
		return tn.document.Name
	}
	return ""
}

func (c *Cloud) tenant(account string) *tenant {
	for _, tn := range c.shared.tenants {
		if tn.account == account {
			return tn
		}
	}
	return nil
}

// Close stops the agent's running commands and event deliveries, and
// removes the agent's temporary directory. Timers that fall due afterwards
// do nothing.
func (c *Cloud) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	if c.ownDir {
		return os.RemoveAll(c.workDir)
	}
	return nil
}

// after schedules f on the world's clock; f runs with c.mu held, and not
// at all once the Cloud is closed.
func (c *Cloud) after(d time.Duration, f func()) Timer {
	return c.clock.AfterFunc(d, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.closed {
			f()
		}
	})
}

// goBackground runs f in a goroutine Close waits for.
func (c *Cloud) goBackground(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spawnLocked(f)
}

// spawnLocked is goBackground for a caller holding c.mu.
func (c *Cloud) spawnLocked(f func()) {
	if c.closed {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// AddCredentials registers an access key for a principal: an IAM user
// (arn:aws:iam::ACCOUNT:user/NAME), an account root, a role session
// (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, as a Lambda function's
// credentials are) or a role ARN (a session of that role). Calls signed
// with the key act as that principal in its account, with full access
// unless SetRolePolicy restricts its role. A session token, if the
// client sends one, is not checked.
func (c *Cloud) AddCredentials(accessKeyID, secretAccessKey, principalARN string) error {
	p, err := parsePrincipal(principalARN)
	if err != nil {
		return err
	}
	if accessKeyID == "" {
		return errors.New("cloud: empty access key id")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.creds[accessKeyID] = &credential{secret: secretAccessKey, principal: p}
	c.network(p.Account)
	return nil
}

// SetRolePolicy limits every session of a role (arn:aws:iam::ACCOUNT:role/NAME)
// to an identity policy (JSON). The shared-services role has the policy its
// template gives it.
func (c *Cloud) SetRolePolicy(roleARN string, policy json.RawMessage) error {
	var doc any
	if err := json.Unmarshal(policy, &doc); err != nil {
		return fmt.Errorf("cloud: policy for %s: %w", roleARN, err)
	}
	stmts, err := iampolicy.Parse(doc)
	if err != nil {
		return fmt.Errorf("cloud: policy for %s: %w", roleARN, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rolePolicies[roleARN] = stmts
	return nil
}

// TagRole sets the tags of a role (arn:aws:iam::ACCOUNT:role/NAME): they
// are the aws:PrincipalTag/<key> of every session of the role, as IAM makes
// a role's tags its sessions' principal tags. SAM puts a function's Tags on
// the role it generates for it, so a local run tags the function roles
// with the template's function tags.
func (c *Cloud) TagRole(roleARN string, tags map[string]string) error {
	if _, err := parsePrincipal(roleARN); err != nil || !strings.Contains(roleARN, ":role/") {
		return fmt.Errorf("cloud: TagRole: %q is not a role ARN", roleARN)
	}
	copied := make(map[string]string, len(tags))
	for k, v := range tags {
		copied[k] = v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roleTags[roleARN] = copied
	return nil
}

// principalTags are the aws:PrincipalTag/<key> condition keys of a
// principal: its role's tags (lower-case keys: condition keys are
// case-insensitive).
func (c *Cloud) principalTags(p Principal) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{}
	for k, v := range c.roleTags[p.RoleARN] {
		out["aws:principaltag/"+strings.ToLower(k)] = v
	}
	return out
}

// allows reports whether p's identity policy allows action on resource.
// Principals whose role has no policy set have full access.
func (c *Cloud) allows(p Principal, action, resource string, context map[string]string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.allowsLocked(p, action, resource, context)
}

// allowsLocked is allows for a caller holding c.mu.
func (c *Cloud) allowsLocked(p Principal, action, resource string, context map[string]string) bool {
	stmts, restricted := c.rolePolicies[p.RoleARN]
	if p.RoleARN == "" || !restricted {
		return true
	}
	return stmts.Allows(iampolicy.Request{Action: action, Resource: resource, Caller: p.policyCaller(), Context: context})
}

// HandleTarget serves JSON-protocol requests whose X-Amz-Target starts with
// prefix (e.g. "AWSStepFunctions") with h. The endpoint authenticates the
// request first: h finds the caller with CallerFrom and the request body
// unread.
func (c *Cloud) HandleTarget(prefix string, h http.Handler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.targets[prefix] = h
}

type callerKey struct{}

// CallerFrom returns the authenticated caller of a request passed to a
// HandleTarget handler.
func CallerFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(callerKey{}).(Principal)
	return p, ok
}

// versions are the API versions of the query services.
var versions = map[string]string{"ec2": "2016-11-15", "autoscaling": "2011-01-01", "sts": "2011-06-15"}

// ServeHTTP routes a request by its X-Amz-Target (JSON protocols) or its
// signing scope's service (query protocols), authenticates it, and
// answers in the protocol's shapes. Nothing a client sends makes it panic
// or hang.
func (c *Cloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := newUUID()
	target := r.Header.Get("X-Amz-Target")
	sc, signed := wire.CredentialScope(r)
	proto, service := wire.Query, sc.Service
	switch {
	case target != "":
		proto, service = wire.JSON, target
		if i := strings.LastIndex(target, "."); i >= 0 {
			service = target[:i]
		}
	case service == "ec2":
		proto = wire.EC2
	case service == "ssm" || service == "events" || service == "sqs" || strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json"):
		proto = wire.JSON
	case !signed && r.URL.Query().Get("Version") == versions["ec2"]:
		proto = wire.EC2
	}
	if proto == wire.JSON {
		w.Header().Set("Content-Type", wire.JSONContentType(r)) // SQS speaks JSON 1.0
	}
	fail := func(err *wire.Error) {
		c.log.Info("aws call refused", slog.String("target", target), slog.String("service", service),
			slog.String("code", err.Code), slog.String("message", err.Message))
		wire.WriteError(w, proto, service, requestID, err)
	}
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("aws call panicked", slog.Any("panic", v))
			fail(wire.NewError(http.StatusInternalServerError, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure."))
		}
	}()

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 10<<20))
	if err != nil {
		fail(wire.NewError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "Request body is larger than 10 MiB or could not be read: %v", err))
		return
	}
	if !signed {
		fail(wire.NewError(http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token"))
		return
	}
	caller, authErr := c.authenticate(r, sc, proto)
	if authErr != nil {
		fail(authErr)
		return
	}
	cl := &call{ctx: r.Context(), caller: caller, body: body, requestID: requestID}

	if proto == wire.JSON {
		op := strings.TrimPrefix(target, service+".")
		if target != "" {
			if apiErr := c.throttle(caller, sc.Service, op, proto); apiErr != nil {
				fail(apiErr)
				return
			}
		}
		c.mu.Lock()
		custom := c.targets[service]
		c.mu.Unlock()
		if custom != nil {
			r2 := r.WithContext(context.WithValue(r.Context(), callerKey{}, caller))
			r2.Body = io.NopCloser(strings.NewReader(string(body)))
			custom.ServeHTTP(w, r2)
			return
		}
		h := c.json[service][op]
		if target == "" {
			fail(wire.NewError(http.StatusBadRequest, "UnknownOperationException", "Missing X-Amz-Target: a JSON-protocol request must name its operation"))
			return
		}
		if h == nil {
			fail(wire.NewError(http.StatusBadRequest, "UnknownOperationException", "Unknown operation %s%s", target, c.servedHint(service)))
			return
		}
		out, apiErr := h(cl)
		if apiErr != nil {
			fail(apiErr)
			return
		}
		c.log.Debug("aws call", slog.String("target", target), slog.String("caller", caller.ARN))
		wire.WriteJSONResult(w, requestID, out)
		return
	}

	values, perr := url.ParseQuery(string(body))
	if perr != nil {
		fail(wire.NewError(http.StatusNotFound, "MalformedQueryString", "The query string contains a syntax error: %v", perr))
		return
	}
	for k, v := range r.URL.Query() {
		if _, ok := values[k]; !ok {
			values[k] = v
		}
	}
	cl.form = wire.Form(values)
	action := cl.form.Get("Action")
	if action == "" {
		fail(wire.NewError(http.StatusBadRequest, "MissingAction", "No action was supplied with this request."))
		return
	}
	if apiErr := c.throttle(caller, sc.Service, action, proto); apiErr != nil {
		fail(apiErr)
		return
	}
	actions, known := c.query[service]
	h := actions[action]
	if h == nil {
		fail(wire.NewError(http.StatusBadRequest, "InvalidAction", "The action %s is not valid for this web service.%s", action, c.servedHint(service)))
		return
	}
	if v := cl.form.Get("Version"); v != versions[service] && known {
		if v == "" {
			fail(wire.NewError(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter Version"))
		} else {
			fail(wire.NewError(http.StatusBadRequest, "NoSuchVersion", "The requested version (%s) of service %s does not exist", v, service))
		}
		return
	}
	out, apiErr := h(cl)
	if apiErr != nil {
		fail(apiErr)
		return
	}
	c.log.Debug("aws call", slog.String("service", service), slog.String("action", action), slog.String("caller", caller.ARN))
	if proto == wire.EC2 {
		wire.WriteEC2Result(w, requestID, out)
		return
	}
	wire.WriteQueryResult(w, service, action, requestID, out)
}

// servedHint explains, for a service this endpoint does not emulate, what it
// does serve.
func (c *Cloud) servedHint(service string) string {
	if _, ok := c.query[service]; ok {
		return ""
	}
	if _, ok := c.json[service]; ok {
		return ""
	}
	return fmt.Sprintf(" (%s is not served by the asgdns local endpoint: it serves ec2, autoscaling, sts, ssm (AmazonSSM), events (AWSEvents) and sqs (AmazonSQS))", service)
}

// authenticate resolves the caller from the signing key. The signature
// itself is not verified: the local world trusts its clients, but not the
// wrong region.
func (c *Cloud) authenticate(r *http.Request, sc wire.Scope, proto wire.Protocol) (Principal, *wire.Error) {
	c.mu.Lock()
	cred := c.creds[sc.AccessKeyID]
	c.mu.Unlock()
	token := r.Header.Get("X-Amz-Security-Token")
	if cred == nil || (cred.token != "" && token != cred.token) {
		switch proto {
		case wire.EC2:
			return Principal{}, wire.NewError(http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials")
		case wire.JSON:
			return Principal{}, wire.NewError(http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid.")
		}
		return Principal{}, wire.NewError(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
	}
	if sc.Region != c.region {
		msg := fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. This endpoint serves %s.", sc.Region, c.region)
		switch proto {
		case wire.EC2:
			return Principal{}, wire.NewError(http.StatusUnauthorized, "AuthFailure", "%s", msg)
		case wire.JSON:
			return Principal{}, wire.NewError(http.StatusBadRequest, "InvalidSignatureException", "%s", msg)
		}
		return Principal{}, wire.NewError(http.StatusForbidden, "SignatureDoesNotMatch", "%s", msg)
	}
	return cred.principal, nil
}
