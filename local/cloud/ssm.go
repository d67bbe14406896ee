package cloud

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/asgdns/asgdns/local/wire"
)

// SSM Run Command in the shared-services account: managed nodes (the
// domain controllers), the asgdns document, SendCommand,
// GetCommandInvocation and ListCommandInvocations. The agent (agent.go)
// runs the document's Linux step for real.

// Reachability is how a managed node's agent answers.
type Reachability int

const (
	// Reachable: the agent picks commands up and runs them.
	Reachable Reachability = iota
	// DeliveryTimesOut: the node is offline; its commands stay Pending
	// (GetCommandInvocation: InvocationDoesNotExist) until the command's
	// TimeoutSeconds passes on the world's clock, then end TimedOut /
	// "Delivery Timed Out".
	DeliveryTimesOut
	// Undeliverable: commands end Failed / "Undeliverable" at once.
	Undeliverable
)

type managedNode struct {
	id, platform string
	tags         map[string]string
	dnsConf      string
	reach        Reachability
}

// ManagedNode is an instance in the shared-services account running the
// SSM agent.
type ManagedNode struct {
	InstanceID string
	Platform   string // Linux or Windows (the document's platformType)
	Tags       map[string]string
	// DNSConfigPath is ASGDNS_CONFIG for commands run on the node.
	DNSConfigPath string
}

// RegisterDC adds a domain controller: a managed node in the
// shared-services account tagged asgdns-dc=true (which the role's policy
// requires), whose commands use Options.DNSConfigPath.
func (c *Cloud) RegisterDC(instanceID, platform string) error {
	return c.RegisterManagedNode(ManagedNode{
		InstanceID: instanceID, Platform: platform, Tags: map[string]string{"asgdns-dc": "true", "Name": "dc-" + instanceID},
		DNSConfigPath: c.dnsConf,
	})
}

// RegisterManagedNode adds a managed node to the shared-services account,
// with an EC2 instance (running, with the node's tags) behind it.
func (c *Cloud) RegisterManagedNode(n ManagedNode) error {
	if !instanceIDRE.MatchString(n.InstanceID) {
		return fmt.Errorf("cloud: %q is not an EC2 instance id", n.InstanceID)
	}
	if n.Platform != "Linux" && n.Platform != "Windows" {
		return fmt.Errorf("cloud: platform %q is not Linux or Windows", n.Platform)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodes[n.InstanceID] != nil {
		return fmt.Errorf("cloud: managed node %s already registered", n.InstanceID)
	}
	tags := map[string]string{}
	var ec2Tags []tag
	keys := make([]string, 0, len(n.Tags))
	for k := range n.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tags[k] = n.Tags[k]
		ec2Tags = append(ec2Tags, tag{k, n.Tags[k]})
	}
	c.nodes[n.InstanceID] = &managedNode{id: n.InstanceID, platform: n.Platform, tags: tags, dnsConf: n.DNSConfigPath}
	net := c.network(SharedServicesAccount)
	s := net.subnets[len(c.nodes)%len(net.subnets)]
	c.instances[n.InstanceID] = &instance{
		id: n.InstanceID, account: SharedServicesAccount, az: s.az, subnetID: s.id, vpcID: net.vpcID,
		privateIP: s.nextIP(net.octet), reservationID: "r-" + randomHex(17), imageID: "ami-0a1b2c3d4e5f60002",
		instanceType: "m5.large", state: "running", launched: c.clock.Now(), tags: ec2Tags,
	}
	return nil
}

// SetReachability makes a managed node's agent answer (Reachable) or not,
// for failure tests; it applies to commands sent from then on.
func (c *Cloud) SetReachability(instanceID string, r Reachability) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[instanceID]
	if n == nil {
		return fmt.Errorf("cloud: no managed node %s", instanceID)
	}
	n.reach = r
	return nil
}

type command struct {
	id, documentName, documentVersion, comment string
	params                                     map[string][]string
	instanceIDs                                []string
	targets                                    []ssmTarget
	requested                                  time.Time
	timeoutSeconds                             int
	maxConcurrency, maxErrors, serviceRole     string
	cloudWatch                                 *cloudWatchOutputConfig
	doc                                        Document
	invocations                                []*invocation
}

