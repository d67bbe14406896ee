// Package reconcile decides what a reconciliation run repairs (DESIGN §9):
// given the DESIRED state (the configured ASGs' instances that should have
// a record, each with the record the launch path derives for it) and the
// ACTUAL state (the records this account owns, per zone, as the DNS
// document lists them), it returns the PLAN: what to register, what to
// remove, what it leaves alone and why, and the drift by kind.
//
// It is pure: no AWS call, no I/O. The reconciler Lambda and the operator
// CLI read AWS and the DNS listing, call Derive for each instance and Decide
// once, print or return the Plan, and (in upsert or sync mode) start one
// normal per-instance execution for each action with Execute set, so every
// repair is an execution operators can see.
//
// Safety, in one place:
//   - Only records whose marker names this account are ever in a plan;
//     another owner's are only counted.
//   - A record is removed only in sync mode, only when its instance is proven
//     gone, outside the configured ASGs or leaving its group, only from a
//     zone whose listing was complete, and only while the run removes no
//     more than the cap (MaxRemovals); over the cap, nothing is removed.
//   - An instance's old name is removed only once its new name is in place,
//     so no repair leaves an instance without a name.
//   - A name held by another instance of this account is never taken over:
//     the register is withheld, with who holds it and why.
package reconcile

import (
	"github.com/asgdns/asgdns/workflow"
)

// Mode is how much of the plan a run carries out.
type Mode string

// The modes.
const (
	// ModeReport executes nothing: the plan is the output. The default.
	ModeReport Mode = "report"
	// ModeUpsert registers missing records and replaces wrong ones.
	ModeUpsert Mode = "upsert"
	// ModeSync also removes stale records: an explicit opt-in, capped.
	ModeSync Mode = "sync"
)

// The removal cap's defaults: a sync run removes at most
// max(DefaultRemovalFloor, DefaultRemovalPercent % of the owned records).
// This package is the one owner of that policy; the reconciler's flags and
// parameters default to these constants.
const (
	DefaultRemovalFloor   = 20
	DefaultRemovalPercent = 10
)

// Limits bound what a sync run removes. Zero values mean the defaults.
type Limits struct {
	// RemovalFloor is how many records a run may always remove, however
	// few records the account owns.
	RemovalFloor int `json:"removalFloor,omitempty"`
	// RemovalPercent is the share of the owned records (1-100) a run may
	// remove when that is more than RemovalFloor.
	RemovalPercent int `json:"removalPercent,omitempty"`
}

// MaxRemovals is the cap for a run over owned records: max(floor,
// owned × percent / 100, rounded down).
func (l Limits) MaxRemovals(owned int) int {
	floor, pct := l.floor(), l.percent()
	return max(floor, owned*pct/100)
}

func (l Limits) floor() int {
	if l.RemovalFloor == 0 {
		return DefaultRemovalFloor
	}
	return l.RemovalFloor
}

func (l Limits) percent() int {
	if l.RemovalPercent == 0 {
		return DefaultRemovalPercent
	}
	return l.RemovalPercent
}

// Input is everything Decide decides from.
type Input struct {
	// Account is this application account's id: the account part of the
	// ownership marker of every record in Zones.
	Account string `json:"account"`
	// Mode is report (the default when empty), upsert or sync.
	Mode   Mode   `json:"mode,omitempty"`
	Limits Limits `json:"limits,omitzero"`
	// Desired are the instances that should have a record (Derive).
	Desired []Desired `json:"desired"`
	// Facts says, for instances that own a record but are not desired,
	// what became of them (Derive for a configured ASG's instances, Locate
	// for any other owner). An owner with no fact is never removed.
	Facts map[string]Fact `json:"facts,omitempty"`
	// Zones are the listings of the zones this account's records live in.
	Zones []Zone `json:"zones"`
}

// Add puts what Derive returned for one instance into the input.
func (in *Input) Add(e Entry) {
	switch {
	case e.Desired != nil:
		in.Desired = append(in.Desired, *e.Desired)
	case e.Fact != nil:
		if in.Facts == nil {
			in.Facts = map[string]Fact{}
		}
		in.Facts[e.InstanceID] = *e.Fact
	}
}

// Desired is an instance that should have a record, and the record the
// launch path derives for it.
type Desired struct {
	InstanceID     string          `json:"instanceId"`
	ASG            string          `json:"asg"`
	PrivateIP      string          `json:"privateIp"`
	LifecycleState string          `json:"lifecycleState,omitempty"`
	Record         workflow.Record `json:"record"`
}

