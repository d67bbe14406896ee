package cloud

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/asgdns/asgdns/local/wire"
)

// Auto Scaling: groups whose desired capacity launches and terminates EC2
// instances, lifecycle hooks that hold them in Pending:Wait /
// Terminating:Wait (HeartbeatTimeout, GlobalTimeout, DefaultResult on
// timeout), and the lifecycle events they send to the account's default
// event bus.
//
// Simplifications, each as AWS documents the general case: all hooks of a
// transition are notified at once and the instance moves on when every one
// is complete (an ABANDON ends the others); an abandoned launch terminates
// the instance without running termination hooks, and the group replaces
// it after replaceDelay; no warm pools, no instance refresh, no scaling
// policies.

const (
	transitionLaunching   = "autoscaling:EC2_INSTANCE_LAUNCHING"
	transitionTerminating = "autoscaling:EC2_INSTANCE_TERMINATING"
	// replaceDelay is how long the group waits before replacing an
	// instance whose launch was abandoned, so a hook that always abandons
	// cannot spin launches (AWS rate-limits them too).
	replaceDelay = 10 * time.Second
)

type group struct {
	name, account, arn  string
	min, max, desired   int
	azs                 []string
	subnets             []string // VPCZoneIdentifier, when given
	launchTemplate      *launchTemplateView
	launchConfig        string
	tags                []groupTag
	hooks               []*hook
	members             []*member
	launches            int // members launched so far, for their seq
	created             time.Time
	healthCheckType     string
	grace, cooldown     int
	terminationPolicies []string
}

type groupTag struct {
	Key, Value string
	Propagate  bool
}

type hook struct {
	name, transition, defaultResult, metadata, targetARN, roleARN string
	heartbeat, global                                             int // seconds
}

// member is an instance of a group.
type member struct {
	inst     *instance
	state    string // Pending, Pending:Wait, Pending:Proceed, InService, Terminating, Terminating:Wait, ...
	actions  []*lifecycleAction
	abandon  bool   // an ABANDON ended the current transition
	activity string // the launch activity's id, for events
	started  time.Time
	seq      int // launch order within the group
	cause    string
}

// lifecycleAction is one hook holding one instance.
type lifecycleAction struct {
	token            string
	hook             *hook
	member           *member
	group            *group
	deadline, global time.Time
	timer            Timer
}

func (g *group) hooksFor(transition string) []*hook {
	var out []*hook
	for _, h := range g.hooks {
		if h.transition == transition {
			out = append(out, h)
		}
	}
	return out
}

// active are the members that count toward the desired capacity.
func (g *group) active() []*member {
	var out []*member
	for _, m := range g.members {
		if strings.HasPrefix(m.state, "Pending") || m.state == "InService" {
			out = append(out, m)
		}
	}
	return out
}

func groupKey(account, name string) string { return account + "/" + name }

// lookupGroup finds a group of the caller's account (caller holds c.mu).
func (c *Cloud) lookupGroup(account, name string) (*group, *wire.Error) {
	if name == "" {
		return nil, wire.ValidationError("1 validation error detected: Value null at 'autoScalingGroupName' failed to satisfy constraint: Member must not be null")
	}
	g := c.groups[groupKey(account, name)]
	if g == nil {
		return nil, wire.ValidationError("AutoScalingGroup name not found - AutoScalingGroup: %s not found", name)
	}
	return g, nil
}

// authorizeAutoScaling checks the caller's identity policy for an Auto
// Scaling action on a group (or "*"); the caller holds c.mu.
func (c *Cloud) authorizeAutoScaling(p Principal, action, resource string) *wire.Error {
	if c.allowsLocked(p, "autoscaling:"+action, resource, nil) {
		return nil
	}
	return wire.NewError(http.StatusForbidden, "AccessDenied", "%s", notAuthorized(p, "autoscaling:"+action, resource))
}

// --- the model: launching, terminating, lifecycle actions ------------------

// reconcile launches or terminates instances until the group's active
// instances match its desired capacity (caller holds c.mu).
func (c *Cloud) reconcile(g *group, cause string) {
	if c.groups[groupKey(g.account, g.name)] != g {
		return // deleted
	}
	active := g.active()
	for range g.desired - len(active) {
		c.launch(g, cause)
	}
	if excess := len(active) - g.desired; excess > 0 {
		for _, m := range c.victims(g, excess) {
			c.startTermination(g, m, cause)
		}
	}
}

// launch starts one instance in the least used AZ.
func (c *Cloud) launch(g *group, cause string) {
	count := map[string]int{}
	for _, m := range g.active() {
		count[m.inst.az]++
	}
	az := g.azs[0]
	for _, candidate := range g.azs {
		if count[candidate] < count[az] {
			az = candidate
		}
	}
	var tags []tag
	for _, t := range g.tags {
		if t.Propagate {
			tags = append(tags, tag{t.Key, t.Value})
		}
	}
	tags = append(tags, tag{"aws:autoscaling:groupName", g.name})
	g.launches++
	m := &member{state: "Pending", activity: newUUID(), started: c.clock.Now(), cause: cause, seq: g.launches}
	m.inst = c.launchInstance(g.account, az, tags, func(*instance) {
		if m.state == "Pending" || m.state == "Pending:Proceed" {
			c.putInService(g, m)
		}
	})
	g.members = append(g.members, m)
	if hooks := g.hooksFor(transitionLaunching); len(hooks) > 0 {
		m.state = "Pending:Wait"
		c.startActions(g, m, hooks)
	}
}

func (c *Cloud) putInService(g *group, m *member) {
	m.state = "InService"
	c.publishActivity(g, m, "EC2 Instance Launch Successful", "Launching a new EC2 instance: "+m.inst.id, "InProgress", "")
	c.reconcile(g, "an instance went InService while the group is over its desired capacity")
}