type invocation struct {
	cmd             *command
	node            *managedNode
	visible         bool // GetCommandInvocation finds it
	status, details string
	code            int
	plugins         []*pluginResult
	started, ended  time.Time
}

type pluginResult struct {
	name, status, details string
	code                  int
	stdout, stderr        string
	started, ended        time.Time
}

type ssmTarget struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

type cloudWatchOutputConfig struct {
	CloudWatchLogGroupName  string `json:"CloudWatchLogGroupName,omitempty"`
	CloudWatchOutputEnabled bool   `json:"CloudWatchOutputEnabled"`
}

var (
	ssmInstanceIDRE = regexp.MustCompile(`(^i-(\w{8}|\w{17})$)|(^mi-\w{17}$)`)
	maxConcurrency  = regexp.MustCompile(`^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$`)
	maxErrors       = regexp.MustCompile(`^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$`)
)

func ssmValidation(problems []string) *wire.Error {
	return wire.NewError(http.StatusBadRequest, "ValidationException", "%s", wire.ValidationMessage(problems))
}

// authorizeSSM checks an SSM call: the data plane (documents, nodes,
// commands) lives in the shared-services account, and nothing the
// application stack deploys grants SSM permissions there, so callers from
// any other account are refused as IAM would refuse them.
func (c *Cloud) authorizeSSM(p Principal, action, resource string, ctx map[string]string) *wire.Error {
	if p.Account != SharedServicesAccount || !c.allows(p, action, resource, ctx) {
		return wire.NewError(http.StatusBadRequest, "AccessDeniedException", "%s", notAuthorized(p, action, resource))
	}
	return nil
}

