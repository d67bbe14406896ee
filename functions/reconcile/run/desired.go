package run

import (
	"cmp"
	"context"
	"log/slog"
	"regexp"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/reconcile"
)

// Batch sizes of the reads, each the API's own limit or under it.
const (
	// groupsPerCall: DescribeAutoScalingGroups names up to 100 groups and
	// returns up to 100 a page.
	groupsPerCall = 100
	// instancesPerCall: DescribeInstances by instance id, in batches of
	// 1000 (its MaxResults; no page of ids is ever longer).
	instancesPerCall = 1000
	// asInstancesPerCall: DescribeAutoScalingInstances takes up to 50 ids.
	asInstancesPerCall = 50
	// groupTag is the tag Auto Scaling puts on its instances.
	groupTag = "aws:autoscaling:groupName"
)

// Lifecycle transitions as DescribeLifecycleHooks reports them.
const (
	hookLaunching   = "autoscaling:EC2_INSTANCE_LAUNCHING"
	hookTerminating = "autoscaling:EC2_INSTANCE_TERMINATING"
)

// group is a configured ASG as the run read it.
type group struct {
	name, arn string
	// launchHook and terminateHook are asgdns's hooks on the group (names in
	// Hooks, of that transition); "" when it has none.
	launchHook, terminateHook string
	// metadata is the launch hook's NotificationMetadata: the per-ASG
	// overrides a launch applies, and so a repair.
	metadata string
	// settings are the defaults with metadata applied; ok is false when
	// the metadata is invalid (each instance then reports it).
	settings config.Settings
	ok       bool
	members  []member
}

// member is an instance as its group lists it.
type member struct{ id, lifecycleState, az string }

// instance is what EC2 says of an instance; exists is false when EC2 does
// not return it.
type instance struct {
	exists                  bool
	state, ip, az, groupTag string
	tags                    map[string]string
}

// readDesired reads the configured ASGs (or the one asked for) and derives
// each instance, adding the result to in. A failed read fails the run.
func (r *runner) readDesired(ctx context.Context, in *reconcile.Input) error {
	groups, err := r.readGroups(ctx, r.report.ASGs)
	if err != nil {
		return err
	}
	r.groups = groups
	var ids []string
	for _, name := range sortedKeys(groups) {
		for _, m := range groups[name].members {
			ids = append(ids, m.id)
		}
	}
	insts, err := r.describeInstances(ctx, ids)
	if err != nil {
		return err
	}
	for _, name := range sortedKeys(groups) {
		g := groups[name]
		for _, m := range g.members {
			r.derive(ctx, in, g, m.id, m.lifecycleState, m.az, insts[m.id])
		}
	}
	return nil
}

// derive classifies one instance of a configured group, into in.
func (r *runner) derive(ctx context.Context, in *reconcile.Input, g *group, id, lifecycleState, az string, inst instance) {
	if !inst.exists {
		f := reconcile.Locate(false, "", g.name, lifecycleState)
		in.Add(reconcile.Entry{InstanceID: id, Fact: &f})
		return
	}
	if inst.az != "" {
		az = inst.az
	}
	e, err := reconcile.Derive(r.h.Defaults, reconcile.Observed{
		ASG: g.name, InstanceID: id, AZ: az, Tags: inst.tags, PrivateIP: inst.ip, State: inst.state,
		LifecycleState: lifecycleState,
		// Pending:Wait is asgdns's launch hook holding the instance only
		// if the group has that hook: Auto Scaling does not say which of a
		// group's launch hooks an instance still waits for. A group whose
		// only launch hook is another team's holds its instances for that
		// team, and asgdns's launch never ran for them.
		LaunchHookOpen: lifecycleState == reconcile.StatePendingWait && g.launchHook != "",
		Metadata:       g.metadata,
	})
	if err != nil {
		r.fail(ctx, errText("instance "+id+" of ASG "+g.name+" (its record is kept as it is, none is made)", err),
			slog.String("instanceId", id), slog.String("asg", g.name))
	}
	in.Add(e)
}

