package check

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/asgdns/asgdns/workflow/config"
)

// The lifecycle transitions of asgdns's two hooks.
const (
	transitionLaunching   = "autoscaling:EC2_INSTANCE_LAUNCHING"
	transitionTerminating = "autoscaling:EC2_INSTANCE_TERMINATING"
)

// groupsPerCall is how many names one DescribeAutoScalingGroups call asks
// for (its MaxRecords is 100).
const groupsPerCall = 50

// describeGroups reads the groups to check, by name; a group that does not
// exist is absent from the map.
func (c *checker) describeGroups(ctx context.Context) (map[string]*types.AutoScalingGroup, error) {
	groups := map[string]*types.AutoScalingGroup{}
	for chunk := range slices.Chunk(c.d.asgs, groupsPerCall) {
		in := &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: chunk, MaxRecords: aws.Int32(100)}
		for {
			out, err := c.app.AutoScaling.DescribeAutoScalingGroups(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("autoscaling:DescribeAutoScalingGroups: %w", err)
			}
			for i := range out.AutoScalingGroups {
				g := &out.AutoScalingGroups[i]
				groups[aws.ToString(g.AutoScalingGroupName)] = g
			}
			if aws.ToString(out.NextToken) == "" {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	return groups, nil
}

// checkGroup runs the checks of one group: it exists, asgdns's hooks are
// there and hold long enough, their metadata is valid, and every instance
// it launches gets a valid hostname. What the group's settings send the
// command to (DCs, document) is added to uses for the shared checks.
func (c *checker) checkGroup(ctx context.Context, name string, g *types.AutoScalingGroup,
	defaults config.Settings, defaultsErr error, required time.Duration, requiredErr error, uses *targets) {
	if g == nil {
		fix := "create it, or remove it from the " + paramAsgNames + " parameter"
		c.add(Result{Status: StatusProblem, Check: "asg", ASG: name, Field: "stack parameter " + paramAsgNames,
			Message: problem("ASG", name, fmt.Sprintf("does not exist in account %s, region %s", c.d.account, c.d.region), fix), Fix: fix})
		return
	}
	out, err := c.app.AutoScaling.DescribeLifecycleHooks(ctx, &autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String(name)})
	if err != nil {
		c.add(Result{Status: StatusError, Check: "hook", ASG: name, Field: "autoscaling:DescribeLifecycleHooks",
			Message: err.Error(), Fix: "allow autoscaling:DescribeLifecycleHooks to the principal running asgdns check"})
		return
	}
	launch := c.checkHook(name, out.LifecycleHooks, c.d.launchHook, paramLaunchHookName, transitionLaunching, required, requiredErr)
	terminate := c.checkHook(name, out.LifecycleHooks, c.d.terminateHook, paramTerminateHookName, transitionTerminating, required, requiredErr)
	if defaultsErr != nil {
		return // reported once for the deployment: every group fails the same way
	}

	// The settings each hook's events resolve to, as DescribeInstance
	// resolves them: the stack defaults with the hook's metadata on top.
	var launchSettings, terminateSettings *config.Settings
	for _, h := range []struct {
		hook     *types.LifecycleHook
		settings **config.Settings
	}{{launch, &launchSettings}, {terminate, &terminateSettings}} {
		if h.hook == nil {
			continue
		}
		s, ok := c.checkMetadata(name, h.hook, defaults)
		if ok {
			*h.settings = &s
			uses.add(name, s)
		}
	}
	switch {
	case launch == nil:
		// No launch hook, no launch events: the defaults are what a
		// launch would get once the hook is added.
		c.checkHostname(name, g, defaults, "stack parameter "+paramHostnameTemplate)
	case launchSettings != nil:
		source := "stack parameter " + paramHostnameTemplate
		if launchSettings.HostnameTemplate != defaults.HostnameTemplate {
			source = "lifecycle hook " + c.d.launchHook + " NotificationMetadata.hostnameTemplate"
		}
		c.checkHostname(name, g, *launchSettings, source)
	}
	if launchSettings != nil && terminateSettings != nil {
		c.checkSameRecord(name, g, *launchSettings, *terminateSettings)
	}
}

// checkHook checks one of asgdns's hooks on a group and returns it (nil
// when it is missing or not usable).
func (c *checker) checkHook(asg string, hooks []types.LifecycleHook, name, param, transition string,
	required time.Duration, requiredErr error) *types.LifecycleHook {
	field := "lifecycle hook " + name
	i := slices.IndexFunc(hooks, func(h types.LifecycleHook) bool { return aws.ToString(h.LifecycleHookName) == name })
	if i < 0 {
		var fix string
		switch {
		case c.d.createHooks:
			fix = fmt.Sprintf("the stack creates it (%s=true): deploy the stack after creating the group, or see why the stack did not", paramCreateLifecycleHooks)
		default:
			fix = fmt.Sprintf("add a hook %s (LifecycleTransition %s) to the group, as the README's LifecycleHookSpecificationList shows", name, transition)
		}
		// Another hook for the same transition may be asgdns's under
		// another name: asgdns never touches a hook it does not own.
		for _, h := range hooks {
			if aws.ToString(h.LifecycleTransition) == transition {
				fix += fmt.Sprintf("; the group's hook %q is not asgdns's: asgdns handles only hooks named by %s (%s)",
					aws.ToString(h.LifecycleHookName), param, name)
			}
		}
		c.add(Result{Status: StatusProblem, Check: "hook", ASG: asg, Field: field,
			Message: problem("lifecycle hook", name, "is missing: "+withoutHook(transition), fix),
			Fix:     fix})
		return nil
	}
	h := &hooks[i]
	if got := aws.ToString(h.LifecycleTransition); got != transition {
		fix := fmt.Sprintf("recreate %s with LifecycleTransition %s, or correct %s", name, transition, param)
		c.add(Result{Status: StatusProblem, Check: "hook", ASG: asg, Field: field + " LifecycleTransition",
			Message: problem("lifecycle hook "+name+" LifecycleTransition", got, "is not "+transition, fix), Fix: fix})
		return nil
	}
	hb := int(aws.ToInt32(h.HeartbeatTimeout))
	switch need := seconds(required); {
	case requiredErr != nil:
		c.add(Result{Status: StatusError, Check: "heartbeat", ASG: asg, Field: field + " HeartbeatTimeout",
			Message: "the state machine's heartbeat need: " + requiredErr.Error()})
	case hb < need:
		fix := fmt.Sprintf("set the hook's HeartbeatTimeout to at least %d (%s on the stack's own hooks)", need, paramHookHeartbeatTimeout)
		c.add(Result{Status: StatusProblem, Check: "heartbeat", ASG: asg, Field: field + " HeartbeatTimeout",
			Message: problem("lifecycle hook "+name+" HeartbeatTimeout", strconv.Itoa(hb),
				fmt.Sprintf("is below %d s, the longest the state machine can go without a heartbeat: the hook would give up on an instance the workflow still holds", need), fix),
			Fix: fix})
	default:
		c.add(Result{Status: StatusOK, Check: "hook", ASG: asg, Field: field,
			Message: fmt.Sprintf("%s, HeartbeatTimeout %d s (at least %d s), DefaultResult %s", transition, hb, need, aws.ToString(h.DefaultResult))})
	}
	return h
}

// withoutHook says what happens to a group without one of asgdns's hooks.
func withoutHook(transition string) string {
	if transition == transitionLaunching {
		return "no launch event reaches asgdns, so instances go InService without a record"
	}
	return "no termination event reaches asgdns, so terminated instances leave their records behind"
}

// checkMetadata resolves a hook's NotificationMetadata on the defaults, as
// DescribeInstance does for that hook's events.
func (c *checker) checkMetadata(asg string, h *types.LifecycleHook, defaults config.Settings) (config.Settings, bool) {
	name := aws.ToString(h.LifecycleHookName)
	field := "lifecycle hook " + name + " NotificationMetadata"
	meta := aws.ToString(h.NotificationMetadata)
	s, err := defaults.WithMetadata(asg, meta)
	if err != nil {
		errName, p := routed(err)
		c.add(Result{Status: StatusProblem, Check: "metadata", ASG: asg, Field: field, Error: errName, Message: err.Error(), Fix: p.Fix})
		return config.Settings{}, false
	}
	msg := "none: the stack's defaults"
	if strings.TrimSpace(meta) != "" {
		msg = "valid: " + meta
	}
	c.add(Result{Status: StatusOK, Check: "metadata", ASG: asg, Field: field, Message: msg})
	return s, true
}

// checkHostname derives the record of an instance of the group in each of
// its AZs, with the tags it propagates, exactly as DescribeInstance does.
func (c *checker) checkHostname(asg string, g *types.AutoScalingGroup, s config.Settings, source string) {
	tags, unpropagated := map[string]string{}, map[string]bool{}
	for _, t := range g.Tags {
		if aws.ToBool(t.PropagateAtLaunch) {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		} else {
			unpropagated[aws.ToString(t.Key)] = true
		}
	}
	azs := g.AvailabilityZones
	if len(azs) == 0 {
		azs = []string{""}
	}
	var example string
	seen := map[string]bool{}
	for _, az := range azs {
		rec, err := s.Record(config.Instance{ID: SampleInstanceID, ASG: asg, AZ: az, Tags: tags})
		if err == nil {
			if example == "" {
				example = rec.FQDN
			}
			continue
		}
		if seen[err.Error()] {
			continue // the same in every AZ: say it once
		}
		seen[err.Error()] = true
		errName, p := routed(err)
		r := Result{Status: StatusProblem, Check: "hostname", ASG: asg, Field: "hostname (" + source + ")",
			Error: errName, Message: err.Error(), Fix: p.Fix}
		if strings.HasPrefix(p.Field, "tag ") {
			// The template uses a tag the instance would not have: the
			// first one missing is the one Render stopped at.
			for _, key := range templateTags(s.HostnameTemplate) {
				if _, ok := tags[key]; ok {
					continue
				}
				r.Field = "tag " + key
				if unpropagated[key] {
					r.Fix = fmt.Sprintf("the group has tag %s but does not propagate it: set PropagateAtLaunch true on it", key)
				} else {
					r.Fix = fmt.Sprintf("tag the group with %s, PropagateAtLaunch true (tags a launch template adds are not seen here), or change the hostname template", key)
				}
				r.Message += " (" + r.Fix + ")"
				break
			}
		}
		if az != "" && strings.Contains(s.HostnameTemplate, "{az}") {
			r.Field += " in " + az
		}
		c.add(r)
	}
	if example != "" && len(seen) == 0 {
		c.add(Result{Status: StatusOK, Check: "hostname", ASG: asg, Field: "hostname (" + source + ")",
			Message: fmt.Sprintf("%s for an instance %s (template %s)", example, SampleInstanceID, strconv.Quote(s.HostnameTemplate))})
	}
}

// tagPlaceholder finds the {tag:KEY} placeholders of a template that
// config.ParseTemplate has accepted.
var tagPlaceholder = regexp.MustCompile(`\{tag:([^{}]+)\}`)

func templateTags(template string) []string {
	var keys []string
	for _, m := range tagPlaceholder.FindAllStringSubmatch(template, -1) {
		keys = append(keys, m[1])
	}
	return keys
}

// checkSameRecord: a termination derives its record from the terminate
// hook's metadata, a launch from the launch hook's. If they differ, the
// termination removes (or asks for) another name than the launch wrote.
func (c *checker) checkSameRecord(asg string, g *types.AutoScalingGroup, launch, terminate config.Settings) {
	inst := config.Instance{ID: SampleInstanceID, ASG: asg, Tags: map[string]string{}}
	if len(g.AvailabilityZones) > 0 {
		inst.AZ = g.AvailabilityZones[0]
	}
	for _, t := range g.Tags {
		if aws.ToBool(t.PropagateAtLaunch) {
			inst.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	l, lerr := launch.Record(inst)
	t, terr := terminate.Record(inst)
	field := "lifecycle hook " + c.d.terminateHook + " NotificationMetadata"
	fix := "give " + c.d.launchHook + " and " + c.d.terminateHook + " the same NotificationMetadata"
	switch {
	case lerr == nil && terr != nil:
		errName, _ := routed(terr)
		c.add(Result{Status: StatusProblem, Check: "metadata", ASG: asg, Field: field, Error: errName,
			Message: terr.Error() + " (only for terminations: " + fix + ")", Fix: fix})
	case lerr == nil && (l.FQDN != t.FQDN || launch.DocumentName != terminate.DocumentName):
		c.add(Result{Status: StatusProblem, Check: "metadata", ASG: asg, Field: field,
			Message: problem(field, "", fmt.Sprintf("resolves an instance's record to %s (document %s), but %s resolves it to %s (document %s): terminations would not remove what launches wrote",
				t.FQDN, terminate.DocumentName, c.d.launchHook, l.FQDN, launch.DocumentName), fix),
			Fix: fix})
	}
}

// targets collects where commands go: each DC and document with the
// groups ("" for the stack's defaults) that send to it, and the platform
// they expect it to run.
type targets struct {
	dcs  []*target
	docs []*target
}

type target struct {
	id        string
	asgs      []string
	platforms []string
}

func (t *targets) add(asg string, s config.Settings) {
	for _, id := range s.DCInstanceIDs {
		t.dcs = addUse(t.dcs, id, asg, s.DCPlatform)
	}
	t.docs = addUse(t.docs, s.DocumentName, asg, s.DCPlatform)
}

func addUse(list []*target, id, asg, platform string) []*target {
	i := slices.IndexFunc(list, func(t *target) bool { return t.id == id })
	if i < 0 {
		list = append(list, &target{id: id})
		i = len(list) - 1
	}
	t := list[i]
	if !slices.Contains(t.asgs, asg) {
		t.asgs = append(t.asgs, asg)
	}
	if !slices.Contains(t.platforms, platform) {
		t.platforms = append(t.platforms, platform)
	}
	return list
}

// users names who sends to a target, for messages: the first few.
func (t *target) users() string {
	const shown = 3
	var names []string
	for _, a := range t.asgs[:min(len(t.asgs), shown)] {
		if a == "" {
			names = append(names, "the stack's defaults")
		} else {
			names = append(names, "ASG "+strconv.Quote(a))
		}
	}
	if more := len(t.asgs) - shown; more > 0 {
		names = append(names, fmt.Sprintf("%d more ASG(s)", more))
	}
	return strings.Join(names, ", ")
}

// usesDefaults reports whether the stack's defaults send to the target;
// otherwise only some groups' metadata does.
func (t *target) usesDefaults() bool { return slices.Contains(t.asgs, "") }
