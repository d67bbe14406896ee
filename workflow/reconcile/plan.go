package reconcile

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

// Decide compares the desired state with the records this account owns and
// returns the plan. Input it cannot trust (a record another account owns,
// a desired entry with an invalid record, a name listed twice, …) is an
// InvalidInput naming the field and value, and nothing is planned.
//
// How it decides, name by name:
//   - A desired name nobody holds, in a zone listed completely: register
//     (missing; wrong-address when the instance's record is under an old
//     name). Several instances deriving one name (sharedHostname): the
//     lowest instance id registers, the others are conflicts.
//   - A desired name the instance itself holds: in sync, or register again
//     to replace other addresses (wrong-address) or another TTL (wrong-ttl).
//   - A desired name another instance of this account holds: a conflict,
//     never taken over (the DNS document would refuse it anyway); whether
//     the holder's record goes is decided for the holder.
//   - A desired name not in an incomplete listing: unconfirmed, not
//     registered (it may be on a page that was not read).
//   - An owned record of a desired instance under a name it no longer
//     derives: removed, but only once its new name is in place.
//   - An owned record whose instance is gone, outside the configured ASGs
//     or leaving: stale, removed. One whose instance is in a configured
//     ASG but not due a record (warm pool, standby, …): kept. One whose
//     instance the caller gave no fact about: unverified, kept.
//
// Then the mode, the listings' completeness and the cap decide what
// executes: report executes nothing; upsert registers; sync also removes,
// except from incomplete zones and not at all when the removals would
// exceed the cap.
func Decide(in Input) (Plan, error) {
	p, err := newPlanner(in)
	if err != nil {
		return Plan{}, err
	}
	p.desiredNames()
	p.ownedRecords()
	p.apply()
	return p.plan, nil
}

// owned is a validated owned record.
type owned struct {
	Owned
	zone, hostname string
	// held is set when the record is at its own instance's desired name.
	held bool
}

type zoneState struct {
	listed, complete bool
	problem          string
	desired, owned   int
	otherOwner       int
	unmarked         int
	conflicts        int
}

type planner struct {
	in    Input
	zones map[string]*zoneState
	// owned in zone and name order; byFQDN and byOwner index it.
	owned   []*owned
	byFQDN  map[string]*owned
	byOwner map[string][]*owned
	desired map[string]*Desired
	// names are the desired names in zone and name order; claims the
	// instances deriving each, by instance id.
	names  []string
	claims map[string][]*Desired
	// inSync marks instances whose record is right; wrong those already
	// counted as wrong-address.
	inSync, wrong       map[string]bool
	registers, removals []Action
	plan                Plan
}

func newPlanner(in Input) (*planner, error) {
	p := &planner{
		in: in, zones: map[string]*zoneState{},
		desired: make(map[string]*Desired, len(in.Desired)), claims: make(map[string][]*Desired, len(in.Desired)),
		inSync: map[string]bool{}, wrong: map[string]bool{},
	}
	if p.in.Mode == "" {
		p.in.Mode = ModeReport
	}
	p.plan = Plan{Mode: p.in.Mode, Account: in.Account, Actions: []Action{}}
	if err := p.validateSettings(); err != nil {
		return nil, err
	}
	if err := p.indexZones(); err != nil {
		return nil, err
	}
	if err := p.indexDesired(); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(in.Facts))
	for id := range in.Facts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		f := in.Facts[id]
		field := "facts[" + strconv.Quote(id) + "]"
		switch {
		case !workflow.ValidInstanceID(id):
			return nil, invalid("facts", id, "is not an EC2 instance id", "key facts by the instance id in the record's marker")
		case !slices.Contains([]Status{StatusGone, StatusOutside, StatusLeaving, StatusInGroup}, f.Status):
			return nil, invalid(field+".status", string(f.Status), "is not gone, outside, leaving or in-group",
				"build facts with reconcile.Derive or reconcile.Locate")
		case p.desired[id] != nil:
			return nil, invalid(field, string(f.Status), "is given for an instance that is also desired",
				"give each instance either a desired entry or a fact (reconcile.Input.Add does)")
		}
	}
	return p, nil
}

