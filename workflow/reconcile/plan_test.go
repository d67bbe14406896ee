package reconcile

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

const (
	account = "123456789012"
	z1      = "corp.example.com"
	z2      = "dev.example.com"
	// Instances: a and b are desired in most cases, c and d own records.
	ia = "i-0aaaaaaaaaaaaaaaa"
	ib = "i-0bbbbbbbbbbbbbbbb"
	ic = "i-0cccccccccccccccc"
	id = "i-0dddddddddddddddd"
)

func rec(host, zone string) workflow.Record {
	return workflow.Record{Hostname: host, Zone: zone, FQDN: host + "." + zone, TTL: 300}
}

func want(inst, ip, host, zone string) Desired {
	return Desired{InstanceID: inst, ASG: "web", PrivateIP: ip, LifecycleState: StateInService, Record: rec(host, zone)}
}

func own(host, zone, inst string, ips ...string) Owned {
	return Owned{FQDN: host + "." + zone, IPs: ips, TTL: 300, OwnerAccount: account, OwnerInstance: inst}
}

func listing(zone string, owned ...Owned) Zone { return Zone{Zone: zone, Complete: true, Owned: owned} }

func facts(kv ...any) map[string]Fact {
	m := map[string]Fact{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = Fact{Status: kv[i+1].(Status), ASG: "web", Reason: "because " + string(kv[i+1].(Status))}
	}
	return m
}

// brief renders an action as "op kind fqdn instance run|held".
func brief(a Action) string {
	run := "held"
	if a.Execute {
		run = "run"
	}
	return strings.Join([]string{string(a.Op), string(a.Kind), a.FQDN, a.InstanceID, run}, " ")
}

func briefs(p Plan) []string {
	out := make([]string, 0, len(p.Actions))
	for _, a := range p.Actions {
		out = append(out, brief(a))
	}
	return out
}

