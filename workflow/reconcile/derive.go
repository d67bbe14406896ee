package reconcile

import (
	"slices"
	"strings"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

// Auto Scaling lifecycle states Derive tells apart.
const (
	StateInService   = "InService"
	StatePendingWait = "Pending:Wait"
	// warmedPrefix starts every warm pool state (Warmed:Stopped,
	// Warmed:Running, Warmed:Pending:Wait, …).
	warmedPrefix = "Warmed:"
)

// goneStates are the EC2 instance states in which there is nothing left
// to register: DescribeInstance's own list (describe.gone), which refuses
// to register an instance in them.
var goneStates = []string{"shutting-down", "terminated"}

// Observed is what the caller read about one instance of a configured ASG.
type Observed struct {
	ASG        string
	InstanceID string
	AZ         string
	Tags       map[string]string
	PrivateIP  string
	// State is the EC2 instance state name (pending, running,
	// shutting-down, …); empty when not read.
	State string
	// LifecycleState is the instance's state in its group, as Auto Scaling
	// reports it (InService, Pending:Wait, Warmed:Stopped, Standby, …).
	LifecycleState string
	// LaunchHookOpen is true when an action of asgdns's launch hook holds
	// the instance (it is in Pending:Wait for asgdns, not only for another
	// team's hook).
	LaunchHookOpen bool
	// Metadata is the NotificationMetadata of asgdns's launch hook on the
	// ASG: the per-ASG overrides the launch path applies.
	Metadata string
}

// Entry is what Derive made of one instance: Desired when it should have
// a record, otherwise the Fact that keeps it from being desired.
type Entry struct {
	InstanceID string   `json:"instanceId"`
	Desired    *Desired `json:"desired,omitempty"`
	Fact       *Fact    `json:"fact,omitempty"`
}

// Derive classifies one instance of a configured ASG the way the launch
// path treats it, and derives its record with the code DescribeInstance
// uses (defaults.WithMetadata, then Settings.Record), so the name, zone
// and address are exactly the ones a launch would register:
//   - InService, and Pending:Wait while asgdns's launch hook is open:
//     desired.
//   - Terminating*, Warmed:Terminating*, Detaching, Detached
//     (workflow.LeavingGroup): leaving; shutting-down or terminated in EC2:
//     gone.
//   - In the warm pool (Warmed:*): in-group. A launch into the pool makes
//     no record, and a return to the pool keeps the one it had (the
//     terminate event with Destination WarmPool): so neither is made nor
//     removed until the instance enters the group.
//   - Anything else (Pending:Wait after asgdns's hook completed, Pending,
//     Pending:Proceed, Standby, …): in-group, its record kept as it is.
//
// A desired instance whose record cannot be derived (invalid metadata, a
// template tag it lacks, no private IPv4) returns the error, and an Entry
// with an in-group Fact saying so, which keeps whatever record it has:
// Input.Add it and report the error.
func Derive(defaults config.Settings, o Observed) (Entry, error) {
	if !workflow.ValidInstanceID(o.InstanceID) {
		return Entry{}, invalid("instanceId", o.InstanceID, "is not an EC2 instance id",
			"pass the instance id as Auto Scaling lists it")
	}
	if o.ASG == "" || len(o.ASG) > 255 {
		return Entry{}, invalid("asg of "+o.InstanceID, o.ASG, "must be 1-255 characters",
			"pass the ASG name as Auto Scaling lists it")
	}
	fact := func(s Status, reason string) (Entry, error) {
		return Entry{InstanceID: o.InstanceID,
			Fact: &Fact{Status: s, ASG: o.ASG, LifecycleState: o.LifecycleState, Reason: reason}}, nil
	}
	ls := o.LifecycleState
	switch {
	case slices.Contains(goneStates, o.State):
		return fact(StatusGone, "the instance is "+o.State)
	case ls == "":
		return Entry{}, invalid("lifecycleState of "+o.InstanceID, "", "is empty",
			"pass the instance's lifecycle state in its group (InService, Pending:Wait, …)")
	case workflow.LeavingGroup(ls, true):
		return fact(StatusLeaving, "the instance is leaving ASG "+o.ASG+" ("+ls+")")
	case strings.HasPrefix(ls, warmedPrefix):
		return fact(StatusInGroup, "in the warm pool of ASG "+o.ASG+" ("+ls+
			"): no record is made until it enters the group, and one it kept on returning to the pool stays")
	case ls == StatePendingWait && !o.LaunchHookOpen:
		return fact(StatusInGroup, "launching in ASG "+o.ASG+" (Pending:Wait) with asgdns's launch hook no longer open: "+
			"its launch already ran, so its record is kept as it is, and one is made once it is InService")
	case ls != StateInService && ls != StatePendingWait:
		return fact(StatusInGroup, "in ASG "+o.ASG+" as "+ls+": a record it has is kept, one is made once it is InService")
	}
	settings, err := defaults.WithMetadata(o.ASG, o.Metadata)
	if err != nil {
		e, _ := fact(StatusInGroup, "its record cannot be derived: "+err.Error())
		return e, err
	}
	if !workflow.ValidIPv4(o.PrivateIP) {
		err := invalid("privateIp of "+o.InstanceID, o.PrivateIP, "is not an IPv4 address: asgdns registers A records",
			"nothing to do for an instance without a private IPv4 address; otherwise pass the address EC2 reports")
		e, _ := fact(StatusInGroup, "its record cannot be derived: "+err.Error())
		return e, err
	}
	record, err := settings.Record(config.Instance{ID: o.InstanceID, ASG: o.ASG, AZ: o.AZ, Tags: o.Tags})
	if err != nil {
		e, _ := fact(StatusInGroup, "its record cannot be derived: "+err.Error())
		return e, err
	}
	return Entry{InstanceID: o.InstanceID, Desired: &Desired{
		InstanceID: o.InstanceID, ASG: o.ASG, PrivateIP: o.PrivateIP, LifecycleState: ls, Record: record}}, nil
}

// Locate is the fact about an instance that owns a record but is not one
// of the configured ASGs' instances (those go through Derive): exists is
// false when EC2 does not return it, state is its EC2 state, asg the group
// Auto Scaling lists it in ("" for none) and lifecycleState its state there.
func Locate(exists bool, state, asg, lifecycleState string) Fact {
	f := Fact{ASG: asg, LifecycleState: lifecycleState}
	switch {
	case !exists:
		f.Status, f.Reason = StatusGone, "EC2 does not know the instance"
	case slices.Contains(goneStates, state):
		f.Status, f.Reason = StatusGone, "the instance is "+state
	case asg == "":
		f.Status, f.Reason = StatusOutside, "the instance is in no Auto Scaling group"
	case workflow.LeavingGroup(lifecycleState, true):
		f.Status, f.Reason = StatusLeaving, "the instance is leaving ASG "+asg+" ("+lifecycleState+")"
	default:
		f.Status, f.Reason = StatusOutside, "the instance is in ASG "+asg+", which is not configured for asgdns"
	}
	return f
}