func (p *planner) validateSettings() error {
	in := p.in
	if !accountPattern.MatchString(in.Account) {
		return invalid("account", in.Account, "is not a 12-digit AWS account id",
			"pass this application account's id, the account part of its records' ownership marker")
	}
	if !slices.Contains([]Mode{ModeReport, ModeUpsert, ModeSync}, in.Mode) {
		return invalid("mode", string(in.Mode), "is not report, upsert or sync", "use report (the default), upsert or sync")
	}
	if in.Limits.RemovalFloor < 0 {
		return invalid("limits.removalFloor", strconv.Itoa(in.Limits.RemovalFloor), "is negative",
			fmt.Sprintf("use 0 for the default (%d), or a positive count", DefaultRemovalFloor))
	}
	if in.Limits.RemovalPercent < 0 || in.Limits.RemovalPercent > 100 {
		return invalid("limits.removalPercent", strconv.Itoa(in.Limits.RemovalPercent), "is outside 0-100",
			fmt.Sprintf("use 0 for the default (%d), or a percentage", DefaultRemovalPercent))
	}
	return nil
}

func (p *planner) indexZones() error {
	total := 0
	for _, z := range p.in.Zones {
		total += len(z.Owned)
	}
	// One allocation for every record, and indexes sized for them.
	store := make([]owned, 0, total)
	p.owned = make([]*owned, 0, total)
	p.byFQDN = make(map[string]*owned, total)
	p.byOwner = make(map[string][]*owned, total)
	for i, z := range p.in.Zones {
		field := fmt.Sprintf("zones[%d]", i)
		name, err := config.NormalizeZone(z.Zone)
		if err != nil {
			return invalid(field+".zone", z.Zone, err.Error(), "pass the zone the listing was read from")
		}
		if p.zones[name] != nil {
			return invalid(field+".zone", z.Zone, "is listed twice", "pass one listing per zone, all of its pages in it")
		}
		for _, c := range []struct {
			key string
			n   int
		}{{"otherOwner", z.OtherOwner}, {"unmarked", z.Unmarked}, {"conflicts", z.Conflicts}} {
			if c.n < 0 {
				return invalid(field+"."+c.key, strconv.Itoa(c.n), "is negative", "pass the listing's count")
			}
		}
		zs := &zoneState{listed: true, complete: z.Complete, problem: z.Problem, owned: len(z.Owned),
			otherOwner: z.OtherOwner, unmarked: z.Unmarked, conflicts: z.Conflicts}
		p.zones[name] = zs
		p.plan.Drift.OtherOwner += z.OtherOwner
		for j, o := range z.Owned {
			if err := p.checkOwned(i, j, name, &o); err != nil {
				return err
			}
			store = append(store, owned{Owned: o, zone: name, hostname: o.FQDN[:strings.IndexByte(o.FQDN, '.')]})
			rec := &store[len(store)-1]
			p.owned = append(p.owned, rec)
			p.byFQDN[rec.FQDN] = rec
		}
	}
	slices.SortFunc(p.owned, func(a, b *owned) int { return cmp.Or(cmp.Compare(a.zone, b.zone), cmp.Compare(a.FQDN, b.FQDN)) })
	for _, o := range p.owned {
		p.byOwner[o.OwnerInstance] = append(p.byOwner[o.OwnerInstance], o)
	}
	return nil
}

// checkOwned validates an owned record and puts its name in canonical form.
func (p *planner) checkOwned(i, j int, zone string, o *Owned) error {
	const fix = "pass only the records the listing shows under this account's marker"
	field := func() string { return fmt.Sprintf("zones[%d].owned[%d]", i, j) }
	if o.OwnerAccount != p.in.Account {
		return invalid(field()+".ownerAccount", o.OwnerAccount, "is not this account ("+p.in.Account+")",
			"pass only the records whose marker names this account; the listing counts the others in otherOwner")
	}
	if !workflow.ValidInstanceID(o.OwnerInstance) {
		return invalid(field()+".ownerInstance", o.OwnerInstance, "is not an EC2 instance id", fix)
	}
	// The zone is valid already: the name must be one valid label in it.
	// Only A-Z is lower-cased, so a look-alike never becomes a label.
	fqdn := strings.TrimSuffix(asciiLower(o.FQDN), ".")
	host, rest, _ := strings.Cut(fqdn, ".")
	if rest != zone || !config.ValidLabel(host) || len(fqdn) > workflow.MaxFQDN {
		return invalid(field()+".fqdn", o.FQDN, "is not a name asgdns writes in zone "+zone+" (one label under the zone)", fix)
	}
	if p.byFQDN[fqdn] != nil {
		return invalid(field()+".fqdn", o.FQDN, "is listed twice", "pass each owned name once")
	}
	for k, ip := range o.IPs {
		if !workflow.ValidIPv4(ip) {
			return invalid(fmt.Sprintf("%s.ips[%d]", field(), k), ip, "is not an IPv4 address", fix)
		}
	}
	if o.TTL < 0 {
		return invalid(field()+".ttl", strconv.Itoa(o.TTL), "is negative", "pass the A records' TTL, or 0 when unknown")
	}
	o.FQDN = fqdn
	return nil
}

