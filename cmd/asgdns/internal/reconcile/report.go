package reconcile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	decision "github.com/asgdns/asgdns/workflow/reconcile"
)

// Report is what the reconcile function returns: the plan it decided, what
// it read to decide it, what it started and drained, and what went wrong.
type Report struct {
	Run  string        `json:"run"`
	Mode decision.Mode `json:"mode"`
	// Plan is nil when the run failed before it could decide (Errors say
	// why).
	Plan        *decision.Plan `json:"plan"`
	Reads       Reads          `json:"reads"`
	Started     []Started      `json:"started"`
	DeadLetters *DeadLetters   `json:"deadLetters"`
	Errors      []Message      `json:"errors"`
}

// Reads counts what the run read of the DNS: zones listed, pages of
// listings, DNS commands sent.
type Reads struct {
	Zones    int `json:"zones"`
	Pages    int `json:"pages"`
	Commands int `json:"commands"`
}

// Started is one execution the run started for an action of the plan.
type Started struct {
	Op         decision.Op   `json:"op"`
	Kind       decision.Kind `json:"kind"`
	InstanceID string        `json:"instanceId"`
	FQDN       string        `json:"fqdn"`
	Execution  string        `json:"execution"`
	// Already is true when an execution of that name was already there
	// (an earlier try of the same run): nothing was started twice.
	Already bool `json:"already"`
}

// DeadLetters is what the run did with the dead-letter queue.
type DeadLetters struct {
	Received       int      `json:"received"`
	Started        int      `json:"started"`
	AlreadyStarted int      `json:"alreadyStarted"`
	Left           int      `json:"left"`
	Problems       Problems `json:"problems"`
}

// Message is one of the report's errors or problems: a string, or an
// object, shown by its identifying and message fields.
type Message string

// messageFields are the fields of an object message shown, in this order.
var messageFields = []string{"zone", "asg", "instanceId", "fqdn", "execution", "messageId", "op", "error", "errorType", "message", "errorMessage", "fix"}

// UnmarshalJSON reads a string, or an object whose known fields are joined;
// anything else is kept as its JSON.
func (m *Message) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*m = Message(s)
		return nil
	}
	var obj map[string]any
	if json.Unmarshal(b, &obj) == nil {
		var parts []string
		for _, k := range messageFields {
			if v, ok := obj[k]; ok && v != nil && v != "" {
				parts = append(parts, fmt.Sprint(v))
			}
		}
		if len(parts) > 0 {
			*m = Message(strings.Join(parts, ": "))
			return nil
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return err
	}
	*m = Message(buf.String())
	return nil
}

// Problems are the dead letters the run could not act on: listed, or only
// counted.
type Problems struct {
	Count int
	List  []Message
}

// UnmarshalJSON reads a list of messages or a count.
func (p *Problems) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	if err := json.Unmarshal(b, &p.Count); err == nil {
		return nil
	}
	if err := json.Unmarshal(b, &p.List); err != nil {
		return fmt.Errorf("deadLetters.problems: want a list or a count: %w", err)
	}
	p.Count = len(p.List)
	return nil
}

// ranMode is the mode the report says the function ran in.
func (r Report) ranMode() decision.Mode {
	if r.Plan != nil && r.Plan.Mode != "" {
		return r.Plan.Mode
	}
	return r.Mode
}

// view is how a report is shown: what was asked for, and how it was run.
type view struct {
	target string // the stack and function, or the function
	// requested is the mode asked for; the function ran it unless dryRun,
	// when it ran report.
	requested decision.Mode
	dryRun    bool
	drained   bool
	apply     string // the command line that applies a dry run
}

func newView(o options, function string) view {
	v := view{target: "function " + function, requested: o.mode, dryRun: o.dryRun(), drained: o.yes}
	target := "--function " + o.function
	if o.stack != "" {
		v.target = fmt.Sprintf("stack %s (function %s)", o.stack, function)
		target = "--stack " + o.stack
	}
	v.apply = fmt.Sprintf("asgdns reconcile %s --mode %s", target, o.mode)
	if o.asg != "" {
		v.apply += " --asg " + o.asg
	}
	v.apply += " --yes"
	return v
}

// overCap reports whether the run's removals are over the cap: sync then
// removes none.
func overCap(p *decision.Plan) bool { return p.Removals.Candidates > p.Removals.Cap }

// overCapWhy is why a removal over the cap is withheld, in the actions
// table; the Removals line says it in full.
const overCapWhy = "over the removal cap, sync removes nothing (see Removals)"