func (c *Cloud) sendCommand(cl *call) (any, *wire.Error) {
	var in struct {
		DocumentName           string                  `json:"DocumentName"`
		DocumentVersion        string                  `json:"DocumentVersion"`
		InstanceIDs            []string                `json:"InstanceIds"`
		Targets                []ssmTarget             `json:"Targets"`
		Parameters             map[string][]string     `json:"Parameters"`
		Comment                string                  `json:"Comment"`
		TimeoutSeconds         *int                    `json:"TimeoutSeconds"`
		MaxConcurrency         string                  `json:"MaxConcurrency"`
		MaxErrors              string                  `json:"MaxErrors"`
		ServiceRoleArn         string                  `json:"ServiceRoleArn"`
		CloudWatchOutputConfig *cloudWatchOutputConfig `json:"CloudWatchOutputConfig"`
	}
	if apiErr := wire.DecodeJSON(cl.body, &in); apiErr != nil {
		return nil, apiErr
	}
	var problems []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	check(in.DocumentName != "", "Value null at 'documentName' failed to satisfy constraint: Member must not be null")
	check(len(in.Comment) <= 100, "Value '%s' at 'comment' failed to satisfy constraint: Member must have length less than or equal to 100", in.Comment)
	if in.TimeoutSeconds != nil {
		check(*in.TimeoutSeconds >= 30, "Value '%d' at 'timeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to 30", *in.TimeoutSeconds)
		check(*in.TimeoutSeconds <= 2592000, "Value '%d' at 'timeoutSeconds' failed to satisfy constraint: Member must have value less than or equal to 2592000", *in.TimeoutSeconds)
	}
	check(len(in.InstanceIDs) <= 50, "Value at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50")
	for _, id := range in.InstanceIDs {
		check(ssmInstanceIDRE.MatchString(id), "Value '[%s]' at 'instanceIds' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy regular expression pattern: (^i-(\\w{8}|\\w{17})$)|(^mi-\\w{17}$)]", id)
	}
	check(in.MaxConcurrency == "" || maxConcurrency.MatchString(in.MaxConcurrency),
		"Value '%s' at 'maxConcurrency' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([1-9][0-9]*|[1-9][0-9]%%|[1-9]%%|100%%)$", in.MaxConcurrency)
	check(in.MaxErrors == "" || maxErrors.MatchString(in.MaxErrors),
		"Value '%s' at 'maxErrors' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([1-9][0-9]*|[0]|[1-9][0-9]%%|[0-9]%%|100%%)$", in.MaxErrors)
	if len(problems) > 0 {
		return nil, ssmValidation(problems)
	}
	if len(in.InstanceIDs) == 0 && len(in.Targets) == 0 {
		return nil, wire.NewError(http.StatusBadRequest, "InvalidParameters", "Either InstanceIds or Targets must be specified")
	}

	docName := strings.TrimPrefix(in.DocumentName, "arn:aws:ssm:"+c.region+":"+SharedServicesAccount+":document/")
	docARN := fmt.Sprintf("arn:aws:ssm:%s:%s:document/%s", c.region, cl.caller.Account, docName)
	if apiErr := c.authorizeSSM(cl.caller, "ssm:SendCommand", docARN, nil); apiErr != nil {
		return nil, apiErr
	}
	// Each application account's document (shared-services/template.yaml
	// deploys one per tenant); which one a caller may send, its role's
	// permissions said above.
	tn := c.shared.byDocument(docName)
	if tn == nil {
		return nil, wire.NewError(http.StatusBadRequest, "InvalidDocument", "Document with name %s does not exist.", docName)
	}
	doc := tn.document
	version := in.DocumentVersion
	switch version {
	case "", "$DEFAULT", "$LATEST", "1":
		if version == "" {
			version = "$DEFAULT"
		}
	default:
		return nil, wire.NewError(http.StatusBadRequest, "InvalidDocumentVersion", "The document version %s is not valid or does not exist.", version)
	}
	params, apiErr := validateParameters(doc, in.Parameters)
	if apiErr != nil {
		return nil, apiErr
	}

	c.mu.Lock()
	ids, apiErr := c.resolveTargets(in.InstanceIDs, in.Targets)
	tags := map[string]map[string]string{}
	for _, id := range ids {
		tags[id] = c.nodes[id].tags // never modified after registration
	}
	c.mu.Unlock()
	if apiErr != nil {
		return nil, apiErr
	}
	for _, id := range ids {
		ctx := map[string]string{}
		for k, v := range tags[id] {
			ctx["ssm:resourcetag/"+strings.ToLower(k)] = v
		}
		arn := fmt.Sprintf("arn:aws:ec2:%s:%s:instance/%s", c.region, SharedServicesAccount, id)
		if apiErr := c.authorizeSSM(cl.caller, "ssm:SendCommand", arn, ctx); apiErr != nil {
			return nil, apiErr
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()

	cmd := &command{
		id: newUUID(), documentName: doc.Name, documentVersion: version,
		comment: in.Comment, params: params, instanceIDs: in.InstanceIDs, targets: in.Targets,
		requested: c.clock.Now(), timeoutSeconds: 3600, maxConcurrency: in.MaxConcurrency, maxErrors: in.MaxErrors,
		serviceRole: in.ServiceRoleArn, cloudWatch: in.CloudWatchOutputConfig, doc: doc,
	}
	if in.TimeoutSeconds != nil {
		cmd.timeoutSeconds = *in.TimeoutSeconds
	}
	if cmd.maxConcurrency == "" {
		cmd.maxConcurrency = "50"
	}
	if cmd.maxErrors == "" {
		cmd.maxErrors = "0"
	}
	c.commands[cmd.id] = cmd
	for _, id := range ids {
		inv := &invocation{cmd: cmd, node: c.nodes[id], status: "Pending", details: "Pending", code: -1}
		for _, step := range doc.Content.MainSteps {
			inv.plugins = append(inv.plugins, &pluginResult{name: step.Name, status: "Pending", details: "Pending", code: -1})
		}
		cmd.invocations = append(cmd.invocations, inv)
		c.dispatch(inv)
	}
	c.log.Info("command sent", "commandId", cmd.id, "document", doc.Name, "instances", strings.Join(ids, ","), "comment", cmd.comment)
	return struct {
		Command commandView `json:"Command"`
	}{c.commandView(cmd)}, nil
}

// validateParameters checks the parameters against the document: known
// names, one value per String parameter, allowedPattern (with Go's regexp,
// as the agent checks them), defaults for the rest.
func validateParameters(doc Document, given map[string][]string) (map[string][]string, *wire.Error) {
	invalid := func(format string, args ...any) (map[string][]string, *wire.Error) {
		return nil, wire.NewError(http.StatusBadRequest, "InvalidParameters", format, args...)
	}
	names := make([]string, 0, len(given))
	for name := range given {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := doc.Content.Parameters[name]; !ok {
			return invalid("Parameter %q is not defined in document %s.", name, doc.Name)
		}
	}
	out := map[string][]string{}
	declared := make([]string, 0, len(doc.Content.Parameters))
	for name := range doc.Content.Parameters {
		declared = append(declared, name)
	}
	sort.Strings(declared)
	for _, name := range declared {
		p := doc.Content.Parameters[name]
		values, ok := given[name]
		if !ok {
			def, hasDefault := doc.defaultOf(name)
			if !hasDefault {
				return invalid("Parameter %q is required by document %s but was not provided.", name, doc.Name)
			}
			values = []string{def}
		}
		if p.Type != "StringList" && len(values) != 1 {
			return invalid("Parameter %q is of type %s and takes exactly one value, not %d.", name, p.Type, len(values))
		}
		if p.AllowedPattern != "" {
			re, err := regexp.Compile(p.AllowedPattern)
			if err != nil {
				return invalid("Parameter %q: allowedPattern %s does not compile: %v", name, p.AllowedPattern, err)
			}
			for _, v := range values {
				if !re.MatchString(v) {
					return invalid("Parameter %q has value %q not matching %q.", name, v, p.AllowedPattern)
				}
			}
		}
		out[name] = values
	}
	return out, nil
}

// defaultOf returns a parameter's default: Defaults when the document
// lists them (a default may be ""), else a non-empty Parameter.Default.
func (d Document) defaultOf(name string) (string, bool) {
	if d.Defaults != nil {
		v, ok := d.Defaults[name]
		return v, ok
	}
	def := d.Content.Parameters[name].Default
	return def, def != ""
}

// resolveTargets turns InstanceIds or Targets into managed nodes of the
// shared-services account (caller holds c.mu).
func (c *Cloud) resolveTargets(ids []string, targets []ssmTarget) ([]string, *wire.Error) {
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return nil, wire.NewError(http.StatusBadRequest, "DuplicateInstanceId", "Instance Id %s is duplicated in the request.", id)
		}
		seen[id] = true
		out = append(out, id)
	}
	for _, t := range targets {
		var matched []string
		for id, n := range c.nodes {
			switch {
			case t.Key == "InstanceIds":
				if slices.Contains(t.Values, id) {
					matched = append(matched, id)
				}
			case t.Key == "tag-key":
				for k := range n.tags {
					if slices.Contains(t.Values, k) {
						matched = append(matched, id)
						break
					}
				}
			case strings.HasPrefix(t.Key, "tag:"):
				if v, ok := n.tags[strings.TrimPrefix(t.Key, "tag:")]; ok && slices.Contains(t.Values, v) {
					matched = append(matched, id)
				}
			default:
				return nil, wire.NewError(http.StatusBadRequest, "InvalidParameters", "Target key %s is not supported (InstanceIds, tag:<key>, tag-key)", t.Key)
			}
		}
		if t.Key == "InstanceIds" {
			for _, id := range t.Values {
				if !slices.Contains(matched, id) {
					matched = append(matched, id) // unknown ids fail below, as InvalidInstanceId
				}
			}
		}
		sort.Strings(matched)
		for _, id := range matched {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	var unknown []string
	for _, id := range out {
		if c.nodes[id] == nil {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		return nil, wire.NewError(http.StatusBadRequest, "InvalidInstanceId", "Instances [[%s]] not in a valid state for account %s", strings.Join(unknown, ", "), SharedServicesAccount)
	}
	return out, nil
}

// dispatch hands an invocation to its node's agent (caller holds c.mu).
func (c *Cloud) dispatch(inv *invocation) {
	switch inv.node.reach {
	case Undeliverable:
		c.finishInvocation(inv, "Failed", "Undeliverable", -1)
		return
	case Reachable:
		c.spawnLocked(func() { c.pickUp(inv) })
	}
	// Whatever the agent has not picked up when the command's timeout
	// passes is never run.
	c.after(time.Duration(inv.cmd.timeoutSeconds)*time.Second, func() {
		if inv.status == "Pending" {
			c.finishInvocation(inv, "TimedOut", "Delivery Timed Out", -1)
		}
	})
}

// finishInvocation ends an invocation and every plugin that had not run
// (caller holds c.mu).
func (c *Cloud) finishInvocation(inv *invocation, status, details string, code int) {
	inv.status, inv.details, inv.code, inv.visible = status, details, code, true
	inv.ended = c.clock.Now()
	for _, p := range inv.plugins {
		if p.status == "Pending" || p.status == "InProgress" {
			p.status, p.details = status, details
		}
	}
}

// --- reading results ----------------------------------------------------------

type commandView struct {
	CommandID              string                  `json:"CommandId"`
	DocumentName           string                  `json:"DocumentName"`
	DocumentVersion        string                  `json:"DocumentVersion"`
	Comment                string                  `json:"Comment"`
	ExpiresAfter           wire.Epoch              `json:"ExpiresAfter"`
	Parameters             map[string][]string     `json:"Parameters"`
	InstanceIDs            []string                `json:"InstanceIds"`
	Targets                []ssmTarget             `json:"Targets"`
	RequestedDateTime      wire.Epoch              `json:"RequestedDateTime"`
	Status                 string                  `json:"Status"`
	StatusDetails          string                  `json:"StatusDetails"`
	OutputS3Region         string                  `json:"OutputS3Region"`
	MaxConcurrency         string                  `json:"MaxConcurrency"`
	MaxErrors              string                  `json:"MaxErrors"`
	TargetCount            int                     `json:"TargetCount"`
	CompletedCount         int                     `json:"CompletedCount"`
	ErrorCount             int                     `json:"ErrorCount"`
	DeliveryTimedOutCount  int                     `json:"DeliveryTimedOutCount"`
	ServiceRole            string                  `json:"ServiceRole"`
	CloudWatchOutputConfig *cloudWatchOutputConfig `json:"CloudWatchOutputConfig,omitempty"`
	TimeoutSeconds         int                     `json:"TimeoutSeconds"`
}

func (c *Cloud) commandView(cmd *command) commandView {
	var longest time.Duration
	for _, s := range cmd.doc.Content.MainSteps {
		longest = max(longest, cmd.doc.stepTimeout(s.Name))
	}
	v := commandView{
		CommandID: cmd.id, DocumentName: cmd.documentName, DocumentVersion: cmd.documentVersion, Comment: cmd.comment,
		ExpiresAfter: wire.Epoch(cmd.requested.Add(time.Duration(cmd.timeoutSeconds)*time.Second + longest)), Parameters: cmd.params,
		InstanceIDs: cmd.instanceIDs, Targets: cmd.targets, RequestedDateTime: wire.Epoch(cmd.requested),
		Status: "Pending", StatusDetails: "Pending", OutputS3Region: c.region, MaxConcurrency: cmd.maxConcurrency,
		MaxErrors: cmd.maxErrors, TargetCount: len(cmd.invocations), ServiceRole: cmd.serviceRole,
		CloudWatchOutputConfig: cmd.cloudWatch, TimeoutSeconds: cmd.timeoutSeconds,
	}
	if v.InstanceIDs == nil {
		v.InstanceIDs = []string{}
	}
	if v.Targets == nil {
		v.Targets = []ssmTarget{}
	}
	return v
}

// Output limits of GetCommandInvocation (API reference) and of a plugin's
// Output in ListCommandInvocations (the agent's MaximumPluginOutputSize).
const (
	maxStdout       = 24000
	maxStderr       = 8000
	maxPluginOutput = 2500
)

func firstChars(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// pluginOutput combines stdout and stderr as the agent does for a
// plugin's Output (iohandler.TruncateOutput).
func pluginOutput(stdout, stderr string) string {
	const truncOut, truncErr = "\n---Output truncated---", "\n---Error truncated----"
	errTitle := ""
	if stderr != "" {
		errTitle = "\n----------ERROR-------\n"
	}
	space := maxPluginOutput - len(errTitle)
	switch {
	case len(stdout)+len(stderr) < space:
		return stdout + errTitle + stderr
	case len(stdout) > space/2 && len(stderr) > space/2:
		n := (space - len(truncErr) - len(truncOut)) / 2
		return stdout[:n] + truncOut + errTitle + stderr[:n] + truncErr
	case len(stdout) < space/2:
		return stdout + errTitle + stderr[:space-len(truncErr)-len(stdout)] + truncErr
	default:
		return stdout[:space-len(truncOut)-len(stderr)] + truncOut + errTitle + stderr
	}
}

func isoOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return wire.Timestamp(t)
}

func (c *Cloud) getCommandInvocation(cl *call) (any, *wire.Error) {
	var in struct {
		CommandID  string `json:"CommandId"`
		InstanceID string `json:"InstanceId"`
		PluginName string `json:"PluginName"`
	}
	if apiErr := wire.DecodeJSON(cl.body, &in); apiErr != nil {
		return nil, apiErr
	}
	var problems []string
	if in.CommandID == "" {
		problems = append(problems, "Value null at 'commandId' failed to satisfy constraint: Member must not be null")
	} else if len(in.CommandID) != 36 {
		problems = append(problems, fmt.Sprintf("Value '%s' at 'commandId' failed to satisfy constraint: Member must have length less than or equal to 36 and greater than or equal to 36", in.CommandID))
	}
	if in.InstanceID == "" {
		problems = append(problems, "Value null at 'instanceId' failed to satisfy constraint: Member must not be null")
	}
	if len(problems) > 0 {
		return nil, ssmValidation(problems)
	}
	resource := fmt.Sprintf("arn:aws:ssm:%s:%s:*", c.region, cl.caller.Account)
	if apiErr := c.authorizeSSM(cl.caller, "ssm:GetCommandInvocation", resource, nil); apiErr != nil {
		return nil, apiErr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cmd := c.commands[in.CommandID]
	var inv *invocation
	if cmd != nil {
		for _, x := range cmd.invocations {
			if x.node.id == in.InstanceID {
				inv = x
			}
		}
	}
	if inv == nil || !inv.visible {
		// Also right after SendCommand, until the agent has the command:
		// Run Command is eventually consistent.
		return nil, wire.NewError(http.StatusBadRequest, "InvocationDoesNotExist", "")
	}
	out := map[string]any{
		"CommandId": cmd.id, "InstanceId": inv.node.id, "Comment": cmd.comment, "DocumentName": cmd.documentName,
		"DocumentVersion": cmd.documentVersion, "StandardOutputUrl": "", "StandardErrorUrl": "",
		"CloudWatchOutputConfig": cloudWatchOutputConfig{},
	}
	if cmd.cloudWatch != nil {
		out["CloudWatchOutputConfig"] = *cmd.cloudWatch
	}
	var p *pluginResult
	switch {
	case in.PluginName != "":
		i := slices.IndexFunc(inv.plugins, func(p *pluginResult) bool { return p.name == in.PluginName })
		if i < 0 {
			return nil, wire.NewError(http.StatusBadRequest, "InvalidPluginName", "The plugin name %s is not valid for document %s.", in.PluginName, cmd.documentName)
		}
		p = inv.plugins[i]
	case len(inv.plugins) == 1:
		p = inv.plugins[0]
	}
	if p == nil {
		// A document with several steps reports only the invocation's
		// status unless a step is named.
		out["PluginName"], out["ResponseCode"], out["Status"], out["StatusDetails"] = "", inv.code, inv.status, inv.details
		out["StandardOutputContent"], out["StandardErrorContent"] = "", ""
		out["ExecutionStartDateTime"], out["ExecutionEndDateTime"], out["ExecutionElapsedTime"] = isoOrEmpty(inv.started), isoOrEmpty(inv.ended), elapsed(inv.started, inv.ended)
		return out, nil
	}
	out["PluginName"], out["ResponseCode"], out["Status"], out["StatusDetails"] = p.name, p.code, p.status, p.details
	out["StandardOutputContent"], out["StandardErrorContent"] = firstChars(p.stdout, maxStdout), firstChars(p.stderr, maxStderr)
	out["ExecutionStartDateTime"], out["ExecutionEndDateTime"], out["ExecutionElapsedTime"] = isoOrEmpty(p.started), isoOrEmpty(p.ended), elapsed(p.started, p.ended)
	return out, nil
}

// elapsed is an ISO 8601 duration, as ExecutionElapsedTime ("PT0.172S").
func elapsed(start, end time.Time) string {
	if start.IsZero() || end.IsZero() {
		return ""
	}
	return fmt.Sprintf("PT%.3fS", end.Sub(start).Seconds())
}

type commandPluginView struct {
	Name                   string      `json:"Name"`
	Status                 string      `json:"Status"`
	StatusDetails          string      `json:"StatusDetails"`
	ResponseCode           int         `json:"ResponseCode"`
	ResponseStartDateTime  *wire.Epoch `json:"ResponseStartDateTime,omitempty"`
	ResponseFinishDateTime *wire.Epoch `json:"ResponseFinishDateTime,omitempty"`
	Output                 string      `json:"Output"`
	StandardOutputURL      string      `json:"StandardOutputUrl"`
	StandardErrorURL       string      `json:"StandardErrorUrl"`
	OutputS3Region         string      `json:"OutputS3Region"`
	OutputS3BucketName     string      `json:"OutputS3BucketName"`
	OutputS3KeyPrefix      string      `json:"OutputS3KeyPrefix"`
}

type commandInvocationView struct {
	CommandID              string                  `json:"CommandId"`
	InstanceID             string                  `json:"InstanceId"`
	InstanceName           string                  `json:"InstanceName"`
	Comment                string                  `json:"Comment"`
	DocumentName           string                  `json:"DocumentName"`
	DocumentVersion        string                  `json:"DocumentVersion"`
	RequestedDateTime      wire.Epoch              `json:"RequestedDateTime"`
	Status                 string                  `json:"Status"`
	StatusDetails          string                  `json:"StatusDetails"`
	StandardOutputURL      string                  `json:"StandardOutputUrl"`
	StandardErrorURL       string                  `json:"StandardErrorUrl"`
	CommandPlugins         []commandPluginView     `json:"CommandPlugins"`
	ServiceRole            string                  `json:"ServiceRole"`
	CloudWatchOutputConfig *cloudWatchOutputConfig `json:"CloudWatchOutputConfig,omitempty"`
}

func (c *Cloud) listCommandInvocations(cl *call) (any, *wire.Error) {
	var in struct {
		CommandID  string `json:"CommandId"`
		InstanceID string `json:"InstanceId"`
		Details    bool   `json:"Details"`
		MaxResults *int   `json:"MaxResults"`
	}
	if apiErr := wire.DecodeJSON(cl.body, &in); apiErr != nil {
		return nil, apiErr
	}
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > 50) {
		return nil, ssmValidation([]string{fmt.Sprintf("Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50 and greater than or equal to 1", *in.MaxResults)})
	}
	resource := fmt.Sprintf("arn:aws:ssm:%s:%s:*", c.region, cl.caller.Account)
	if apiErr := c.authorizeSSM(cl.caller, "ssm:ListCommandInvocations", resource, nil); apiErr != nil {
		return nil, apiErr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var cmds []*command
	for _, cmd := range c.commands {
		if in.CommandID == "" || cmd.id == in.CommandID {
			cmds = append(cmds, cmd)
		}
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].requested.After(cmds[j].requested) })
	out := struct {
		CommandInvocations []commandInvocationView `json:"CommandInvocations"`
	}{CommandInvocations: []commandInvocationView{}}
	for _, cmd := range cmds {
		for _, inv := range cmd.invocations {
			if in.InstanceID != "" && inv.node.id != in.InstanceID {
				continue
			}
			v := commandInvocationView{
				CommandID: cmd.id, InstanceID: inv.node.id, InstanceName: inv.node.tags["Name"], Comment: cmd.comment,
				DocumentName: cmd.documentName, DocumentVersion: cmd.documentVersion, RequestedDateTime: wire.Epoch(cmd.requested),
				Status: inv.status, StatusDetails: inv.details, ServiceRole: cmd.serviceRole,
				CloudWatchOutputConfig: cmd.cloudWatch, CommandPlugins: []commandPluginView{},
			}
			if in.Details {
				for _, p := range inv.plugins {
					pv := commandPluginView{Name: p.name, Status: p.status, StatusDetails: p.details, ResponseCode: p.code,
						Output: pluginOutput(p.stdout, p.stderr), OutputS3Region: c.region}
					if !p.started.IsZero() {
						s := wire.Epoch(p.started)
						pv.ResponseStartDateTime = &s
					}
					if !p.ended.IsZero() {
						e := wire.Epoch(p.ended)
						pv.ResponseFinishDateTime = &e
					}
					v.CommandPlugins = append(v.CommandPlugins, pv)
				}
			}
			out.CommandInvocations = append(out.CommandInvocations, v)
			if in.MaxResults != nil && len(out.CommandInvocations) == *in.MaxResults {
				return out, nil
			}
		}
	}
	return out, nil
}
