package operate

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// ExecutionsUsage is the one-line summary for `asgdns help`.
const ExecutionsUsage = "list executions of the asgdns state machine, with instance, ASG, transition and why failures failed"

// Executions runs `asgdns executions`.
func Executions(ctx context.Context, env Env, args []string) int {
	fs := flag.NewFlagSet("asgdns executions", flag.ContinueOnError)
	var common commonFlags
	common.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: asgdns executions (--state-machine-arn ARN | --stack NAME) [flags]

Lists the executions of the asgdns state machine, of every version, newest
first: name, status, the version it runs, transition, instance, ASG, start
and duration, and for failures the error and cause. An alias or version
ARN lists the whole state machine too. --json prints one JSON document for
scripts.

Flags:
`)
		fs.PrintDefaults()
	}
	s, code := open(ctx, env, "executions", fs, &common, args, nil)
	if s == nil {
		return code
	}

	items, err := s.reader.list(ctx, s.stateMachineARN, s.query, statusIn(s.query.Statuses))
	if err != nil {
		return s.fail(err)
	}
	var list []Execution
	for _, d := range s.reader.describeAll(ctx, items) {
		if d.err != nil {
			return s.fail(d.err)
		}
		if s.query.matches(d.Execution) {
			list = append(list, d.Execution)
		}
	}
	if s.flags.json {
		err = writeJSON(env.Stdout, executionsDocument{
			StateMachineARN: s.stateMachineARN, Since: timePtr(s.query.Since), Until: timePtr(s.query.Until),
			Count: len(list), Executions: nonNil(list),
		})
	} else {
		err = writeExecutionsTable(env.Stdout, s.stateMachineARN, s.query, list)
	}
	if err != nil {
		return s.fail(err)
	}
	return ExitOK
}

// executionsDocument is `asgdns executions --json`. Its fields are stable:
// every key is always present, null when there is no value.
type executionsDocument struct {
	StateMachineARN string      `json:"stateMachineArn"`
	Since           *time.Time  `json:"since"`
	Until           *time.Time  `json:"until"`
	Count           int         `json:"count"`
	Executions      []Execution `json:"executions"`
}

func writeJSON(w io.Writer, doc any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// nonNil makes an empty list print as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// writeExecutionsTable prints one row per execution, with the error and
// cause of a failure indented beneath it (a cause is a sentence or two: it
// does not fit in a column).
func writeExecutionsTable(w io.Writer, arn string, q query, list []Execution) error {
	fmt.Fprintf(w, "Executions of %s, %s\n\n", arn, q.window())
	rows := [][]string{{"STARTED", "DURATION", "STATUS", "VERSION", "TRANSITION", "INSTANCE", "ASG", "NAME"}}
	notes := [][]string{nil}
	counts := map[string]int{}
	for _, e := range list {
		counts[e.Status]++
		rows = append(rows, []string{e.Start.Format(tableTime), duration(e), e.Status, version(e),
			dash(e.Transition), dash(e.InstanceID), dash(e.ASG), e.Name})
		notes = append(notes, failureNotes(e))
	}
	if err := writeTable(w, rows, notes); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s\n", countLine(len(list), counts))
	return err
}

// writeTable aligns rows in columns and prints each row's notes, indented,
// beneath it. The notes go in after alignment: tabwriter would end the
// column block at a line without cells and align each row on its own.
func writeTable(w io.Writer, rows, notes [][]string) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for i, line := range strings.SplitAfter(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		line = strings.TrimRight(line, " \n") + "\n"
		if _, err := io.WriteString(w, line); err != nil {
			return err
		}
		for _, n := range notes[i] {
			if _, err := fmt.Fprintf(w, "    %s\n", n); err != nil {
				return err
			}
		}
	}
	return nil
}

// tableTime is short enough for a table and unambiguous (UTC).
const tableTime = "2006-01-02 15:04:05Z"

// failureNotes say why an execution failed.
func failureNotes(e Execution) []string {
	var notes []string
	if e.Error != "" {
		notes = append(notes, "error: "+oneLine(e.Error))
	}
	if e.Cause != "" {
		notes = append(notes, "cause: "+oneLine(e.Cause))
	}
	return notes
}

func duration(e Execution) string {
	d := time.Duration(e.DurationSeconds * float64(time.Second)).Round(time.Second)
	if e.Stop == nil {
		return d.String() + "+" // still running
	}
	return d.String()
}

func countLine(n int, counts map[string]int) string {
	var parts []string
	for _, s := range allStatuses {
		if counts[string(s)] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[string(s)], s))
		}
	}
	line := fmt.Sprintf("%d execution%s", n, plural(n))
	if len(parts) > 0 {
		line += " (" + strings.Join(parts, ", ") + ")"
	}
	return line
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// version is the VERSION column: the state machine version the execution
// runs, — for one started on the unqualified ARN.
func version(e Execution) string {
	if e.Version == nil {
		return "—"
	}
	return strconv.Itoa(*e.Version)
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// oneLine keeps a multi-line cause on its line of the table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