// writeText prints the report for a person.
func writeText(w io.Writer, v view, rep Report) error {
	var b strings.Builder
	ran := rep.ranMode()
	fmt.Fprintf(&b, "Reconcile of %s", v.target)
	if rep.Plan != nil && rep.Plan.Account != "" {
		fmt.Fprintf(&b, ", account %s", rep.Plan.Account)
	}
	fmt.Fprintf(&b, ", run %s\n", rep.Run)
	switch {
	case v.dryRun:
		fmt.Fprintf(&b, "Mode %s without --yes: dry run, the function planned as %s and nothing changed; below is what %s would do.\n", v.requested, v.requested, v.requested)
		fmt.Fprintf(&b, "To apply: %s\n", v.apply)
	case ran == decision.ModeReport:
		fmt.Fprintf(&b, "Mode report: nothing changed; the plan is the output.\n")
	default:
		fmt.Fprintf(&b, "Mode %s, applied: each repair runs as an execution of the state machine ('asgdns executions' lists them).\n", ran)
	}
	if p := rep.Plan; p != nil {
		b.WriteString("\n")
		writeZones(&b, p.Zones, rep.Reads)
		b.WriteString("\n")
		writeDrift(&b, p)
		b.WriteString("\n")
		writeActions(&b, v, p)
		b.WriteString("\n")
		writeRemovals(&b, v, p)
	} else {
		b.WriteString("\nNo plan: the run failed before it could decide (errors below).\n")
	}
	b.WriteString("\n")
	writeStarted(&b, v, rep.Started)
	writeDeadLetters(&b, v, rep.DeadLetters)
	if len(rep.Errors) > 0 {
		fmt.Fprintf(&b, "\n%s:\n", plural(len(rep.Errors), "error", "errors"))
		for _, e := range rep.Errors {
			fmt.Fprintf(&b, "  %s\n", oneLine(string(e)))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeZones(b *strings.Builder, zones []decision.ZoneReport, reads Reads) {
	fmt.Fprintf(b, "Zones (read %s in %s, %s):\n", plural(reads.Zones, "zone", "zones"),
		plural(reads.Pages, "page", "pages"), plural(reads.Commands, "DNS command", "DNS commands"))
	if len(zones) == 0 {
		b.WriteString("  none: no configured group has an instance due a record, and this account owns no record\n")
		return
	}
	rows := [][]string{{"ZONE", "LISTED", "COMPLETE", "DESIRED", "OWNED", "OTHER OWNER", "UNMARKED", "CONFLICTS"}}
	notes := [][]string{nil}
	for _, z := range zones {
		rows = append(rows, []string{z.Zone, yesNo(z.Listed), yesNo(z.Complete), itoa(z.Desired), itoa(z.Owned),
			itoa(z.OtherOwner), itoa(z.Unmarked), itoa(z.Conflicts)})
		var n []string
		if z.Note != "" {
			n = append(n, "note: "+oneLine(z.Note))
		}
		notes = append(notes, n)
	}
	writeTable(b, rows, notes)
}

func writeDrift(b *strings.Builder, p *decision.Plan) {
	d := p.Drift
	kinds := []struct {
		kind decision.Kind
		n    int
	}{
		{decision.KindMissing, d.Missing}, {decision.KindWrongAddress, d.WrongAddress}, {decision.KindWrongTTL, d.WrongTTL},
		{decision.KindStale, d.Stale}, {decision.KindConflict, d.Conflict}, {decision.KindUnconfirmed, d.Unconfirmed},
		{decision.KindUnverified, d.Unverified},
	}
	parts := make([]string, len(kinds))
	total := 0
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k.kind, k.n)
		total += k.n
	}
	if total == 0 {
		b.WriteString("Drift: none.")
	} else {
		fmt.Fprintf(b, "Drift: %s.", strings.Join(parts, ", "))
	}
	fmt.Fprintf(b, "\nIn sync: %s. Kept (in a group, not due a record now): %s. Names another owner holds (never touched): %d.\n",
		plural(p.InSync, "instance", "instances"), plural(p.Kept, "record", "records"), d.OtherOwner)
}

func writeActions(b *strings.Builder, v view, p *decision.Plan) {
	if len(p.Actions) == 0 {
		b.WriteString("Actions: none.\n")
		return
	}
	// The last column answers the operator's question for this run: what
	// executes, or in a dry run what --yes would execute. Both are the
	// plan's own decision (workflow/reconcile), in the requested mode.
	column := "EXECUTES"
	if v.dryRun {
		column = "WITH --yes"
	}
	fmt.Fprintf(b, "Actions (%d):\n", len(p.Actions))
	rows := [][]string{{"OP", "KIND", "INSTANCE", "FQDN", "IP NOW → DESIRED", column}}
	notes := [][]string{nil}
	for _, a := range p.Actions {
		why := a.Withheld
		if overCap(p) && a.Op == decision.OpRemove && a.Withheld == p.Removals.Withheld {
			why = overCapWhy // said once, under Removals
		}
		cell := yesNo(a.Execute)
		desired := dash(a.DesiredIP)
		if a.Op == decision.OpRemove {
			desired = "—"
		}
		rows = append(rows, []string{string(a.Op), string(a.Kind), a.InstanceID, a.FQDN,
			dash(strings.Join(a.CurrentIPs, ",")) + " → " + desired, cell})
		n := []string{"why: " + oneLine(a.Reason)}
		if a.CurrentFQDN != "" {
			n = append(n, "now at: "+a.CurrentFQDN)
		}
		if a.HeldBy != "" {
			n = append(n, "held by: "+a.HeldBy)
		}
		if !a.Execute && why != "" {
			n = append(n, "withheld: "+oneLine(why))
		}
		notes = append(notes, n)
	}
	writeTable(b, rows, notes)
}

func writeRemovals(b *strings.Builder, v view, p *decision.Plan) {
	r := p.Removals
	limit := fmt.Sprintf("cap is %d (max(%d, %d%% of %d owned))", r.Cap, r.Floor, r.Percent, r.Owned)
	would := plural(r.Candidates, "record", "records")
	b.WriteString("Removals: ")
	switch {
	case r.Candidates == 0:
		fmt.Fprintf(b, "none due; %s.\n", limit)
	case overCap(p):
		fmt.Fprintf(b, "sync would remove %s; %s: nothing removed — check the ASG list, or raise %s.\n",
			would, limit, StackParameterRemovalPercent)
	case r.Execute > 0 && v.dryRun:
		fmt.Fprintf(b, "sync would remove %s (of %d due); %s: nothing removed (dry run).\n", plural(r.Execute, "record", "records"), r.Candidates, limit)
	case r.Execute > 0:
		fmt.Fprintf(b, "sync removes %s (of %d due); %s.\n", plural(r.Execute, "record", "records"), r.Candidates, limit)
	case v.requested == decision.ModeUpsert:
		fmt.Fprintf(b, "sync would remove %s; %s: nothing removed — upsert never removes, run --mode sync --yes to remove them.\n", would, limit)
	case v.dryRun:
		fmt.Fprintf(b, "sync would remove %s; %s: nothing removed (dry run).\n", would, limit)
	default:
		fmt.Fprintf(b, "sync would remove %s; %s: nothing removed in report mode.\n", would, limit)
	}
}

func writeStarted(b *strings.Builder, v view, started []Started) {
	if len(started) == 0 {
		switch {
		case v.dryRun:
			b.WriteString("Executions started: none (dry run).\n")
		case v.requested == decision.ModeReport:
			b.WriteString("Executions started: none (report mode starts none).\n")
		default:
			b.WriteString("Executions started: none.\n")
		}
		return
	}
	fresh := len(started) - countFunc(started, func(s Started) bool { return s.Already })
	fmt.Fprintf(b, "Executions started: %d", fresh)
	if fresh < len(started) {
		fmt.Fprintf(b, " (and %d already started by an earlier try of this run)", len(started)-fresh)
	}
	b.WriteString(":\n")
	rows := [][]string{{"OP", "KIND", "INSTANCE", "FQDN", "EXECUTION"}}
	notes := make([][]string, 1, len(started)+1)
	for _, s := range started {
		name := s.Execution
		if s.Already {
			name += " (already started)"
		}
		rows = append(rows, []string{string(s.Op), string(s.Kind), s.InstanceID, s.FQDN, name})
		notes = append(notes, nil)
	}
	writeTable(b, rows, notes)
}

func writeDeadLetters(b *strings.Builder, v view, d *DeadLetters) {
	if d == nil {
		if v.drained {
			b.WriteString("Dead letters: the report says nothing about them.\n")
		} else {
			b.WriteString("Dead letters: not drained (only --yes with upsert or sync drains them).\n")
		}
		return
	}
	fmt.Fprintf(b, "Dead letters: %d received, %d started, %d already started, %s, %d left in the queue.\n",
		d.Received, d.Started, d.AlreadyStarted, plural(d.Problems.Count, "problem", "problems"), d.Left)
	for _, p := range d.Problems.List {
		fmt.Fprintf(b, "    problem: %s\n", oneLine(string(p)))
	}
}

// writeTable aligns rows in columns and prints each row's notes, indented,
// beneath it. The notes go in after alignment: tabwriter would end the
// column block at a line without cells and align each row on its own.
func writeTable(b *strings.Builder, rows, notes [][]string) {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush() // a bytes.Buffer does not fail
	for i, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		b.WriteString("  " + strings.TrimRight(line, " ") + "\n")
		for _, n := range notes[i] {
			fmt.Fprintf(b, "      %s\n", n)
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func countFunc[T any](s []T, f func(T) bool) int {
	n := 0
	for _, v := range s {
		if f(v) {
			n++
		}
	}
	return n
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func itoa(n int) string { return fmt.Sprint(n) }

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// oneLine keeps a message on its line of the table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