// victims picks instances to terminate: from the AZ with the most
// instances, then the oldest first (Default, OldestInstance) or the newest
// (NewestInstance).
func (c *Cloud) victims(g *group, n int) []*member {
	var candidates []*member
	for _, m := range g.members {
		if m.state == "InService" {
			candidates = append(candidates, m)
		}
	}
	newestFirst := len(g.terminationPolicies) > 0 && g.terminationPolicies[0] == "NewestInstance"
	var out []*member
	for range min(n, len(candidates)) {
		perAZ := map[string]int{}
		for _, m := range g.active() {
			if !slices.Contains(out, m) {
				perAZ[m.inst.az]++
			}
		}
		sort.SliceStable(candidates, func(i, j int) bool {
			a, b := candidates[i], candidates[j]
			if perAZ[a.inst.az] != perAZ[b.inst.az] {
				return perAZ[a.inst.az] > perAZ[b.inst.az]
			}
			// Launch order stands for launch time (several can launch
			// at the same instant).
			return (a.seq < b.seq) != newestFirst
		})
		out = append(out, candidates[0])
		candidates = candidates[1:]
	}
	return out
}

// startTermination moves a member into Terminating (and Terminating:Wait
// when the group has termination hooks).
func (c *Cloud) startTermination(g *group, m *member, cause string) {
	c.cancelActions(m)
	m.abandon = false
	m.state = "Terminating"
	m.cause = cause
	if hooks := g.hooksFor(transitionTerminating); len(hooks) > 0 {
		m.state = "Terminating:Wait"
		c.startActions(g, m, hooks)
		return
	}
	c.finishTermination(g, m)
}

func (c *Cloud) finishTermination(g *group, m *member) {
	m.state = "Terminated"
	g.members = slices.DeleteFunc(g.members, func(x *member) bool { return x == m })
	c.terminateInstance(m.inst, "User initiated ("+wire.Timestamp(c.clock.Now())+")")
	c.publishActivity(g, m, "EC2 Instance Terminate Successful", "Terminating EC2 instance: "+m.inst.id, "InProgress", "")
	c.reconcile(g, "an instance was terminated")
}

// startActions holds a member for each hook and sends each hook's event.
func (c *Cloud) startActions(g *group, m *member, hooks []*hook) {
	now := c.clock.Now()
	for _, h := range hooks {
		a := &lifecycleAction{
			token: newUUID(), hook: h, member: m, group: g,
			deadline: now.Add(time.Duration(h.heartbeat) * time.Second),
			global:   now.Add(time.Duration(h.global) * time.Second),
		}
		a.timer = c.after(a.deadline.Sub(now), func() { c.actionTimedOut(a) })
		m.actions = append(m.actions, a)
		c.publishLifecycleAction(g, m, a)
	}
}

// actionTimedOut applies the hook's DefaultResult once the heartbeat (or
// global) timeout has passed.
func (c *Cloud) actionTimedOut(a *lifecycleAction) {
	if !slices.Contains(a.member.actions, a) || c.clock.Now().Before(a.deadline) {
		return // completed, or a heartbeat moved the deadline
	}
	c.log.Info("lifecycle action timed out", "group", a.group.name, "hook", a.hook.name,
		"instance", a.member.inst.id, "result", a.hook.defaultResult)
	c.finishAction(a, a.hook.defaultResult)
}

// heartbeat extends an action by the hook's heartbeat timeout, up to its
// global timeout.
func (c *Cloud) heartbeat(a *lifecycleAction) {
	now := c.clock.Now()
	a.deadline = now.Add(time.Duration(a.hook.heartbeat) * time.Second)
	if a.deadline.After(a.global) {
		a.deadline = a.global
	}
	a.timer.Stop()
	a.timer = c.after(a.deadline.Sub(now), func() { c.actionTimedOut(a) })
}

func (c *Cloud) cancelActions(m *member) {
	for _, a := range m.actions {
		a.timer.Stop()
	}
	m.actions = nil
}

// finishAction completes one action; the member moves on when none is left.
func (c *Cloud) finishAction(a *lifecycleAction, result string) {
	m, g := a.member, a.group
	a.timer.Stop()
	m.actions = slices.DeleteFunc(m.actions, func(x *lifecycleAction) bool { return x == a })
	if result == "ABANDON" {
		// ABANDON stops the transition's remaining actions.
		m.abandon = true
		c.cancelActions(m)
	}
	if len(m.actions) > 0 {
		return
	}
	switch m.state {
	case "Pending:Wait":
		if m.abandon {
			m.state = "Terminating"
			c.publishActivity(g, m, "EC2 Instance Launch Unsuccessful", "Launching a new EC2 instance: "+m.inst.id, "Cancelled",
				"Instance failed to complete user's Lifecycle Action: Lifecycle Action with token "+a.token+
					" was abandoned: Lifecycle Action Completed with ABANDON Result")
			m.state = "Terminated"
			g.members = slices.DeleteFunc(g.members, func(x *member) bool { return x == m })
			c.terminateInstance(m.inst, "abandoned by lifecycle action")
			c.after(replaceDelay, func() { c.reconcile(g, "an instance's launch was abandoned") })
			return
		}
		m.state = "Pending:Proceed"
		if m.inst.state == "running" {
			c.putInService(g, m)
		}
	case "Terminating:Wait":
		m.state = "Terminating:Proceed"
		c.finishTermination(g, m)
	}
}

// findAction finds an outstanding action of a hook by token or instance id.
func (g *group) findAction(hookName, token, instanceID string) *lifecycleAction {
	for _, m := range g.members {
		for _, a := range m.actions {
			if a.hook.name != hookName {
				continue
			}
			if (token == "" || a.token == token) && (instanceID == "" || m.inst.id == instanceID) {
				return a
			}
		}
	}
	return nil
}

// --- the API ----------------------------------------------------------------