func (p *planner) indexDesired() error {
	for i := range p.in.Desired {
		d := &p.in.Desired[i]
		field := func() string { return "desired[" + strconv.Itoa(i) + "]" }
		switch {
		case !workflow.ValidInstanceID(d.InstanceID):
			return invalid(field()+".instanceId", d.InstanceID, "is not an EC2 instance id", "derive desired entries with reconcile.Derive")
		case p.desired[d.InstanceID] != nil:
			return invalid(field()+".instanceId", d.InstanceID, "is desired twice", "pass each instance once")
		case d.ASG == "" || len(d.ASG) > 255:
			return invalid(field()+".asg", d.ASG, "must be 1-255 characters", "derive desired entries with reconcile.Derive")
		case !workflow.ValidIPv4(d.PrivateIP):
			return invalid(field()+".privateIp", d.PrivateIP, "is not an IPv4 address", "derive desired entries with reconcile.Derive")
		}
		if err := config.CheckRecord(d.Record); err != nil {
			f, v, reason := field()+".record", d.Record.FQDN, err.Error()
			var bad *workflow.InvalidHostname
			if errors.As(err, &bad) {
				f = strings.Replace(bad.Field, "state.instance.record", field()+".record", 1)
				v, reason = bad.Value, bad.Reason
			}
			return invalid(f, v, reason, "derive desired entries with reconcile.Derive")
		}
		p.desired[d.InstanceID] = d
		zs := p.zones[d.Record.Zone]
		if zs == nil {
			zs = &zoneState{}
			p.zones[d.Record.Zone] = zs
		}
		zs.desired++
	}
	// Names in zone and name order, each name's claimants by instance id.
	sorted := make([]*Desired, 0, len(p.desired))
	for i := range p.in.Desired {
		sorted = append(sorted, &p.in.Desired[i])
	}
	slices.SortFunc(sorted, func(a, b *Desired) int {
		return cmp.Or(cmp.Compare(a.Record.Zone, b.Record.Zone), cmp.Compare(a.Record.FQDN, b.Record.FQDN),
			cmp.Compare(a.InstanceID, b.InstanceID))
	})
	for start := 0; start < len(sorted); {
		fqdn, end := sorted[start].Record.FQDN, start+1
		for end < len(sorted) && sorted[end].Record.FQDN == fqdn {
			end++
		}
		p.names = append(p.names, fqdn)
		p.claims[fqdn] = sorted[start:end:end]
		start = end
	}
	return nil
}

// desiredNames decides each desired name.
func (p *planner) desiredNames() {
	for _, fqdn := range p.names {
		claimants := p.claims[fqdn]
		z := p.zones[claimants[0].Record.Zone]
		o := p.byFQDN[fqdn]
		switch {
		case o != nil && p.derives(o.OwnerInstance, fqdn):
			o.held = true
			holder := p.desired[o.OwnerInstance]
			p.checkHolder(holder, o)
			for _, d := range claimants {
				if d != holder {
					p.conflict(d, o, "the name is shared (sharedHostname), and one name has one owner")
				}
			}
		case o != nil:
			for _, d := range claimants {
				p.conflict(d, o, p.heldBy(o))
			}
		case !z.listed || !z.complete:
			for _, d := range claimants {
				a := p.register(d, KindUnconfirmed)
				a.Reason = "its zone's listing does not show " + fqdn
				a.Withheld = "the listing of zone " + d.Record.Zone + " is incomplete: the record may be on a page that was not read; " +
					"it is registered when a complete listing shows it missing"
				if !z.listed {
					a.Withheld = "zone " + d.Record.Zone + " was not listed: list it to reconcile its records"
				}
				p.plan.Drift.Unconfirmed++
				p.registers = append(p.registers, a)
			}
		default:
			first := claimants[0]
			a := p.register(first, KindMissing)
			a.Reason = "no record at " + fqdn
			if old := p.byOwner[first.InstanceID]; len(old) > 0 {
				a.Kind, a.CurrentFQDN, a.CurrentIPs = KindWrongAddress, old[0].FQDN, old[0].IPs
				a.Reason = first.InstanceID + "'s record is at " + old[0].FQDN + ", not at " + fqdn +
					", the name it derives now (the hostname template, zone, tags or AZ changed)"
				p.countWrong(first.InstanceID)
			} else {
				p.plan.Drift.Missing++
			}
			p.registers = append(p.registers, a)
			for _, d := range claimants[1:] {
				c := p.register(d, KindConflict)
				c.Reason = fqdn + " is shared (sharedHostname) by " + strconv.Itoa(len(claimants)) + " instances"
				c.Withheld = "one name, one owner: " + first.InstanceID + " (the lowest instance id) registers it"
				p.plan.Drift.Conflict++
				p.registers = append(p.registers, c)
			}
		}
	}
}

