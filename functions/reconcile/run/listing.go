package run

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/asgdns/asgdns/functions/reconcile/contract"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/reconcile"
)

// ListConcurrency bounds the list-zone invocations in flight at once,
// across zones, so the list commands on the DCs: a DC runs a handful of
// documents at a time (SSM Agent's CommandWorkersLimit), and the launches
// it serves come first.
const ListConcurrency = 4

// zoneTarget is a zone to list and where: the DCs, platform and document
// of the settings that use the zone.
type zoneTarget struct {
	zone   string
	target config.Settings
}

// zones are the zones to list: the stack's zone (unless the run is
// limited to one ASG), each read group's (its metadata may name another),
// and any desired record's. A zone is listed with the settings of the
// first that names it — the stack's, then the groups' by name — since
// those say which DCs and document serve it.
func (r *runner) zones(desired []reconcile.Desired) []zoneTarget {
	var out []zoneTarget
	add := func(zone string, s config.Settings) {
		if !slices.ContainsFunc(out, func(t zoneTarget) bool { return t.zone == zone }) {
			out = append(out, zoneTarget{zone: zone, target: s})
		}
	}
	if r.in.ASG == "" {
		add(r.h.Defaults.Zone, r.h.Defaults)
	}
	for _, name := range sortedKeys(r.groups) {
		if g := r.groups[name]; g.ok {
			add(g.settings.Zone, g.settings)
		}
	}
	for _, d := range desired {
		if g := r.groups[d.ASG]; g != nil && g.ok {
			add(d.Record.Zone, g.settings)
		}
	}
	slices.SortFunc(out, func(a, b zoneTarget) int { return strings.Compare(a.zone, b.zone) })
	return out
}

// pageResult is one page as read, or why not.
type pageResult struct {
	page workflow.ListingPage
	err  error
}

// readZones lists each zone: page 0 of every zone first (it says how many
// pages there are), then the other pages, at most ListConcurrency commands
// at a time. A page that fails leaves its zone incomplete, with the
// problem; the other zones are unaffected.
func (r *runner) readZones(ctx context.Context, targets []zoneTarget) []reconcile.Zone {
	r.report.Reads.Zones = len(targets)
	if len(targets) == 0 {
		return nil
	}
	firsts := make([]pageResult, len(targets))
	parallel(len(targets), func(i int) { firsts[i] = r.readPage(ctx, targets[i], 0) })
	type job struct{ zone, page int }
	var jobs []job
	for i, f := range firsts {
		if f.err != nil {
			continue
		}
		if f.page.Pages-1 > workflow.MaxListPage {
			firsts[i].err = fmt.Errorf("%d pages, more than the document lists (pages 0-%d)", f.page.Pages, workflow.MaxListPage)
			continue
		}
		for p := 1; p < f.page.Pages; p++ {
			jobs = append(jobs, job{i, p})
		}
	}
	rest := make([]pageResult, len(jobs))
	parallel(len(jobs), func(j int) { rest[j] = r.readPage(ctx, targets[jobs[j].zone], jobs[j].page) })
	zones := make([]reconcile.Zone, len(targets))
	for i, t := range targets {
		pages := []pageResult{firsts[i]}
		for j, jb := range jobs {
			if jb.zone == i {
				pages = append(pages, rest[j])
			}
		}
		zones[i] = r.assemble(t.zone, pages)
		if !zones[i].Complete {
			r.fail(ctx, "zone "+t.zone+": listing incomplete, "+zones[i].Problem+
				" (no removals from it, and records it does not show are not registered, this run)", slog.String("zone", t.zone))
		}
	}
	return zones
}

// parallel runs fn(0..n-1), ListConcurrency at a time.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(n, ListConcurrency) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// assemble makes one zone's listing from its pages, in order, page 0
// first. Anything that does not add up (a failed page, pages that
// disagree, a name twice, another account's records) makes it incomplete;
// a record of another account is never passed on.
func (r *runner) assemble(zone string, pages []pageResult) reconcile.Zone {
	z := reconcile.Zone{Zone: zone, Owned: []reconcile.Owned{}}
	var problems []string
	first := pages[0]
	if first.err != nil {
		z.Problem = "page 0: " + first.err.Error()
		return z
	}
	z.OtherOwner, z.Unmarked, z.Conflicts = first.page.OtherOwners, first.page.Unmarked, first.page.Conflicts
	seen := map[string]bool{}
	foreign := false
	for n, p := range pages {
		if p.err != nil {
			problems = append(problems, fmt.Sprintf("page %d: %v", n, p.err))
			continue
		}
		if p.page.Pages != first.page.Pages || p.page.OwnedTotal != first.page.OwnedTotal {
			problems = append(problems, fmt.Sprintf("page %d: the zone changed while it was read (%d owned names on %d pages, page 0 said %d on %d)",
				n, p.page.OwnedTotal, p.page.Pages, first.page.OwnedTotal, first.page.Pages))
		}
		for _, o := range p.page.Owned {
			if o.OwnerAccount != r.h.Config.Account {
				foreign = true
				continue
			}
			if seen[o.FQDN] {
				problems = append(problems, fmt.Sprintf("page %d: %s is on two pages: the zone changed while it was read", n, o.FQDN))
				continue
			}
			seen[o.FQDN] = true
			z.Owned = append(z.Owned, reconcile.Owned{FQDN: o.FQDN, IPs: o.IPs, TTL: o.TTL,
				OwnerAccount: o.OwnerAccount, OwnerInstance: o.OwnerInstance})
		}
	}
	if foreign {
		// The shared-services side fixes the account a document lists:
		// this document is not this account's, so none of it is used.
		z.Owned = []reconcile.Owned{}
		problems = append([]string{"the listing names another account than this one (" + r.h.Config.Account +
			"): check the stack's document name is the shared-services document for this account"}, problems...)
	}
	if len(problems) == 0 && len(z.Owned) != first.page.OwnedTotal {
		problems = append(problems, fmt.Sprintf("%d owned names read, page 0 said %d: the zone changed while it was read",
			len(z.Owned), first.page.OwnedTotal))
	}
	z.Complete = len(problems) == 0
	z.Problem = strings.Join(problems, "; ")
	return z
}

// readPage reads one page by invoking list-zone, with the DCs this run
// found not online so far (skipped, as before), and notes those it finds.
func (r *runner) readPage(ctx context.Context, t zoneTarget, page int) pageResult {
	r.mu.Lock()
	r.report.Reads.Pages++
	offline := sortedKeys(r.offline)
	r.mu.Unlock()
	fn := r.h.Config.ListZoneFunction
	req := contract.ListRequest{Run: r.in.Run, Zone: t.zone, Page: page, DCInstanceIDs: t.target.DCInstanceIDs,
		DCPlatform: t.target.DCPlatform, DocumentName: t.target.DocumentName, Offline: offline}
	var res contract.ListResult
	err := r.invoke(ctx, fn, req, &res)
	r.mu.Lock()
	if err == nil || workflow.Routed(err) == "CommandFailed" {
		r.report.Reads.Commands++
	}
	for _, dc := range res.Offline {
		if r.offline == nil {
			r.offline = map[string]bool{}
		}
		r.offline[dc] = true
	}
	r.mu.Unlock()
	if err != nil {
		r.log.WarnContext(ctx, "page not read", slog.String("zone", t.zone), slog.Int("page", page), slog.Any("error", err))
		return pageResult{err: err}
	}
	return pageResult{page: res.Listing}
}