// Status is what became of an instance that should not have a record.
type Status string

// The statuses. Gone, outside and leaving make its records removable (in
// sync mode); in-group keeps them.
const (
	// StatusGone: EC2 does not return the instance, or it is shutting down
	// or terminated.
	StatusGone Status = "gone"
	// StatusOutside: the instance runs, but in no configured ASG (detached,
	// another group, or its group is no longer configured).
	StatusOutside Status = "outside"
	// StatusLeaving: the instance is leaving its group (Terminating*,
	// Warmed:Terminating*, Detaching, Detached).
	StatusLeaving Status = "leaving"
	// StatusInGroup: the instance is in a configured ASG but not due a
	// record now (warm pool, standby, launching without asgdns's hook
	// open, or a record that cannot be derived): a record it has is kept,
	// none is made.
	StatusInGroup Status = "in-group"
)

// removable reports whether an owner in this status has records to remove.
func (s Status) removable() bool {
	return s == StatusGone || s == StatusOutside || s == StatusLeaving
}

// Fact is what the caller knows about an instance that is not desired.
type Fact struct {
	Status         Status `json:"status"`
	ASG            string `json:"asg,omitempty"`
	LifecycleState string `json:"lifecycleState,omitempty"`
	// Reason says it in words; it is quoted in the plan.
	Reason string `json:"reason,omitempty"`
}

// Owned is one record this account owns, as the DNS document's listing
// shows it. The caller converts the listing's records into it, passing only
// those whose marker names this account (workflow.OwnedRecord, as
// workflow.ParseListing returns it, carries the same fields). This package
// keeps its own type so the decision does not depend on the listing's
// parser.
type Owned struct {
	FQDN string `json:"fqdn"`
	// IPs are the A records at the name; empty when only the marker is
	// there (a register stopped halfway).
	IPs []string `json:"ips"`
	// TTL of the A records; 0 when unknown (then it is not compared).
	TTL           int    `json:"ttl"`
	OwnerAccount  string `json:"ownerAccount"`
	OwnerInstance string `json:"ownerInstance"`
}

// Zone is one zone's listing.
type Zone struct {
	Zone string `json:"zone"`
	// Complete is true when every page of the listing was read. An
	// incomplete zone contributes no removals, and a desired record it
	// does not show is unconfirmed rather than missing.
	Complete bool `json:"complete"`
	// Problem says why the listing is incomplete; it is quoted in the plan.
	Problem string  `json:"problem,omitempty"`
	Owned   []Owned `json:"owned"`
	// OtherOwner counts names the listing skipped because another
	// account's marker holds them. Like Unmarked (names without a marker:
	// other teams' records, the apex, wildcards) and Conflicts (names no
	// one can be said to own: two markers, a marker beside foreign data),
	// they are counted in the plan and never in it.
	OtherOwner int `json:"otherOwner"`
	Unmarked   int `json:"unmarked,omitempty"`
	Conflicts  int `json:"conflicts,omitempty"`
}

// Op is what an action does.
type Op string

// The operations.
const (
	OpRegister Op = "register"
	OpRemove   Op = "remove"
)

// Kind is the drift an action repairs.
type Kind string

// The kinds of drift.
const (
	// KindMissing: a desired instance has no record, and the complete
	// listing of its zone shows nothing at its name.
	KindMissing Kind = "missing"
	// KindWrongAddress: the instance's record holds other addresses, or is
	// under another name than the one it derives now (the old name is
	// then removed too, once the new one is in place).
	KindWrongAddress Kind = "wrong-address"
	// KindWrongTTL: the right address with another TTL than configured.
	KindWrongTTL Kind = "wrong-ttl"
	// KindStale: the record's instance is gone, outside the configured
	// ASGs, or leaving.
	KindStale Kind = "stale"
	// KindConflict: the desired name is held by another instance of this
	// account; nothing is taken over.
	KindConflict Kind = "conflict"
	// KindUnconfirmed: the desired record is not in its zone's listing,
	// but the listing is incomplete (or the zone was not listed).
	KindUnconfirmed Kind = "unconfirmed"
	// KindUnverified: the record's instance is not desired and the caller
	// gave no fact about it, so it is not proven removable.
	KindUnverified Kind = "unverified"
)