// derives reports whether instance id is desired at fqdn.
func (p *planner) derives(id, fqdn string) bool {
	d := p.desired[id]
	return d != nil && d.Record.FQDN == fqdn
}

// checkHolder compares a desired instance's own record with what it should be.
func (p *planner) checkHolder(d *Desired, o *owned) {
	switch {
	case len(o.IPs) != 1 || o.IPs[0] != d.PrivateIP:
		a := p.register(d, KindWrongAddress)
		a.CurrentIPs = o.IPs
		a.Reason = o.FQDN + " holds " + ipList(o.IPs) + ", not " + d.PrivateIP + " alone"
		p.countWrong(d.InstanceID)
		p.registers = append(p.registers, a)
	case o.TTL > 0 && o.TTL != d.Record.TTL:
		a := p.register(d, KindWrongTTL)
		a.CurrentIPs = o.IPs
		a.Reason = fmt.Sprintf("%s has TTL %d, not the configured %d", o.FQDN, o.TTL, d.Record.TTL)
		p.plan.Drift.WrongTTL++
		p.registers = append(p.registers, a)
	default:
		p.inSync[d.InstanceID] = true
		p.plan.InSync++
	}
}

// conflict records a desired name another instance of this account holds.
func (p *planner) conflict(d *Desired, o *owned, why string) {
	a := p.register(d, KindConflict)
	a.HeldBy, a.CurrentIPs = o.OwnerInstance, o.IPs
	a.Reason = o.FQDN + " is held by " + o.OwnerInstance + "'s record: " + why
	a.Withheld = "a name another instance holds is never taken over (the DNS document would refuse it)"
	p.plan.Drift.Conflict++
	p.registers = append(p.registers, a)
}

// heldBy says why the holder of a name other instances derive has it.
func (p *planner) heldBy(o *owned) string {
	b := o.OwnerInstance
	if d := p.desired[b]; d != nil {
		return "it is " + b + "'s old name (" + b + " now derives " + d.Record.FQDN + "); the old name goes once " +
			b + "'s new one is in place, and this instance registers on a later run"
	}
	f, ok := p.in.Facts[b]
	switch {
	case !ok:
		return "the reconciler was not told what became of " + b + ", so the record is kept"
	case f.Status.removable():
		return "the record is stale (" + b + " is " + string(f.Status) + ": " + f.Reason + "); sync removes it, " +
			"and this instance registers on the run after"
	default:
		return b + " is in its group (" + f.Reason + "), so two instances derive the same name: " +
			"use a hostname template that holds the instance id ({instance-id}, {id} or {short-id})"
	}
}

// ownedRecords decides each owned record its instance does not hold as
// its desired name.
func (p *planner) ownedRecords() {
	for _, o := range p.owned {
		if o.held {
			continue
		}
		id := o.OwnerInstance
		if d := p.desired[id]; d != nil {
			a := p.removal(o, KindWrongAddress)
			a.ASG = d.ASG
			a.Reason = "old name of " + id + ", which now derives " + d.Record.FQDN
			if !p.inSync[id] {
				a.Withheld = "kept until " + d.Record.FQDN + " is in place, so " + id + " is never without a name: removed on a later run"
			}
			p.countWrong(id)
			p.removals = append(p.removals, a)
			continue
		}
		f, ok := p.in.Facts[id]
		switch {
		case !ok:
			a := p.removal(o, KindUnverified)
			a.Reason = "the reconciler was not told what became of " + id
			a.Withheld = "a record is removed only when its instance is proven gone, outside the configured ASGs, or leaving"
			p.plan.Drift.Unverified++
			p.removals = append(p.removals, a)
		case f.Status.removable():
			a := p.removal(o, KindStale)
			a.ASG = f.ASG
			a.Reason = id + " is " + string(f.Status) + ": " + f.Reason
			p.plan.Drift.Stale++
			p.removals = append(p.removals, a)
		default:
			p.plan.Kept++
		}
	}
}