func TestDecide(t *testing.T) {
	inSync := []Desired{want(ia, "10.0.0.1", "web-a", z1)}
	tests := []struct {
		name     string
		in       Input
		want     []string
		drift    Drift
		inSync   int
		kept     int
		removals Removals
		// reasons: substrings the i-th action's Reason + Withheld holds.
		reasons map[int][]string
	}{
		{
			name:   "in sync: nothing to do",
			in:     Input{Mode: ModeSync, Desired: inSync, Zones: []Zone{listing(z1, own("web-a", z1, ia, "10.0.0.1"))}},
			want:   []string{},
			inSync: 1, removals: Removals{Owned: 1, Cap: 20, Floor: 20, Percent: 10},
		},
		{
			name:  "missing, report by default: planned, not executed",
			in:    Input{Desired: inSync, Zones: []Zone{listing(z1)}},
			want:  []string{"register missing web-a.corp.example.com " + ia + " held"},
			drift: Drift{Missing: 1}, removals: Removals{Cap: 20, Floor: 20, Percent: 10},
			reasons: map[int][]string{0: {"no record at web-a.corp.example.com", "report mode"}},
		},
		{
			name:  "missing, upsert: registered",
			in:    Input{Mode: ModeUpsert, Desired: inSync, Zones: []Zone{listing(z1)}},
			want:  []string{"register missing web-a.corp.example.com " + ia + " run"},
			drift: Drift{Missing: 1}, removals: Removals{Cap: 20, Floor: 20, Percent: 10},
		},
		{
			name:  "wrong address at the same name: replaced",
			in:    Input{Mode: ModeUpsert, Desired: inSync, Zones: []Zone{listing(z1, own("web-a", z1, ia, "10.9.9.9"))}},
			want:  []string{"register wrong-address web-a.corp.example.com " + ia + " run"},
			drift: Drift{WrongAddress: 1}, removals: Removals{Owned: 1, Cap: 20, Floor: 20, Percent: 10},
			reasons: map[int][]string{0: {"holds 10.9.9.9, not 10.0.0.1 alone"}},
		},
		{
			name:  "an extra address at the name: replaced",
			in:    Input{Mode: ModeSync, Desired: inSync, Zones: []Zone{listing(z1, own("web-a", z1, ia, "10.0.0.1", "10.9.9.9"))}},
			want:  []string{"register wrong-address web-a.corp.example.com " + ia + " run"},
			drift: Drift{WrongAddress: 1}, removals: Removals{Owned: 1, Cap: 20, Floor: 20, Percent: 10},
		},
		{
			name:  "only the marker (a register stopped halfway): replaced",
			in:    Input{Mode: ModeUpsert, Desired: inSync, Zones: []Zone{listing(z1, own("web-a", z1, ia))}},
			want:  []string{"register wrong-address web-a.corp.example.com " + ia + " run"},
			drift: Drift{WrongAddress: 1}, removals: Removals{Owned: 1, Cap: 20, Floor: 20, Percent: 10},
			reasons: map[int][]string{0: {"only the ownership marker"}},
		},
		{
			name: "another TTL: registered again",
			in: Input{Mode: ModeUpsert, Desired: inSync, Zones: []Zone{listing(z1,
				Owned{FQDN: "web-a." + z1, IPs: []string{"10.0.0.1"}, TTL: 3600, OwnerAccount: account, OwnerInstance: ia})}},
			want:  []string{"register wrong-ttl web-a.corp.example.com " + ia + " run"},
			drift: Drift{WrongTTL: 1}, removals: Removals{Owned: 1, Cap: 20, Floor: 20, Percent: 10},
			reasons: map[int][]string{0: {"TTL 3600, not the configured 300"}},
		},
		{
			name: "unknown TTL (0) is not compared",
			in: Input{Mode: ModeUpsert, Desired: inSync, Zones: []Zone{listing(z1,
				Owned{FQDN: "WEB-A.Corp.Example.com.", IPs: []string{"10.0.0.1"}, OwnerAccount: account, OwnerInstance: ia})}},
			want:   []string{},
			inSync: 1, removals: Removals{Owned: 1, Cap: 20, Floor: 20, Percent: 10},
		},
		{
			name: "renamed, new name missing: register it, keep the old one until it is in place",
			in: Input{Mode: ModeSync, Desired: inSync,
				Zones: []Zone{listing(z1, own("old-a", z1, ia, "10.0.0.1"))}},
			want: []string{
				"register wrong-address web-a.corp.example.com " + ia + " run",
				"remove wrong-address old-a.corp.example.com " + ia + " held",
			},
			drift: Drift{WrongAddress: 1}, removals: Removals{Owned: 1, Cap: 20, Floor: 20, Percent: 10},
			reasons: map[int][]string{
				0: {"record is at old-a.corp.example.com, not at web-a.corp.example.com"},
				1: {"old name of " + ia, "kept until web-a.corp.example.com is in place"},
			},
		},
		{
			name: "renamed, new name in place: sync removes the old one",
			in: Input{Mode: ModeSync, Desired: inSync,
				Zones: []Zone{listing(z1, own("old-a", z1, ia, "10.0.0.1"), own("web-a", z1, ia, "10.0.0.1"))}},
			want:   []string{"remove wrong-address old-a.corp.example.com " + ia + " run"},
			drift:  Drift{WrongAddress: 1},
			inSync: 1, removals: Removals{Candidates: 1, Owned: 2, Cap: 20, Floor: 20, Percent: 10, Execute: 1},
		},
		{
			name: "renamed, new name in place: upsert keeps the old one",
			in: Input{Mode: ModeUpsert, Desired: inSync,
				Zones: []Zone{listing(z1, own("old-a", z1, ia, "10.0.0.1"), own("web-a", z1, ia, "10.0.0.1"))}},
			want:   []string{"remove wrong-address old-a.corp.example.com " + ia + " held"},
			drift:  Drift{WrongAddress: 1},
			inSync: 1, removals: Removals{Candidates: 1, Owned: 2, Cap: 20, Floor: 20, Percent: 10, Withheld: "upsert mode never removes: run sync to remove"},
		},
		{
			name: "stale records (gone, outside, leaving), sync: removed",
			in: Input{Mode: ModeSync, Facts: facts(ia, StatusGone, ib, StatusOutside, ic, StatusLeaving),
				Zones: []Zone{listing(z1, own("a", z1, ia, "10.0.0.1"), own("b", z1, ib, "10.0.0.2"), own("c", z1, ic, "10.0.0.3"))}},
			want: []string{
				"remove stale a.corp.example.com " + ia + " run",
				"remove stale b.corp.example.com " + ib + " run",
				"remove stale c.corp.example.com " + ic + " run",
			},
			drift: Drift{Stale: 3}, removals: Removals{Candidates: 3, Owned: 3, Cap: 20, Floor: 20, Percent: 10, Execute: 3},
			reasons: map[int][]string{0: {ia + " is gone: because gone"}, 1: {"outside"}, 2: {"leaving"}},
		},
		{
			name: "stale record, upsert: kept",
			in: Input{Mode: ModeUpsert, Facts: facts(ic, StatusGone),
				Zones: []Zone{listing(z1, own("c", z1, ic, "10.0.0.3"))}},
			want:  []string{"remove stale c.corp.example.com " + ic + " held"},
			drift: Drift{Stale: 1}, removals: Removals{Candidates: 1, Owned: 1, Cap: 20, Floor: 20, Percent: 10, Withheld: "upsert mode never removes: run sync to remove"},
		},
		{
			name: "stale record, report: kept",
			in: Input{Facts: facts(ic, StatusGone),
				Zones: []Zone{listing(z1, own("c", z1, ic, "10.0.0.3"))}},
			want:  []string{"remove stale c.corp.example.com " + ic + " held"},
			drift: Drift{Stale: 1}, removals: Removals{Candidates: 1, Owned: 1, Cap: 20, Floor: 20, Percent: 10, Withheld: "report mode: nothing executes; run sync to remove"},
		},
		{
			name: "owner in its group but not due a record (warm pool): kept, no action",
			in: Input{Mode: ModeSync, Facts: facts(ic, StatusInGroup),
				Zones: []Zone{listing(z1, own("c", z1, ic, "10.0.0.3"))}},
			want: []string{},
			kept: 1, removals: Removals{Owned: 1, Cap: 20, Floor: 20, Percent: 10},
		},
		{
			name:  "owner the caller said nothing about: unverified, never removed",
			in:    Input{Mode: ModeSync, Zones: []Zone{listing(z1, own("c", z1, ic, "10.0.0.3"))}},
			want:  []string{"remove unverified c.corp.example.com " + ic + " held"},
			drift: Drift{Unverified: 1}, removals: Removals{Owned: 1, Cap: 20, Floor: 20, Percent: 10},
			reasons: map[int][]string{0: {"not told what became of " + ic, "proven gone"}},
		},
		{
			name: "incomplete listing: no removals from it, a name it does not show is unconfirmed, a wrong one it shows is replaced",
			in: Input{Mode: ModeSync, Facts: facts(ic, StatusGone),
				Desired: []Desired{want(ia, "10.0.0.1", "a", z1), want(ib, "10.0.0.2", "b", z1)},
				Zones: []Zone{{Zone: z1, Complete: false, Problem: "page 3: the command timed out",
					Owned: []Owned{own("b", z1, ib, "10.9.9.9"), own("c", z1, ic, "10.0.0.3")}}}},
			want: []string{
				"register unconfirmed a.corp.example.com " + ia + " held",
				"register wrong-address b.corp.example.com " + ib + " run",
				"remove stale c.corp.example.com " + ic + " held",
			},
			drift: Drift{WrongAddress: 1, Stale: 1, Unconfirmed: 1}, removals: Removals{Owned: 2, Cap: 20, Floor: 20, Percent: 10},
			reasons: map[int][]string{0: {"listing of zone corp.example.com is incomplete"}, 2: {"incomplete: no removals from it this run"}},
		},
		{
			name:  "a zone no listing covered: unconfirmed",
			in:    Input{Mode: ModeUpsert, Desired: []Desired{want(ia, "10.0.0.1", "a", z2)}, Zones: []Zone{listing(z1)}},
			want:  []string{"register unconfirmed a.dev.example.com " + ia + " held"},
			drift: Drift{Unconfirmed: 1}, removals: Removals{Cap: 20, Floor: 20, Percent: 10},
			reasons: map[int][]string{0: {"zone dev.example.com was not listed"}},
		},
		{
			name:   "other owners' names: counted, never planned",
			in:     Input{Mode: ModeSync, Desired: inSync, Zones: []Zone{{Zone: z1, Complete: true, OtherOwner: 7, Owned: []Owned{own("web-a", z1, ia, "10.0.0.1")}}, {Zone: z2, Complete: true, OtherOwner: 5}}},
			want:   []string{},
			drift:  Drift{OtherOwner: 12},
			inSync: 1, removals: Removals{Owned: 1, Cap: 20, Floor: 20, Percent: 10},
		},
		{
			name: "a name held by a stale record of another instance: sync removes it, the newcomer waits a run",
			in: Input{Mode: ModeSync, Desired: []Desired{want(ia, "10.0.0.1", "app", z1)}, Facts: facts(ic, StatusGone),
				Zones: []Zone{listing(z1, own("app", z1, ic, "10.0.0.3"))}},
			want: []string{
				"register conflict app.corp.example.com " + ia + " held",
				"remove stale app.corp.example.com " + ic + " run",
			},
			drift: Drift{Stale: 1, Conflict: 1}, removals: Removals{Candidates: 1, Owned: 1, Cap: 20, Floor: 20, Percent: 10, Execute: 1},
			reasons: map[int][]string{0: {"held by " + ic, "stale", "registers on the run after", "never taken over"}},
		},
		{
			name: "a name held by a stale record of another instance, upsert: nothing taken over",
			in: Input{Mode: ModeUpsert, Desired: []Desired{want(ia, "10.0.0.1", "app", z1)}, Facts: facts(ic, StatusGone),
				Zones: []Zone{listing(z1, own("app", z1, ic, "10.0.0.3"))}},
			want: []string{
				"register conflict app.corp.example.com " + ia + " held",
				"remove stale app.corp.example.com " + ic + " held",
			},
			drift: Drift{Stale: 1, Conflict: 1}, removals: Removals{Candidates: 1, Owned: 1, Cap: 20, Floor: 20, Percent: 10, Withheld: "upsert mode never removes: run sync to remove"},
		},
		{
			name: "a name held by another instance still in its group: conflict, both left alone",
			in: Input{Mode: ModeSync, Desired: []Desired{want(ia, "10.0.0.1", "app", z1)}, Facts: facts(ic, StatusInGroup),
				Zones: []Zone{listing(z1, own("app", z1, ic, "10.0.0.3"))}},
			want:  []string{"register conflict app.corp.example.com " + ia + " held"},
			drift: Drift{Conflict: 1}, kept: 1, removals: Removals{Owned: 1, Cap: 20, Floor: 20, Percent: 10},
			reasons: map[int][]string{0: {"two instances derive the same name", "{short-id}"}},
		},
		{
			name: "a name held by an instance the caller said nothing about: conflict, unverified",
			in: Input{Mode: ModeSync, Desired: []Desired{want(ia, "10.0.0.1", "app", z1)},
				Zones: []Zone{listing(z1, own("app", z1, ic, "10.0.0.3"))}},
			want: []string{
				"register conflict app.corp.example.com " + ia + " held",
				"remove unverified app.corp.example.com " + ic + " held",
			},
			drift: Drift{Conflict: 1, Unverified: 1}, removals: Removals{Owned: 1, Cap: 20, Floor: 20, Percent: 10},
		},
		{
			name: "a name held as another desired instance's old name: it moves first, the newcomer waits",
			in: Input{Mode: ModeSync, Desired: []Desired{want(ia, "10.0.0.1", "app", z1), want(ib, "10.0.0.2", "b-new", z1)},
				Zones: []Zone{listing(z1, own("app", z1, ib, "10.0.0.2"))}},
			want: []string{
				"register conflict app.corp.example.com " + ia + " held",
				"register wrong-address b-new.corp.example.com " + ib + " run",
				"remove wrong-address app.corp.example.com " + ib + " held",
			},
			drift: Drift{WrongAddress: 1, Conflict: 1}, removals: Removals{Owned: 1, Cap: 20, Floor: 20, Percent: 10},
			reasons: map[int][]string{0: {ib + "'s old name"}, 2: {"kept until b-new.corp.example.com is in place"}},
		},
		{
			name: "shared hostname, nobody holds it: the lowest instance id registers",
			in: Input{Mode: ModeUpsert, Desired: []Desired{want(ib, "10.0.0.2", "app", z1), want(ia, "10.0.0.1", "app", z1)},
				Zones: []Zone{listing(z1)}},
			want: []string{
				"register missing app.corp.example.com " + ia + " run",
				"register conflict app.corp.example.com " + ib + " held",
			},
			drift: Drift{Missing: 1, Conflict: 1}, removals: Removals{Cap: 20, Floor: 20, Percent: 10},
			reasons: map[int][]string{1: {"shared (sharedHostname) by 2 instances", ia + " (the lowest instance id) registers it"}},
		},
		{
			name: "shared hostname held by one of them: that one is checked, the others wait",
			in: Input{Mode: ModeUpsert, Desired: []Desired{want(ia, "10.0.0.1", "app", z1), want(ib, "10.0.0.2", "app", z1)},
				Zones: []Zone{listing(z1, own("app", z1, ib, "10.0.0.2"))}},
			want:   []string{"register conflict app.corp.example.com " + ia + " held"},
			drift:  Drift{Conflict: 1},
			inSync: 1, removals: Removals{Owned: 1, Cap: 20, Floor: 20, Percent: 10},
			reasons: map[int][]string{0: {"held by " + ib, "shared"}},
		},
		{
			name: "the same name in two zones: two names, two owners, no conflict",
			in: Input{Mode: ModeSync,
				Desired: []Desired{want(ia, "10.0.0.1", "app", z1), want(ib, "10.0.0.2", "app", z2)},
				Zones:   []Zone{listing(z1, own("app", z1, ia, "10.0.0.1")), listing(z2)}},
			want:   []string{"register missing app.dev.example.com " + ib + " run"},
			drift:  Drift{Missing: 1},
			inSync: 1, removals: Removals{Owned: 1, Cap: 20, Floor: 20, Percent: 10},
		},
		{
			name: "the same name moved to another zone: registered there, the old zone's record goes once it is in place",
			in: Input{Mode: ModeSync, Desired: []Desired{want(ia, "10.0.0.1", "app", z2)},
				Zones: []Zone{listing(z1, own("app", z1, ia, "10.0.0.1")), listing(z2, own("app", z2, ia, "10.0.0.1"))}},
			want:   []string{"remove wrong-address app.corp.example.com " + ia + " run"},
			drift:  Drift{WrongAddress: 1},
			inSync: 1, removals: Removals{Candidates: 1, Owned: 2, Cap: 20, Floor: 20, Percent: 10, Execute: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Account = account
			p, err := Decide(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := briefs(p); !slices.Equal(got, tc.want) {
				t.Errorf("actions\n got %q\nwant %q", got, tc.want)
			}
			if p.Drift != tc.drift {
				t.Errorf("drift %+v, want %+v", p.Drift, tc.drift)
			}
			if p.InSync != tc.inSync || p.Kept != tc.kept {
				t.Errorf("inSync %d kept %d, want %d %d", p.InSync, p.Kept, tc.inSync, tc.kept)
			}
			if p.Removals != tc.removals {
				t.Errorf("removals %+v\n want %+v", p.Removals, tc.removals)
			}
			wantMode := tc.in.Mode
			if wantMode == "" {
				wantMode = ModeReport
			}
			if p.Mode != wantMode || p.Account != account {
				t.Errorf("mode %q account %q", p.Mode, p.Account)
			}
			for i, subs := range tc.reasons {
				if i >= len(p.Actions) {
					t.Fatalf("no action %d", i)
				}
				text := p.Actions[i].Reason + " | " + p.Actions[i].Withheld
				for _, s := range subs {
					if !strings.Contains(text, s) {
						t.Errorf("action %d says %q, want it to say %q", i, text, s)
					}
				}
			}
			checkActions(t, p)
		})
	}
}

// checkActions holds every plan to its invariants: an action either
// executes or says why not; a register carries the record and address,
// a removal the owner's addresses; nothing executes in report mode and no
// removal outside sync.
func checkActions(t *testing.T, p Plan) {
	t.Helper()
	for i, a := range p.Actions {
		if a.Execute == (a.Withheld != "") {
			t.Errorf("action %d (%s): execute %v with withheld %q", i, brief(a), a.Execute, a.Withheld)
		}
		if a.Reason == "" || a.Zone == "" || a.Hostname == "" || a.FQDN != a.Hostname+"."+a.Zone || !workflow.ValidInstanceID(a.InstanceID) {
			t.Errorf("action %d incomplete: %+v", i, a)
		}
		if a.Execute && (p.Mode == ModeReport || a.Op == OpRemove && p.Mode != ModeSync) {
			t.Errorf("action %d (%s) executes in %s mode", i, brief(a), p.Mode)
		}
		if a.Execute && a.Kind != KindMissing && a.Kind != KindWrongAddress && a.Kind != KindWrongTTL && a.Kind != KindStale {
			t.Errorf("action %d (%s) executes", i, brief(a))
		}
		switch a.Op {
		case OpRegister:
			if a.Record == nil || a.Record.FQDN != a.FQDN || a.DesiredIP == "" {
				t.Errorf("register %d without its record or address: %+v", i, a)
			}
		case OpRemove:
			if a.Record != nil || a.DesiredIP != "" {
				t.Errorf("removal %d carries a record to register: %+v", i, a)
			}
		}
	}
}

// stale builds n owned records of gone instances and m in sync, in z1.
func staleInput(mode Mode, n, m int) Input {
	in := Input{Account: account, Mode: mode, Facts: map[string]Fact{}}
	z := Zone{Zone: z1, Complete: true}
	for i := range n {
		inst := fmt.Sprintf("i-%017x", 0x100000+i)
		z.Owned = append(z.Owned, own(fmt.Sprintf("gone-%d", i), z1, inst, "10.1.0.1"))
		in.Facts[inst] = Fact{Status: StatusGone, Reason: "terminated"}
	}
	for i := range m {
		inst := fmt.Sprintf("i-%017x", 0x200000+i)
		ip := fmt.Sprintf("10.2.%d.%d", i/250, i%250+1)
		z.Owned = append(z.Owned, own(fmt.Sprintf("live-%d", i), z1, inst, ip))
		in.Desired = append(in.Desired, want(inst, ip, fmt.Sprintf("live-%d", i), z1))
	}
	in.Zones = []Zone{z}
	return in
}

func TestRemovalCap(t *testing.T) {
	tests := []struct {
		name      string
		in        Input
		cap       int
		execute   int
		withheld  []string
		candidate int
	}{
		{name: "small zone, 20 dominates: 20 of 50 removed", in: staleInput(ModeSync, 20, 30), cap: 20, execute: 20, candidate: 20},
		{name: "small zone: 21 of 50 is over the cap of 20, none removed", in: staleInput(ModeSync, 21, 29), cap: 20, candidate: 21,
			withheld: []string{"sync would remove 21 records, more than the cap of 20 (max(20, 10% of the 50 records", "raise the cap"}},
		{name: "tiny zone: all 3 of 3 removed (the floor)", in: staleInput(ModeSync, 3, 0), cap: 20, execute: 3, candidate: 3},
		{name: "at the cap: 30 of 300 removed", in: staleInput(ModeSync, 30, 270), cap: 30, execute: 30, candidate: 30},
		{name: "just over: 31 of 300, none removed", in: staleInput(ModeSync, 31, 269), cap: 30, candidate: 31,
			withheld: []string{"sync would remove 31 records, more than the cap of 30 (max(20, 10% of the 300 records"}},
		{name: "10% rounds down: 30 of 309", in: staleInput(ModeSync, 31, 278), cap: 30, candidate: 31,
			withheld: []string{"cap of 30"}},
		{name: "report mode says sync would be refused", in: staleInput(ModeReport, 31, 269), cap: 30, candidate: 31,
			withheld: []string{"report mode", "and sync would remove 31 records"}},
		{name: "a raised cap lets them through", in: func() Input {
			in := staleInput(ModeSync, 31, 269)
			in.Limits = Limits{RemovalPercent: 20}
			return in
		}(), cap: 60, execute: 31, candidate: 31},
		{name: "a lowered floor applies to small zones", in: func() Input {
			in := staleInput(ModeSync, 6, 44)
			in.Limits = Limits{RemovalFloor: 5}
			return in
		}(), cap: 5, candidate: 6, withheld: []string{"cap of 5 (max(5, 10% of the 50"}},
		{name: "an incomplete zone's stale records do not count", in: func() Input {
			in := staleInput(ModeSync, 25, 25)
			in.Zones[0].Complete = false
			return in
		}(), cap: 20, candidate: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decide(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			r := p.Removals
			if r.Cap != tc.cap || r.Execute != tc.execute || r.Candidates != tc.candidate {
				t.Errorf("removals %+v, want cap %d execute %d candidates %d", r, tc.cap, tc.execute, tc.candidate)
			}
			if got := len(p.Executed()); got != tc.execute {
				t.Errorf("%d actions execute, want %d", got, tc.execute)
			}
			// The limits the cap came from, defaults applied, beside it.
			floor, pct := cmp.Or(tc.in.Limits.RemovalFloor, DefaultRemovalFloor), cmp.Or(tc.in.Limits.RemovalPercent, DefaultRemovalPercent)
			if r.Floor != floor || r.Percent != pct || r.Cap != max(floor, r.Owned*pct/100) {
				t.Errorf("removals %+v, want floor %d percent %d and the cap computed from them", r, floor, pct)
			}
			for _, s := range tc.withheld {
				if !strings.Contains(r.Withheld, s) {
					t.Errorf("withheld %q, want it to say %q", r.Withheld, s)
				}
			}
			if len(tc.withheld) == 0 && tc.execute == tc.candidate && r.Withheld != "" {
				t.Errorf("withheld %q, want none", r.Withheld)
			}
			for _, a := range p.Actions {
				if a.Op == OpRemove && !a.Execute && tc.candidate > 0 && !strings.Contains(a.Withheld, tc.withheld[0]) {
					t.Errorf("removal %s withheld %q, want the run's reason", brief(a), a.Withheld)
				}
			}
			checkActions(t, p)
		})
	}
}

func TestMaxRemovals(t *testing.T) {
	for _, tc := range []struct {
		l           Limits
		owned, want int
	}{
		{Limits{}, 0, 20}, {Limits{}, 199, 20}, {Limits{}, 209, 20}, {Limits{}, 210, 21}, {Limits{}, 1000, 100},
		{Limits{RemovalFloor: 1}, 5, 1}, {Limits{RemovalPercent: 100}, 50, 50}, {Limits{RemovalFloor: 50, RemovalPercent: 1}, 1000, 50},
	} {
		if got := tc.l.MaxRemovals(tc.owned); got != tc.want {
			t.Errorf("%+v.MaxRemovals(%d) = %d, want %d", tc.l, tc.owned, got, tc.want)
		}
	}
}

func TestDecideRejectsBadInput(t *testing.T) {
	good := func() Input {
		return Input{Account: account, Mode: ModeSync,
			Desired: []Desired{want(ia, "10.0.0.1", "a", z1)},
			Facts:   facts(ic, StatusGone),
			Zones:   []Zone{listing(z1, own("c", z1, ic, "10.0.0.3"))}}
	}
	tests := []struct {
		name   string
		change func(*Input)
		want   string
	}{
		{"account", func(in *Input) { in.Account = "12345" }, `account "12345": is not a 12-digit AWS account id`},
		{"mode", func(in *Input) { in.Mode = "delete" }, `mode "delete": is not report, upsert or sync`},
		{"floor", func(in *Input) { in.Limits.RemovalFloor = -1 }, `limits.removalFloor "-1": is negative`},
		{"percent", func(in *Input) { in.Limits.RemovalPercent = 101 }, `limits.removalPercent "101": is outside 0-100`},
		{"another account's record", func(in *Input) { in.Zones[0].Owned[0].OwnerAccount = "210987654321" },
			`zones[0].owned[0].ownerAccount "210987654321": is not this account (123456789012); fix: pass only the records whose marker names this account`},
		{"a record without an account", func(in *Input) { in.Zones[0].Owned[0].OwnerAccount = "" },
			`zones[0].owned[0].ownerAccount: is not this account (123456789012)`},
		{"owner instance", func(in *Input) { in.Zones[0].Owned[0].OwnerInstance = "i-xyz" }, `zones[0].owned[0].ownerInstance "i-xyz": is not an EC2 instance id`},
		{"name outside the zone", func(in *Input) { in.Zones[0].Owned[0].FQDN = "c.other.example.com" },
			`zones[0].owned[0].fqdn "c.other.example.com": is not a name asgdns writes in zone corp.example.com`},
		{"name two labels under the zone", func(in *Input) { in.Zones[0].Owned[0].FQDN = "c.d.corp.example.com" },
			`zones[0].owned[0].fqdn "c.d.corp.example.com": is not a name asgdns writes`},
		{"a look-alike that lower-cases into a label", func(in *Input) { in.Zones[0].Owned[0].FQDN = "\u212a.corp.example.com" },
			`zones[0].owned[0].fqdn "\u212a.corp.example.com": is not a name asgdns writes`},
		{"a name twice", func(in *Input) { in.Zones[0].Owned = append(in.Zones[0].Owned, own("C", z1, id, "10.0.0.4")) },
			`zones[0].owned[1].fqdn "C.corp.example.com": is listed twice`},
		{"owned address", func(in *Input) { in.Zones[0].Owned[0].IPs = []string{"10.0.0.3", "fe80::1"} }, `zones[0].owned[0].ips[1] "fe80::1": is not an IPv4 address`},
		{"owned TTL", func(in *Input) { in.Zones[0].Owned[0].TTL = -5 }, `zones[0].owned[0].ttl "-5": is negative`},
		{"zone", func(in *Input) { in.Zones[0].Zone = "corp" }, `zones[0].zone "corp": is a single label`},
		{"a zone twice", func(in *Input) { in.Zones = append(in.Zones, Zone{Zone: "CORP.example.com.", Complete: true}) }, `zones[1].zone "CORP.example.com.": is listed twice`},
		{"other-owner count", func(in *Input) { in.Zones[0].OtherOwner = -1 }, `zones[0].otherOwner "-1": is negative`},
		{"unmarked count", func(in *Input) { in.Zones[0].Unmarked = -2 }, `zones[0].unmarked "-2": is negative`},
		{"desired instance", func(in *Input) { in.Desired[0].InstanceID = "i-1" }, `desired[0].instanceId "i-1": is not an EC2 instance id`},
		{"desired twice", func(in *Input) { in.Desired = append(in.Desired, want(ia, "10.0.0.9", "z", z1)) }, `desired[1].instanceId "` + ia + `": is desired twice`},
		{"desired ASG", func(in *Input) { in.Desired[0].ASG = "" }, `desired[0].asg: must be 1-255 characters`},
		{"desired address", func(in *Input) { in.Desired[0].PrivateIP = "10.0.0.256" }, `desired[0].privateIp "10.0.0.256": is not an IPv4 address`},
		{"desired record that does not add up", func(in *Input) { in.Desired[0].Record.FQDN = "b.corp.example.com" },
			`desired[0].record "b.corp.example.com": is not a hostname, zone and FQDN that belong together; fix: derive desired entries with reconcile.Derive`},
		{"desired record TTL", func(in *Input) { in.Desired[0].Record.TTL = 1 }, `desired[0].record.ttl "1": is out of range`},
		{"desired record zone", func(in *Input) { in.Desired[0].Record.Zone = "corp" }, `desired[0].record.zone "corp": is a single label`},
		{"fact key", func(in *Input) { in.Facts["i-nope"] = Fact{Status: StatusGone} }, `facts "i-nope": is not an EC2 instance id`},
		{"fact status", func(in *Input) { in.Facts[ic] = Fact{Status: "dead"} }, `facts["` + ic + `"].status "dead": is not gone, outside, leaving or in-group`},
		{"a fact for a desired instance", func(in *Input) { in.Facts[ia] = Fact{Status: StatusGone} }, `facts["` + ia + `"] "gone": is given for an instance that is also desired`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := good()
			tc.change(&in)
			p, err := Decide(in)
			var bad *InvalidInput
			if !errors.As(err, &bad) {
				t.Fatalf("err %v (%T), want InvalidInput", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err\n %s\nwant it to hold\n %s", err, tc.want)
			}
			if p.Actions != nil || p.Mode != "" {
				t.Errorf("planned on bad input: %+v", p)
			}
		})
	}
	if _, err := Decide(good()); err != nil {
		t.Fatalf("the good input fails: %v", err)
	}
}

// TestPlanJSON pins what `asgdns reconcile` prints and the Lambda returns.
func TestPlanJSON(t *testing.T) {
	in := Input{Account: account, Mode: ModeSync,
		Desired: []Desired{
			want(ia, "10.0.0.1", "web-a", z1), want(ib, "10.0.0.2", "web-b", z1), want(id, "10.0.0.4", "web-d", z2),
		},
		Facts: map[string]Fact{ic: Locate(false, "", "", "")},
		Zones: []Zone{
			{Zone: z1, Complete: true, OtherOwner: 3, Unmarked: 12, Conflicts: 1, Owned: []Owned{own("web-b", z1, ib, "10.9.9.9"), own("web-c", z1, ic, "10.0.0.3")}},
			{Zone: z2, Complete: false, Problem: "page 2: the command timed out"},
		}}
	p, err := Decide(in)
	if err != nil {
		t.Fatal(err)
	}
	lambdatest.Golden(t, filepath.Join("testdata", "plan.golden.json"), p)
	// Empty lists are [], never null.
	empty, err := Decide(Input{Account: account})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(empty)
	if !strings.Contains(string(data), `"actions":[]`) || !strings.Contains(string(data), `"zones":[]`) {
		t.Errorf("empty plan marshals to %s", data)
	}
}