var (
	groupNameRE = regexp.MustCompile(`^[\x{0020}-\x{D7FF}\x{E000}-\x{FFFD}\x{10000}-\x{10FFFF}\r\n\t]{1,255}$`)
	hookNameRE  = regexp.MustCompile(`^[A-Za-z0-9\-_/]{1,255}$`)
)

func (c *Cloud) createAutoScalingGroup(cl *call) (any, *wire.Error) {
	f := cl.form
	name := f.Get("AutoScalingGroupName")
	if !groupNameRE.MatchString(name) {
		return nil, wire.ValidationError("1 validation error detected: Value '%s' at 'autoScalingGroupName' failed to satisfy constraint: Member must have length less than or equal to 255 and greater than or equal to 1", name)
	}
	minSize, minSet, apiErr := f.IntParam("MinSize")
	if apiErr != nil {
		return nil, apiErr
	}
	maxSize, maxSet, apiErr := f.IntParam("MaxSize")
	if apiErr != nil {
		return nil, apiErr
	}
	if !minSet || !maxSet {
		field := "minSize"
		if minSet {
			field = "maxSize"
		}
		return nil, wire.ValidationError("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
	}
	desired, desiredSet, apiErr := f.IntParam("DesiredCapacity")
	if apiErr != nil {
		return nil, apiErr
	}
	if !desiredSet {
		desired = minSize
	}
	if maxSize < minSize {
		return nil, wire.ValidationError("Max bound, %d, must be greater than or equal to min bound, %d", maxSize, minSize)
	}
	if desired < minSize || desired > maxSize {
		return nil, wire.ValidationError("Desired capacity:%d must be between the specified min size:%d and max size:%d", desired, minSize, maxSize)
	}
	g := &group{
		name: name, account: cl.caller.Account, min: minSize, max: maxSize, desired: desired,
		healthCheckType: "EC2", cooldown: 300, created: c.clock.Now(),
		terminationPolicies: f.List("TerminationPolicies.member"),
	}
	g.arn = fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s", c.region, g.account, newUUID(), name)
	if v := f.Get("HealthCheckType"); v != "" {
		g.healthCheckType = v
	}
	if n, set, apiErr := f.IntParam("HealthCheckGracePeriod"); apiErr != nil {
		return nil, apiErr
	} else if set {
		g.grace = n
	}
	if n, set, apiErr := f.IntParam("DefaultCooldown"); apiErr != nil {
		return nil, apiErr
	} else if set {
		g.cooldown = n
	}
	lt := f.Sub("LaunchTemplate")
	switch {
	case lt.Get("LaunchTemplateId") != "" || lt.Get("LaunchTemplateName") != "":
		g.launchTemplate = &launchTemplateView{ID: lt.Get("LaunchTemplateId"), Name: lt.Get("LaunchTemplateName"), Version: lt.Get("Version")}
		if g.launchTemplate.ID == "" {
			g.launchTemplate.ID = "lt-0" + randomHex(16)
		}
		if g.launchTemplate.Name == "" {
			g.launchTemplate.Name = g.launchTemplate.ID
		}
		if g.launchTemplate.Version == "" {
			g.launchTemplate.Version = "$Default"
		}
	case f.Get("LaunchConfigurationName") != "":
		g.launchConfig = f.Get("LaunchConfigurationName")
	case f.Get("InstanceId") != "" || len(f.Sub("MixedInstancesPolicy")) > 0:
		// Accepted; the instances launched are the same t3.micro either way.
	default:
		return nil, wire.ValidationError("Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.")
	}
	for _, t := range f.Structs("Tags.member") {
		g.tags = append(g.tags, groupTag{Key: t.Get("Key"), Value: t.Get("Value"), Propagate: t.Get("PropagateAtLaunch") == "true"})
	}
	hooks := []*hook{}
	for _, spec := range f.Structs("LifecycleHookSpecificationList.member") {
		h, apiErr := hookFromForm(spec, nil)
		if apiErr != nil {
			return nil, apiErr
		}
		hooks = append(hooks, h)
	}
	g.hooks = hooks

	c.mu.Lock()
	defer c.mu.Unlock()
	if apiErr := c.authorizeAutoScaling(cl.caller, "CreateAutoScalingGroup", "*"); apiErr != nil {
		return nil, apiErr
	}
	if c.groups[groupKey(g.account, name)] != nil {
		return nil, wire.NewError(http.StatusBadRequest, "AlreadyExists", "AutoScalingGroup by this name already exists - A group with the name %s already exists", name)
	}
	n := c.network(g.account)
	if vpcZones := f.Get("VPCZoneIdentifier"); vpcZones != "" {
		for id := range strings.SplitSeq(vpcZones, ",") {
			s := n.subnetByID(strings.TrimSpace(id))
			if s == nil {
				return nil, wire.ValidationError("The subnet ID '%s' does not exist", strings.TrimSpace(id))
			}
			g.subnets = append(g.subnets, s.id)
			g.azs = append(g.azs, s.az)
		}
	} else {
		for _, az := range f.List("AvailabilityZones.member") {
			if n.subnetIn(az) == nil {
				return nil, wire.ValidationError("The availability zone %s is not legal", az)
			}
			g.azs = append(g.azs, az)
		}
	}
	if len(g.azs) == 0 {
		return nil, wire.ValidationError("At least one Availability Zone or VPC Subnet is required.")
	}
	c.groups[groupKey(g.account, name)] = g
	c.reconcile(g, c.capacityCause(g, 0, "creating"))
	return nil, nil
}

// capacityCause is the Cause Auto Scaling records for a capacity change.
func (c *Cloud) capacityCause(g *group, from int, verb string) string {
	if verb == "creating" {
		return fmt.Sprintf("At %s a user request created an AutoScalingGroup changing the desired capacity from 0 to %d.",
			c.clock.Now().UTC().Format(time.RFC3339), g.desired)
	}
	return fmt.Sprintf("At %s a user request update of AutoScalingGroup constraints to min: %d, max: %d, desired: %d changing the desired capacity from %d to %d.",
		c.clock.Now().UTC().Format(time.RFC3339), g.min, g.max, g.desired, from, g.desired)
}

// hookFromForm reads a hook's fields; old is the hook being updated by
// PutLifecycleHook, if any.
func hookFromForm(f wire.Form, old *hook) (*hook, *wire.Error) {
	h := &hook{defaultResult: "ABANDON", heartbeat: 3600}
	if old != nil {
		cp := *old
		h = &cp
	}
	h.name = f.Get("LifecycleHookName")
	if !hookNameRE.MatchString(h.name) {
		return nil, wire.ValidationError("1 validation error detected: Value '%s' at 'lifecycleHookName' failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z0-9\\-_\\/]+", h.name)
	}
	if f.Has("LifecycleTransition") || old == nil {
		h.transition = f.Get("LifecycleTransition")
	}
	if h.transition != transitionLaunching && h.transition != transitionTerminating {
		return nil, wire.ValidationError("Invalid Lifecycle Transition: %q (autoscaling:EC2_INSTANCE_LAUNCHING or autoscaling:EC2_INSTANCE_TERMINATING)", h.transition)
	}
	if f.Has("DefaultResult") {
		h.defaultResult = f.Get("DefaultResult")
	}
	if h.defaultResult != "CONTINUE" && h.defaultResult != "ABANDON" {
		return nil, wire.ValidationError("Valid values for DefaultResult are CONTINUE and ABANDON, not %q", h.defaultResult)
	}
	hb, set, apiErr := f.IntParam("HeartbeatTimeout")
	if apiErr != nil {
		return nil, apiErr
	}
	if set {
		if hb < 30 || hb > 7200 {
			return nil, wire.ValidationError("Heartbeat timeout value must be between 30 and 7200 seconds")
		}
		h.heartbeat = hb
	}
	// GlobalTimeout: 48 hours or 100 times the heartbeat timeout, whichever
	// is smaller (API_LifecycleHook).
	h.global = min(172800, 100*h.heartbeat)
	if f.Has("NotificationMetadata") {
		h.metadata = f.Get("NotificationMetadata")
		if len(h.metadata) > 1023 {
			return nil, wire.ValidationError("1 validation error detected: Value at 'notificationMetadata' failed to satisfy constraint: Member must have length less than or equal to 1023")
		}
	}
	if f.Has("NotificationTargetARN") {
		h.targetARN = f.Get("NotificationTargetARN")
	}
	if f.Has("RoleARN") {
		h.roleARN = f.Get("RoleARN")
	}
	return h, nil
}

func (c *Cloud) putLifecycleHook(cl *call) (any, *wire.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, apiErr := c.authorizedGroup(cl, "PutLifecycleHook")
	if apiErr != nil {
		return nil, apiErr
	}
	i := slices.IndexFunc(g.hooks, func(h *hook) bool { return h.name == cl.form.Get("LifecycleHookName") })
	var old *hook
	if i >= 0 {
		old = g.hooks[i]
	} else if len(g.hooks) >= 50 {
		return nil, wire.NewError(http.StatusBadRequest, "LimitExceeded", "Max number of lifecycle hooks (50) for group %s reached", g.name)
	}
	h, apiErr := hookFromForm(cl.form, old)
	if apiErr != nil {
		return nil, apiErr
	}
	if i >= 0 {
		*old = *h // outstanding actions see the new settings
	} else {
		g.hooks = append(g.hooks, h)
	}
	return nil, nil
}

// authorizedGroup finds the request's AutoScalingGroupName in the caller's
// account and checks the caller may perform action on it. c.mu is held.
func (c *Cloud) authorizedGroup(cl *call, action string) (*group, *wire.Error) {
	g, apiErr := c.lookupGroup(cl.caller.Account, cl.form.Get("AutoScalingGroupName"))
	if apiErr != nil {
		return nil, apiErr
	}
	if apiErr := c.authorizeAutoScaling(cl.caller, action, g.arn); apiErr != nil {
		return nil, apiErr
	}
	return g, nil
}

func (c *Cloud) deleteLifecycleHook(cl *call) (any, *wire.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, apiErr := c.authorizedGroup(cl, "DeleteLifecycleHook")
	if apiErr != nil {
		return nil, apiErr
	}
	name := cl.form.Get("LifecycleHookName")
	i := slices.IndexFunc(g.hooks, func(h *hook) bool { return h.name == name })
	if i < 0 {
		return nil, wire.ValidationError("No Lifecycle Hook found with name %s for group %s", name, g.name)
	}
	h := g.hooks[i]
	g.hooks = slices.Delete(g.hooks, i, i+1)
	// Outstanding actions complete: ABANDON for launching instances,
	// CONTINUE for terminating ones (API_DeleteLifecycleHook).
	for _, m := range slices.Clone(g.members) {
		for _, a := range slices.Clone(m.actions) {
			if a.hook == h {
				result := "CONTINUE"
				if h.transition == transitionLaunching {
					result = "ABANDON"
				}
				c.finishAction(a, result)
			}
		}
	}
	return nil, nil
}

func (c *Cloud) completeLifecycleAction(cl *call) (any, *wire.Error) {
	f := cl.form
	var missing []string
	for _, field := range []string{"LifecycleHookName", "AutoScalingGroupName", "LifecycleActionResult"} {
		if f.Get(field) == "" {
			missing = append(missing, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", wire.MemberName(field)))
		}
	}
	if len(missing) > 0 {
		return nil, wire.ValidationError("%s", wire.ValidationMessage(missing))
	}
	result := f.Get("LifecycleActionResult")
	if result != "CONTINUE" && result != "ABANDON" {
		return nil, wire.ValidationError("Invalid value for LifecycleActionResult: %s. Valid values are CONTINUE and ABANDON.", result)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a, apiErr := c.activeAction(cl, "CompleteLifecycleAction")
	if apiErr != nil {
		return nil, apiErr
	}
	c.log.Info("lifecycle action completed", "group", a.group.name, "hook", a.hook.name, "instance", a.member.inst.id, "result", result)
	c.finishAction(a, result)
	return nil, nil
}

func (c *Cloud) recordLifecycleActionHeartbeat(cl *call) (any, *wire.Error) {
	f := cl.form
	for _, field := range []string{"LifecycleHookName", "AutoScalingGroupName"} {
		if f.Get(field) == "" {
			return nil, wire.ValidationError("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", wire.MemberName(field))
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a, apiErr := c.activeAction(cl, "RecordLifecycleActionHeartbeat")
	if apiErr != nil {
		return nil, apiErr
	}
	c.heartbeat(a)
	return nil, nil
}

// activeAction finds the action CompleteLifecycleAction or
// RecordLifecycleActionHeartbeat names (caller holds c.mu).
func (c *Cloud) activeAction(cl *call, action string) (*lifecycleAction, *wire.Error) {
	f := cl.form
	token, instanceID := f.Get("LifecycleActionToken"), f.Get("InstanceId")
	if token == "" && instanceID == "" {
		return nil, wire.ValidationError("Either LifecycleActionToken or InstanceId must be specified")
	}
	g, apiErr := c.lookupGroup(cl.caller.Account, f.Get("AutoScalingGroupName"))
	if apiErr != nil {
		return nil, apiErr
	}
	if apiErr := c.authorizeAutoScaling(cl.caller, action, g.arn); apiErr != nil {
		return nil, apiErr
	}
	a := g.findAction(f.Get("LifecycleHookName"), token, instanceID)
	if a == nil {
		if token != "" {
			return nil, wire.ValidationError("No active Lifecycle Action found with token %s", token)
		}
		return nil, wire.ValidationError("No active Lifecycle Action found with instance ID %s", instanceID)
	}
	return a, nil
}

func (c *Cloud) setDesiredCapacity(cl *call) (any, *wire.Error) {
	desired, set, apiErr := cl.form.IntParam("DesiredCapacity")
	if apiErr != nil {
		return nil, apiErr
	}
	if !set {
		return nil, wire.ValidationError("1 validation error detected: Value null at 'desiredCapacity' failed to satisfy constraint: Member must not be null")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g, apiErr := c.authorizedGroup(cl, "SetDesiredCapacity")
	if apiErr != nil {
		return nil, apiErr
	}
	if desired > g.max {
		return nil, wire.ValidationError("New SetDesiredCapacity value %d is above max value %d for the AutoScalingGroup.", desired, g.max)
	}
	if desired < g.min {
		return nil, wire.ValidationError("New SetDesiredCapacity value %d is below min value %d for the AutoScalingGroup.", desired, g.min)
	}
	from := g.desired
	g.desired = desired
	c.reconcile(g, c.capacityCause(g, from, "update"))
	return nil, nil
}

func (c *Cloud) updateAutoScalingGroup(cl *call) (any, *wire.Error) {
	f := cl.form
	minSize, minSet, apiErr := f.IntParam("MinSize")
	if apiErr != nil {
		return nil, apiErr
	}
	maxSize, maxSet, apiErr := f.IntParam("MaxSize")
	if apiErr != nil {
		return nil, apiErr
	}
	desired, desiredSet, apiErr := f.IntParam("DesiredCapacity")
	if apiErr != nil {
		return nil, apiErr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g, apiErr := c.lookupGroup(cl.caller.Account, f.Get("AutoScalingGroupName"))
	if apiErr != nil {
		return nil, apiErr
	}
	if apiErr := c.authorizeAutoScaling(cl.caller, "UpdateAutoScalingGroup", g.arn); apiErr != nil {
		return nil, apiErr
	}
	if !minSet {
		minSize = g.min
	}
	if !maxSet {
		maxSize = g.max
	}
	if maxSize < minSize {
		return nil, wire.ValidationError("Max bound, %d, must be greater than or equal to min bound, %d", maxSize, minSize)
	}
	if !desiredSet {
		// New bounds pull the desired capacity along with them.
		desired = min(max(g.desired, minSize), maxSize)
	}
	if desired < minSize || desired > maxSize {
		return nil, wire.ValidationError("Desired capacity:%d must be between the specified min size:%d and max size:%d", desired, minSize, maxSize)
	}
	from := g.desired
	g.min, g.max, g.desired = minSize, maxSize, desired
	c.reconcile(g, c.capacityCause(g, from, "update"))
	return nil, nil
}

func (c *Cloud) terminateInstanceInAutoScalingGroup(cl *call) (any, *wire.Error) {
	f := cl.form
	id := f.Get("InstanceId")
	decrement := f.Get("ShouldDecrementDesiredCapacity")
	if id == "" || decrement == "" {
		field := "instanceId"
		if id != "" {
			field = "shouldDecrementDesiredCapacity"
		}
		return nil, wire.ValidationError("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var g *group
	var m *member
	for _, candidate := range c.groups {
		if candidate.account != cl.caller.Account {
			continue
		}
		for _, x := range candidate.members {
			if x.inst.id == id {
				g, m = candidate, x
			}
		}
	}
	if m == nil {
		return nil, wire.ValidationError("Instance Id not found - No managed instance found for instance ID: %s", id)
	}
	if apiErr := c.authorizeAutoScaling(cl.caller, "TerminateInstanceInAutoScalingGroup", g.arn); apiErr != nil {
		return nil, apiErr
	}
	if strings.HasPrefix(m.state, "Terminating") {
		return nil, wire.ValidationError("The instance %s is already terminating", id)
	}
	cause := fmt.Sprintf("At %s instance %s was taken out of service in response to a user request.", c.clock.Now().UTC().Format(time.RFC3339), id)
	if decrement == "true" {
		if g.desired <= g.min {
			return nil, wire.ValidationError("Currently, desiredSize equals minSize (%d). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.", g.min)
		}
		g.desired--
		cause += fmt.Sprintf(", shrinking the capacity from %d to %d", g.desired+1, g.desired)
	}
	activity := activityView{
		ActivityID: newUUID(), AutoScalingGroupName: g.name, Description: "Terminating EC2 instance: " + id,
		Cause: cause, StartTime: wire.Timestamp(c.clock.Now()), StatusCode: "InProgress", Progress: 0,
		Details: fmt.Sprintf(`{"Subnet ID":"%s","Availability Zone":"%s"}`, m.inst.subnetID, m.inst.az),
	}
	c.startTermination(g, m, cause)
	c.reconcile(g, cause)
	return struct {
		Activity activityView `xml:"Activity"`
	}{activity}, nil
}

// --- describe -------------------------------------------------------------

type launchTemplateView struct {
	ID      string `xml:"LaunchTemplateId"`
	Name    string `xml:"LaunchTemplateName"`
	Version string `xml:"Version"`
}

type instanceView struct {
	InstanceID           string              `xml:"InstanceId"`
	InstanceType         string              `xml:"InstanceType"`
	AutoScalingGroupName string              `xml:"AutoScalingGroupName,omitempty"`
	AvailabilityZone     string              `xml:"AvailabilityZone"`
	LifecycleState       string              `xml:"LifecycleState"`
	HealthStatus         string              `xml:"HealthStatus"`
	LaunchConfiguration  string              `xml:"LaunchConfigurationName,omitempty"`
	LaunchTemplate       *launchTemplateView `xml:"LaunchTemplate,omitempty"`
	ProtectedFromScaleIn bool                `xml:"ProtectedFromScaleIn"`
}

type tagView struct {
	ResourceID        string `xml:"ResourceId"`
	ResourceType      string `xml:"ResourceType"`
	Key               string `xml:"Key"`
	Value             string `xml:"Value"`
	PropagateAtLaunch bool   `xml:"PropagateAtLaunch"`
}

type groupView struct {
	AutoScalingGroupName             string                     `xml:"AutoScalingGroupName"`
	AutoScalingGroupARN              string                     `xml:"AutoScalingGroupARN"`
	LaunchConfigurationName          string                     `xml:"LaunchConfigurationName,omitempty"`
	LaunchTemplate                   *launchTemplateView        `xml:"LaunchTemplate,omitempty"`
	MinSize                          int                        `xml:"MinSize"`
	MaxSize                          int                        `xml:"MaxSize"`
	DesiredCapacity                  int                        `xml:"DesiredCapacity"`
	DefaultCooldown                  int                        `xml:"DefaultCooldown"`
	AvailabilityZones                wire.Members[string]       `xml:"AvailabilityZones"`
	LoadBalancerNames                wire.Members[string]       `xml:"LoadBalancerNames"`
	TargetGroupARNs                  wire.Members[string]       `xml:"TargetGroupARNs"`
	HealthCheckType                  string                     `xml:"HealthCheckType"`
	HealthCheckGracePeriod           int                        `xml:"HealthCheckGracePeriod"`
	Instances                        wire.Members[instanceView] `xml:"Instances"`
	CreatedTime                      string                     `xml:"CreatedTime"`
	SuspendedProcesses               wire.Members[string]       `xml:"SuspendedProcesses"`
	VPCZoneIdentifier                string                     `xml:"VPCZoneIdentifier,omitempty"`
	EnabledMetrics                   wire.Members[string]       `xml:"EnabledMetrics"`
	Tags                             wire.Members[tagView]      `xml:"Tags"`
	TerminationPolicies              wire.Members[string]       `xml:"TerminationPolicies"`
	NewInstancesProtectedFromScaleIn bool                       `xml:"NewInstancesProtectedFromScaleIn"`
	ServiceLinkedRoleARN             string                     `xml:"ServiceLinkedRoleARN"`
	CapacityRebalance                bool                       `xml:"CapacityRebalance"`
	TrafficSources                   wire.Members[string]       `xml:"TrafficSources"`
}

type hookView struct {
	LifecycleHookName     string `xml:"LifecycleHookName"`
	AutoScalingGroupName  string `xml:"AutoScalingGroupName"`
	LifecycleTransition   string `xml:"LifecycleTransition"`
	NotificationTargetARN string `xml:"NotificationTargetARN,omitempty"`
	RoleARN               string `xml:"RoleARN,omitempty"`
	NotificationMetadata  string `xml:"NotificationMetadata,omitempty"`
	HeartbeatTimeout      int    `xml:"HeartbeatTimeout"`
	GlobalTimeout         int    `xml:"GlobalTimeout"`
	DefaultResult         string `xml:"DefaultResult"`
}

type activityView struct {
	ActivityID           string `xml:"ActivityId"`
	AutoScalingGroupName string `xml:"AutoScalingGroupName"`
	Description          string `xml:"Description"`
	Cause                string `xml:"Cause"`
	StartTime            string `xml:"StartTime"`
	StatusCode           string `xml:"StatusCode"`
	Progress             int    `xml:"Progress"`
	Details              string `xml:"Details"`
}

func (c *Cloud) instanceView(g *group, m *member, withGroup bool) instanceView {
	v := instanceView{
		InstanceID: m.inst.id, InstanceType: m.inst.instanceType, AvailabilityZone: m.inst.az,
		LifecycleState: m.state, HealthStatus: "Healthy", LaunchConfiguration: g.launchConfig, LaunchTemplate: g.launchTemplate,
	}
	if withGroup {
		// DescribeAutoScalingInstances spells the health status in capitals.
		v.AutoScalingGroupName, v.HealthStatus = g.name, "HEALTHY"
	}
	return v
}

func (c *Cloud) describeAutoScalingGroups(cl *call) (any, *wire.Error) {
	names := cl.form.List("AutoScalingGroupNames.member")
	c.mu.Lock()
	defer c.mu.Unlock()
	if apiErr := c.authorizeAutoScaling(cl.caller, "DescribeAutoScalingGroups", "*"); apiErr != nil {
		return nil, apiErr
	}
	var groups []*group
	for _, g := range c.groups {
		if g.account == cl.caller.Account && (len(names) == 0 || slices.Contains(names, g.name)) {
			groups = append(groups, g)
		}
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].name < groups[j].name })
	out := struct {
		AutoScalingGroups wire.Members[groupView] `xml:"AutoScalingGroups"`
	}{AutoScalingGroups: wire.Members[groupView]{}}
	for _, g := range groups {
		v := groupView{
			AutoScalingGroupName: g.name, AutoScalingGroupARN: g.arn, LaunchConfigurationName: g.launchConfig,
			LaunchTemplate: g.launchTemplate, MinSize: g.min, MaxSize: g.max, DesiredCapacity: g.desired,
			DefaultCooldown: g.cooldown, AvailabilityZones: g.azs, HealthCheckType: g.healthCheckType,
			HealthCheckGracePeriod: g.grace, CreatedTime: wire.Timestamp(g.created), VPCZoneIdentifier: strings.Join(g.subnets, ","),
			TerminationPolicies:  wire.Members[string]{"Default"},
			ServiceLinkedRoleARN: "arn:aws:iam::" + g.account + ":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
		}
		if len(g.terminationPolicies) > 0 {
			v.TerminationPolicies = g.terminationPolicies
		}
		for _, m := range g.members {
			v.Instances = append(v.Instances, c.instanceView(g, m, false))
		}
		for _, t := range g.tags {
			v.Tags = append(v.Tags, tagView{g.name, "auto-scaling-group", t.Key, t.Value, t.Propagate})
		}
		out.AutoScalingGroups = append(out.AutoScalingGroups, v)
	}
	return out, nil
}

func (c *Cloud) describeAutoScalingInstances(cl *call) (any, *wire.Error) {
	ids := cl.form.List("InstanceIds.member")
	c.mu.Lock()
	defer c.mu.Unlock()
	if apiErr := c.authorizeAutoScaling(cl.caller, "DescribeAutoScalingInstances", "*"); apiErr != nil {
		return nil, apiErr
	}
	out := struct {
		AutoScalingInstances wire.Members[instanceView] `xml:"AutoScalingInstances"`
	}{AutoScalingInstances: wire.Members[instanceView]{}}
	for _, g := range c.groups {
		if g.account != cl.caller.Account {
			continue
		}
		for _, m := range g.members {
			if len(ids) == 0 || slices.Contains(ids, m.inst.id) {
				out.AutoScalingInstances = append(out.AutoScalingInstances, c.instanceView(g, m, true))
			}
		}
	}
	sort.Slice(out.AutoScalingInstances, func(i, j int) bool {
		return out.AutoScalingInstances[i].InstanceID < out.AutoScalingInstances[j].InstanceID
	})
	return out, nil
}

func (c *Cloud) describeLifecycleHooks(cl *call) (any, *wire.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, apiErr := c.authorizedGroup(cl, "DescribeLifecycleHooks")
	if apiErr != nil {
		return nil, apiErr
	}
	names := cl.form.List("LifecycleHookNames.member")
	out := struct {
		LifecycleHooks wire.Members[hookView] `xml:"LifecycleHooks"`
	}{LifecycleHooks: wire.Members[hookView]{}}
	for _, h := range g.hooks {
		if len(names) == 0 || slices.Contains(names, h.name) {
			out.LifecycleHooks = append(out.LifecycleHooks, hookView{
				h.name, g.name, h.transition, h.targetARN, h.roleARN, h.metadata, h.heartbeat, h.global, h.defaultResult,
			})
		}
	}
	return out, nil
}

// --- events -----------------------------------------------------------------

// lifecycleDetail is the detail of an "EC2 Instance-launch/terminate
// Lifecycle Action" event, fields in the order AWS sends them.
type lifecycleDetail struct {
	LifecycleActionToken string `json:"LifecycleActionToken"`
	AutoScalingGroupName string `json:"AutoScalingGroupName"`
	LifecycleHookName    string `json:"LifecycleHookName"`
	EC2InstanceID        string `json:"EC2InstanceId"`
	LifecycleTransition  string `json:"LifecycleTransition"`
	NotificationMetadata string `json:"NotificationMetadata,omitempty"`
	Origin               string `json:"Origin"`
	Destination          string `json:"Destination"`
}

func (c *Cloud) publishLifecycleAction(g *group, m *member, a *lifecycleAction) {
	detailType, origin, destination := "EC2 Instance-launch Lifecycle Action", "EC2", "AutoScalingGroup"
	if a.hook.transition == transitionTerminating {
		detailType, origin, destination = "EC2 Instance-terminate Lifecycle Action", "AutoScalingGroup", "EC2"
	}
	c.publish(g.account, "aws.autoscaling", detailType, []string{g.arn}, lifecycleDetail{
		LifecycleActionToken: a.token, AutoScalingGroupName: g.name, LifecycleHookName: a.hook.name,
		EC2InstanceID: m.inst.id, LifecycleTransition: a.hook.transition, NotificationMetadata: a.hook.metadata,
		Origin: origin, Destination: destination,
	})
}

// activityDetail is the detail of the "EC2 Instance Launch/Terminate
// Successful/Unsuccessful" events.
type activityDetail struct {
	StatusCode           string `json:"StatusCode"`
	Description          string `json:"Description"`
	AutoScalingGroupName string `json:"AutoScalingGroupName"`
	ActivityID           string `json:"ActivityId"`
	Details              struct {
		AvailabilityZone string `json:"Availability Zone"`
		SubnetID         string `json:"Subnet ID"`
	} `json:"Details"`
	RequestID     string `json:"RequestId"`
	StatusMessage string `json:"StatusMessage"`
	EndTime       string `json:"EndTime"`
	EC2InstanceID string `json:"EC2InstanceId"`
	StartTime     string `json:"StartTime"`
	Cause         string `json:"Cause"`
}

func (c *Cloud) publishActivity(g *group, m *member, detailType, description, status, message string) {
	d := activityDetail{
		StatusCode: status, Description: description, AutoScalingGroupName: g.name, ActivityID: m.activity,
		RequestID: m.activity, StatusMessage: message, EndTime: wire.Timestamp(c.clock.Now()), EC2InstanceID: m.inst.id,
		StartTime: wire.Timestamp(m.started), Cause: m.cause,
	}
	d.Details.AvailabilityZone, d.Details.SubnetID = m.inst.az, m.inst.subnetID
	instanceARN := "arn:aws:ec2:" + c.region + ":" + g.account + ":instance/" + m.inst.id
	c.publish(g.account, "aws.autoscaling", detailType, []string{g.arn, instanceARN}, d)
}

// --- Go helpers -------------------------------------------------------------

// GroupSpec describes an Auto Scaling group for CreateGroup.
type GroupSpec struct {
	Name                  string
	Min, Max, Desired     int
	Tags                  map[string]string // propagated to the instances
	Hooks                 []HookSpec
	TerminationPolicies   []string
	AvailabilityZoneCount int // how many of the region's three AZs; all when 0
}

// HookSpec is a lifecycle hook of a GroupSpec.
type HookSpec struct {
	Name string
	// Transition is autoscaling:EC2_INSTANCE_LAUNCHING or
	// autoscaling:EC2_INSTANCE_TERMINATING.
	Transition           string
	HeartbeatTimeout     time.Duration // 3600 s when 0
	DefaultResult        string        // ABANDON when empty
	NotificationMetadata string
}

// Launching and Terminating are the lifecycle transitions of a HookSpec.
const (
	Launching   = transitionLaunching
	Terminating = transitionTerminating
)

// admin is the application account's root, for the Go helpers: they go
// through the same validation as the API.
func (c *Cloud) admin(f wire.Form) *call {
	p, _ := parsePrincipal("arn:aws:iam::" + AppAccount + ":root")
	return &call{caller: p, form: f, requestID: newUUID()}
}

// CreateGroup creates an Auto Scaling group in the application account,
// as CreateAutoScalingGroup with a launch template would; its instances
// launch at once.
func (c *Cloud) CreateGroup(spec GroupSpec) error {
	f := wire.Form{
		"AutoScalingGroupName": {spec.Name}, "MinSize": {strconv.Itoa(spec.Min)}, "MaxSize": {strconv.Itoa(spec.Max)},
		"DesiredCapacity": {strconv.Itoa(spec.Desired)}, "LaunchTemplate.LaunchTemplateName": {spec.Name},
	}
	azs := spec.AvailabilityZoneCount
	if azs <= 0 || azs > 3 {
		azs = 3
	}
	for i := range azs {
		f[fmt.Sprintf("AvailabilityZones.member.%d", i+1)] = []string{c.region + string(rune('a'+i))}
	}
	keys := make([]string, 0, len(spec.Tags))
	for k := range spec.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		p := fmt.Sprintf("Tags.member.%d.", i+1)
		f[p+"Key"], f[p+"Value"], f[p+"PropagateAtLaunch"] = []string{k}, []string{spec.Tags[k]}, []string{"true"}
	}
	for i, p := range spec.TerminationPolicies {
		f[fmt.Sprintf("TerminationPolicies.member.%d", i+1)] = []string{p}
	}
	for i, h := range spec.Hooks {
		p := fmt.Sprintf("LifecycleHookSpecificationList.member.%d.", i+1)
		f[p+"LifecycleHookName"], f[p+"LifecycleTransition"] = []string{h.Name}, []string{h.Transition}
		if h.HeartbeatTimeout > 0 {
			f[p+"HeartbeatTimeout"] = []string{strconv.Itoa(int(h.HeartbeatTimeout / time.Second))}
		}
		if h.DefaultResult != "" {
			f[p+"DefaultResult"] = []string{h.DefaultResult}
		}
		if h.NotificationMetadata != "" {
			f[p+"NotificationMetadata"] = []string{h.NotificationMetadata}
		}
	}
	if _, apiErr := c.createAutoScalingGroup(c.admin(f)); apiErr != nil {
		return apiErr
	}
	return nil
}

// SetDesiredCapacity changes an application-account group's desired
// capacity, as the API call does.
func (c *Cloud) SetDesiredCapacity(groupName string, desired int) error {
	f := wire.Form{"AutoScalingGroupName": {groupName}, "DesiredCapacity": {strconv.Itoa(desired)}}
	if _, apiErr := c.setDesiredCapacity(c.admin(f)); apiErr != nil {
		return apiErr
	}
	return nil
}

// GroupInstance is an instance of a group as a demo reports it.
type GroupInstance struct {
	ID, LifecycleState, AvailabilityZone, PrivateIP, State string
}

// GroupInstances lists an application-account group's instances (nil for
// an unknown group).
func (c *Cloud) GroupInstances(groupName string) []GroupInstance {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[groupKey(AppAccount, groupName)]
	if g == nil {
		return nil
	}
	out := []GroupInstance{}
	for _, m := range g.members {
		out = append(out, GroupInstance{m.inst.id, m.state, m.inst.az, m.inst.privateIP, m.inst.state})
	}
	return out
}