// apply lets the listings' completeness, the mode and the cap decide what
// executes, and fills in the plan.
func (p *planner) apply() {
	mode := p.in.Mode
	for i := range p.registers {
		a := &p.registers[i]
		switch {
		case a.Withheld != "":
		case mode == ModeReport:
			a.Withheld = "report mode: nothing executes; run upsert or sync to repair"
		default:
			a.Execute = true
		}
	}
	owned := len(p.owned)
	limit := p.in.Limits.MaxRemovals(owned)
	var candidates []*Action
	for i := range p.removals {
		a := &p.removals[i]
		if z := p.zones[a.Zone]; a.Withheld == "" && !z.complete {
			a.Withheld = "the listing of zone " + a.Zone + " is incomplete: no removals from it this run"
		}
		if a.Withheld == "" {
			candidates = append(candidates, a)
		}
	}
	r := Removals{Candidates: len(candidates), Owned: owned, Cap: limit, Floor: p.in.Limits.floor(), Percent: p.in.Limits.percent()}
	var capped string
	if len(candidates) > limit {
		capped = fmt.Sprintf("sync would remove %d records, more than the cap of %d (max(%d, %d%% of the %d records this account owns)), "+
			"so it removes none. Check for a configured ASG missing from the reconciler or a listing that lost records; "+
			"if the removals are meant, raise the cap (removal floor or percent) for one run, or remove in smaller steps",
			len(candidates), limit, p.in.Limits.floor(), p.in.Limits.percent(), owned)
	}
	var withheld string
	switch {
	case mode == ModeReport:
		withheld = "report mode: nothing executes; run sync to remove"
	case mode == ModeUpsert:
		withheld = "upsert mode never removes: run sync to remove"
	case capped != "":
		withheld = capped
	}
	for _, a := range candidates {
		if withheld != "" {
			a.Withheld = withheld
			continue
		}
		a.Execute = true
		r.Execute++
	}
	if len(candidates) > 0 {
		r.Withheld = withheld
		if capped != "" && mode != ModeSync {
			r.Withheld += "; and " + capped
		}
	}
	p.plan.Removals = r
	p.plan.Actions = append(append(p.plan.Actions, p.registers...), p.removals...)
	p.plan.Zones = p.zoneReports()
}

func (p *planner) zoneReports() []ZoneReport {
	out := make([]ZoneReport, 0, len(p.zones))
	for name, z := range p.zones {
		r := ZoneReport{Zone: name, Listed: z.listed, Complete: z.complete, Desired: z.desired, Owned: z.owned,
			OtherOwner: z.otherOwner, Unmarked: z.unmarked, Conflicts: z.conflicts}
		switch {
		case !z.listed:
			r.Note = "not listed: its desired records are unconfirmed, and nothing is registered in it"
		case !z.complete:
			r.Note = "listing incomplete"
			if z.problem != "" {
				r.Note += " (" + z.problem + ")"
			}
			r.Note += ": no removals from this zone this run, and desired records it does not show are unconfirmed, not registered"
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b ZoneReport) int { return cmp.Compare(a.Zone, b.Zone) })
	return out
}

// register starts a register action for a desired instance.
func (p *planner) register(d *Desired, kind Kind) Action {
	rec := d.Record
	return Action{Op: OpRegister, Kind: kind, InstanceID: d.InstanceID, ASG: d.ASG, Zone: rec.Zone, FQDN: rec.FQDN,
		Hostname: rec.Hostname, DesiredIP: d.PrivateIP, Record: &rec}
}

// removal starts a remove action for an owned record.
func (p *planner) removal(o *owned, kind Kind) Action {
	return Action{Op: OpRemove, Kind: kind, InstanceID: o.OwnerInstance, Zone: o.zone, FQDN: o.FQDN,
		Hostname: o.hostname, CurrentIPs: o.IPs}
}

func (p *planner) countWrong(id string) {
	if !p.wrong[id] {
		p.wrong[id] = true
		p.plan.Drift.WrongAddress++
	}
}

func ipList(ips []string) string {
	if len(ips) == 0 {
		return "only the ownership marker, no address"
	}
	return strings.Join(ips, ", ")
}

// asciiLower lower-cases A-Z only, as config does: a unicode look-alike
// stays what it is and fails the label check.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}
