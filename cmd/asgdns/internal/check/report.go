package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// statusWord is how the text report names a status: what needs attention
// in capitals.
var statusWord = map[Status]string{
	StatusOK: "ok", StatusProblem: "PROBLEM", StatusError: "ERROR", StatusNotChecked: "NOT CHECKED",
}

// write prints the report: a header, one line per result, a summary; or
// one JSON document.
func write(w io.Writer, r Report, asJSON bool) error {
	if asJSON {
		if r.ASGs == nil {
			r.ASGs = []string{}
		}
		if r.Results == nil {
			r.Results = []Result{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	where := "parameters given"
	if r.Stack != "" {
		where = "stack " + r.Stack
	}
	fmt.Fprintf(w, "asgdns check: %s, account %s, region %s, shared-services account %s; %d ASG(s): %s\n",
		where, r.Account, r.Region, r.SharedServicesAccount, len(r.ASGs), strings.Join(r.ASGs, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, res := range r.Results {
		asg := res.ASG
		if asg == "" {
			asg = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", statusWord[res.Status], oneLine(asg), oneLine(res.Field), oneLine(res.Message))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d problem(s), %d error(s), %d not checked, %d ok\n",
		r.Summary.Problems, r.Summary.Errors, r.Summary.NotChecked, r.Summary.OK)
	return err
}

// oneLine keeps a result on its line: a tag value or metadata may hold a
// newline or a tab.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
}