// readGroups reads the named ASGs and asgdns's hooks on them. A name Auto
// Scaling does not return is reported: its instances, if any, are then
// outside the configured ASGs (the removal cap guards against a typo).
func (r *runner) readGroups(ctx context.Context, names []string) (map[string]*group, error) {
	groups := map[string]*group{}
	for start := 0; start < len(names); start += groupsPerCall {
		in := &autoscaling.DescribeAutoScalingGroupsInput{
			AutoScalingGroupNames: names[start:min(start+groupsPerCall, len(names))], MaxRecords: aws.Int32(groupsPerCall)}
		for {
			out, err := r.h.AutoScaling.DescribeAutoScalingGroups(ctx, in)
			if err != nil {
				return nil, workflow.FromAWS("autoscaling:DescribeAutoScalingGroups", err,
					"allow autoscaling:DescribeAutoScalingGroups to the reconciler's role")
			}
			for _, a := range out.AutoScalingGroups {
				name := aws.ToString(a.AutoScalingGroupName)
				if !slices.Contains(names, name) {
					continue
				}
				g := &group{name: name, arn: aws.ToString(a.AutoScalingGroupARN)}
				for _, i := range a.Instances {
					g.members = append(g.members, member{id: aws.ToString(i.InstanceId),
						lifecycleState: string(i.LifecycleState), az: aws.ToString(i.AvailabilityZone)})
				}
				groups[name] = g
			}
			if aws.ToString(out.NextToken) == "" {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	for _, name := range names {
		g := groups[name]
		if g == nil {
			r.fail(ctx, "ASG "+name+" is configured ("+config.EnvASGNames+") but Auto Scaling does not return it: "+
				"remove it from the stack's ASG names if it is gone; its instances' records count as outside the configured ASGs",
				slog.String("asg", name))
			continue
		}
		if err := r.readHooks(ctx, g); err != nil {
			return nil, err
		}
	}
	return groups, nil
}

// readHooks finds asgdns's hooks on a group: the hooks named in Hooks, by
// the transition each is for.
func (r *runner) readHooks(ctx context.Context, g *group) error {
	out, err := r.h.AutoScaling.DescribeLifecycleHooks(ctx, &autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String(g.name)})
	if err != nil {
		return workflow.FromAWS("autoscaling:DescribeLifecycleHooks "+g.name, err,
			"allow autoscaling:DescribeLifecycleHooks to the reconciler's role")
	}
	for _, hk := range out.LifecycleHooks {
		name := aws.ToString(hk.LifecycleHookName)
		if !r.h.Hooks.Owns(name) {
			continue // another team's hook
		}
		switch aws.ToString(hk.LifecycleTransition) {
		case hookLaunching:
			if g.launchHook == "" {
				g.launchHook, g.metadata = name, aws.ToString(hk.NotificationMetadata)
			}
		case hookTerminating:
			if g.terminateHook == "" {
				g.terminateHook = name
			}
		}
	}
	g.settings, err = r.h.Defaults.WithMetadata(g.name, g.metadata)
	g.ok = err == nil
	if err != nil {
		// Each of its desired instances reports it too (Derive): this says
		// why its zone may not be listed.
		r.log.WarnContext(ctx, "invalid NotificationMetadata", slog.String("asg", g.name), slog.Any("error", err))
	}
	return nil
}

// notFoundIDs finds the instance ids in EC2's InvalidInstanceID.NotFound
// message ("The instance IDs 'i-1, i-2' do not exist").
var notFoundIDs = regexp.MustCompile(`i-[0-9a-f]{8,17}`)

// describeInstances reads instances by id, in batches. EC2 fails a whole
// call for one id it does not know (InvalidInstanceID.NotFound, naming
// the ids): those are marked not existing and the rest asked again.
func (r *runner) describeInstances(ctx context.Context, ids []string) (map[string]instance, error) {
	out := make(map[string]instance, len(ids))
	for start := 0; start < len(ids); start += instancesPerCall {
		batch := slices.Clone(ids[start:min(start+instancesPerCall, len(ids))])
		for len(batch) > 0 {
			err := r.describeBatch(ctx, batch, out)
			if err == nil {
				break
			}
			if workflow.ErrorCode(err) != "InvalidInstanceID.NotFound" {
				return nil, workflow.FromAWS("ec2:DescribeInstances", err, "allow ec2:DescribeInstances to the reconciler's role")
			}
			missing := notFoundIDs.FindAllString(err.Error(), -1)
			rest := slices.DeleteFunc(slices.Clone(batch), func(id string) bool { return slices.Contains(missing, id) })
			if len(rest) == len(batch) {
				// The message named none of them: ask one at a time.
				if len(batch) == 1 {
					out[batch[0]] = instance{}
					break
				}
				for _, id := range batch {
					if err := r.describeBatch(ctx, []string{id}, out); err != nil && workflow.ErrorCode(err) != "InvalidInstanceID.NotFound" {
						return nil, workflow.FromAWS("ec2:DescribeInstances "+id, err, "allow ec2:DescribeInstances to the reconciler's role")
					}
				}
				break
			}
			for _, id := range batch {
				if !slices.Contains(rest, id) {
					out[id] = instance{}
				}
			}
			batch = rest
		}
	}
	for _, id := range ids {
		if _, ok := out[id]; !ok {
			out[id] = instance{} // not returned: EC2 does not know it
		}
	}
	return out, nil
}

// describeBatch reads one batch of ids into out, every page.
func (r *runner) describeBatch(ctx context.Context, ids []string, out map[string]instance) error {
	in := &ec2.DescribeInstancesInput{InstanceIds: ids}
	for {
		res, err := r.h.EC2.DescribeInstances(ctx, in)
		if err != nil {
			return err
		}
		for _, rsv := range res.Reservations {
			for _, i := range rsv.Instances {
				out[aws.ToString(i.InstanceId)] = fromEC2(i)
			}
		}
		if aws.ToString(res.NextToken) == "" {
			return nil
		}
		in.NextToken = res.NextToken
	}
}

func fromEC2(i types.Instance) instance {
	inst := instance{exists: true, ip: aws.ToString(i.PrivateIpAddress), tags: make(map[string]string, len(i.Tags))}
	if i.State != nil {
		inst.state = string(i.State.Name)
	}
	if i.Placement != nil {
		inst.az = aws.ToString(i.Placement.AvailabilityZone)
	}
	for _, t := range i.Tags {
		inst.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	inst.groupTag = inst.tags[groupTag]
	return inst
}

// asInstance is where Auto Scaling lists an instance.
type asInstance struct{ asg, lifecycleState, az string }

// describeASInstances reads where Auto Scaling lists each instance (absent
// when no group does).
func (r *runner) describeASInstances(ctx context.Context, ids []string) (map[string]asInstance, error) {
	out := map[string]asInstance{}
	for start := 0; start < len(ids); start += asInstancesPerCall {
		in := &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: ids[start:min(start+asInstancesPerCall, len(ids))],
			MaxRecords: aws.Int32(asInstancesPerCall)}
		for {
			res, err := r.h.AutoScaling.DescribeAutoScalingInstances(ctx, in)
			if err != nil {
				return nil, workflow.FromAWS("autoscaling:DescribeAutoScalingInstances", err,
					"allow autoscaling:DescribeAutoScalingInstances to the reconciler's role")
			}
			for _, i := range res.AutoScalingInstances {
				out[aws.ToString(i.InstanceId)] = asInstance{asg: aws.ToString(i.AutoScalingGroupName),
					lifecycleState: aws.ToString(i.LifecycleState), az: aws.ToString(i.AvailabilityZone)}
			}
			if aws.ToString(res.NextToken) == "" {
				break
			}
			in.NextToken = res.NextToken
		}
	}
	return out, nil
}

// locateOwners finds out what became of each instance that owns a record
// in the listings but is neither desired nor already a fact: an instance of
// a configured ASG the group listing did not show (a warm pool's, one that
// launched since) is derived like the others; any other is located. A run
// limited to one ASG keeps the records of instances it cannot place in
// that ASG: they are another run's to decide.
func (r *runner) locateOwners(ctx context.Context, in *reconcile.Input) error {
	known := map[string]bool{}
	for _, d := range in.Desired {
		known[d.InstanceID] = true
	}
	for id := range in.Facts {
		known[id] = true
	}
	var ids []string
	for _, z := range in.Zones {
		for _, o := range z.Owned {
			if !known[o.OwnerInstance] {
				known[o.OwnerInstance] = true
				ids = append(ids, o.OwnerInstance)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	insts, err := r.describeInstances(ctx, ids)
	if err != nil {
		return err
	}
	where, err := r.describeASInstances(ctx, ids)
	if err != nil {
		return err
	}
	r.ownerGroups = map[string]string{}
	for _, id := range ids {
		inst, as := insts[id], where[id]
		if g := r.groups[as.asg]; g != nil {
			r.derive(ctx, in, g, id, as.lifecycleState, as.az, inst)
			continue
		}
		f := reconcile.Locate(inst.exists, inst.state, as.asg, as.lifecycleState)
		// The group the instance was in, for the repair's event (Auto
		// Scaling forgets a terminated instance; EC2 keeps its tags a while).
		r.ownerGroups[id] = cmp.Or(as.asg, inst.groupTag)
		if scope := r.in.ASG; scope != "" && r.ownerGroups[id] != scope {
			f = reconcile.Fact{Status: reconcile.StatusInGroup, ASG: f.ASG, LifecycleState: f.LifecycleState,
				Reason: string(f.Status) + " (" + f.Reason + "), but not proven in ASG " + scope + ", which this run is limited to: kept"}
		} else if f.ASG != "" && r.h.Config.Configured(f.ASG) && r.in.ASG == "" {
			// Listed in a configured group that the group read did not
			// return (created, or named differently, since): keep it.
			f = reconcile.Fact{Status: reconcile.StatusInGroup, ASG: f.ASG, LifecycleState: f.LifecycleState,
				Reason: "in configured ASG " + f.ASG + ", which the group read did not return: kept"}
		}
		in.Add(reconcile.Entry{InstanceID: id, Fact: &f})
	}
	return nil
}