// Action is one repair, or one piece of drift left alone with the reason.
type Action struct {
	Op   Op   `json:"op"`
	Kind Kind `json:"kind"`
	// Execute is true when this run carries the action out; otherwise
	// Withheld says why not.
	Execute    bool   `json:"execute"`
	InstanceID string `json:"instanceId"`
	ASG        string `json:"asg,omitempty"`
	Zone       string `json:"zone"`
	FQDN       string `json:"fqdn"`
	Hostname   string `json:"hostname"`
	// DesiredIP is the address to register (register only).
	DesiredIP string `json:"desiredIp,omitempty"`
	// CurrentIPs are the addresses the listing shows: at FQDN for a
	// removal or a replacement, at CurrentFQDN for a renamed record.
	CurrentIPs []string `json:"currentIps,omitempty"`
	// CurrentFQDN is where the instance's record is now, when that is not
	// FQDN (a renamed record).
	CurrentFQDN string `json:"currentFqdn,omitempty"`
	// HeldBy is the instance of this account whose record holds FQDN, when
	// that is not InstanceID (a conflict).
	HeldBy string `json:"heldBy,omitempty"`
	// Record is the record the launch path derives (register only): what
	// the execution this action starts will register.
	Record   *workflow.Record `json:"record,omitempty"`
	Reason   string           `json:"reason"`
	Withheld string           `json:"withheld,omitempty"`
}

// Drift counts the difference between desired and actual, by kind, for
// metrics. Desired instances are counted once each (an instance whose
// record is renamed counts once as wrong-address); owned records once each.
type Drift struct {
	Missing      int `json:"missing"`
	WrongAddress int `json:"wrongAddress"`
	WrongTTL     int `json:"wrongTtl"`
	Stale        int `json:"stale"`
	Conflict     int `json:"conflict"`
	Unconfirmed  int `json:"unconfirmed"`
	Unverified   int `json:"unverified"`
	// OtherOwner is the names skipped because another owner holds them;
	// they are never in a plan.
	OtherOwner int `json:"otherOwner"`
}

// Removals is the removal cap's account of the run.
type Removals struct {
	// Candidates are the removals the drift calls for that nothing but the
	// mode or the cap holds back (proven owner, complete zone).
	Candidates int `json:"candidates"`
	// Owned is the number of records this account owns in the listings.
	Owned int `json:"owned"`
	// Cap is the most a run may remove: max(Floor, Percent % of Owned).
	Cap int `json:"cap"`
	// Floor and Percent are the limits Cap was computed from, defaults
	// applied, so a caller need not parse Withheld to say how to raise it.
	Floor   int `json:"floor"`
	Percent int `json:"percent"`
	// Execute is how many removals this run carries out.
	Execute int `json:"execute"`
	// Withheld says why candidates are not removed, when they are not.
	Withheld string `json:"withheld,omitempty"`
}

// ZoneReport is what the plan says about one zone.
type ZoneReport struct {
	Zone string `json:"zone"`
	// Listed is false for a zone desired records are in that no listing
	// covered.
	Listed     bool   `json:"listed"`
	Complete   bool   `json:"complete"`
	Desired    int    `json:"desired"`
	Owned      int    `json:"owned"`
	OtherOwner int    `json:"otherOwner"`
	Unmarked   int    `json:"unmarked,omitempty"`
	Conflicts  int    `json:"conflicts,omitempty"`
	Note       string `json:"note,omitempty"`
}

// Plan is the decision: what prints as `asgdns reconcile`'s output and
// what the reconciler Lambda returns.
type Plan struct {
	Mode    Mode   `json:"mode"`
	Account string `json:"account"`
	// Actions are every repair the drift calls for, registers first, each
	// in zone and name order; those with Execute set are carried out.
	Actions  []Action `json:"actions"`
	Drift    Drift    `json:"drift"`
	Removals Removals `json:"removals"`
	// InSync counts desired instances whose record is right.
	InSync int `json:"inSync"`
	// Kept counts owned records left alone because their instance is in a
	// configured ASG but not due a record now (warm pool, standby, …).
	Kept  int          `json:"kept"`
	Zones []ZoneReport `json:"zones"`
}

// Executed returns the actions this run carries out.
func (p Plan) Executed() []Action {
	var out []Action
	for _, a := range p.Actions {
		if a.Execute {
			out = append(out, a)
		}
	}
	return out
}

// InvalidInput is input Decide or Derive cannot use: the field, the value
// and the fix. Nothing is planned.
type InvalidInput struct{ workflow.Problem }

func invalid(field, value, reason, fix string) error {
	return &InvalidInput{workflow.Problem{Field: field, Value: value, Reason: reason, Fix: fix}}
}
