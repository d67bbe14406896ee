// Package contract is what functions/reconcile sends the two functions it
// invokes, and what they return: functions/list-zone (one page of a zone's
// listing, read through the shared-services session) and
// functions/drain-dead-letters (the dead-letter queue, started on the state
// machine). It imports no AWS service client, so the reconciler links none
// of the clients those functions use (ssm, sqs): each bootstrap stays
// within its size budget.
package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"

	"github.com/asgdns/asgdns/workflow"
)

// CredentialsSubject is what list-zone's shared-services session is named
// for: SourceIdentity asgdns-reconcile, session asgdns-reconcile-<run>
// (crossaccount.Names). The shared-services role's trust policy must allow
// that SourceIdentity beside asgdns-i-*, from list-zone's role.
const CredentialsSubject = "reconcile"

// RunPattern is a run id as it goes into execution and session names:
// what fits "reconcile-<run>-<instance>-remove-<hash>" within Step
// Functions' 80 characters, in the characters CloudWatch logging allows.
var RunPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,36}$`)

// ListRequest is list-zone's input: one page of a zone, on the DCs (and
// with the document and platform) of the settings that use the zone.
type ListRequest struct {
	Run           string   `json:"run"`
	Zone          string   `json:"zone"`
	Page          int      `json:"page"`
	DCInstanceIDs []string `json:"dcInstanceIds"`
	DCPlatform    string   `json:"dcPlatform"`
	DocumentName  string   `json:"documentName"`
	// Offline are the DCs this run already found not online in Systems
	// Manager: skipped, as the run's earlier pages skipped them.
	Offline []string `json:"offline,omitempty"`
}

// ListRequestKeys are ListRequest's keys, exactly as spelled.
var ListRequestKeys = []string{"run", "zone", "page", "dcInstanceIds", "dcPlatform", "documentName", "offline"}

// ListResult is list-zone's output: the page as workflow.ParseListing read
// it, the DC and command that read it, and the DCs found not online on the
// way (for the run's next pages to skip).
type ListResult struct {
	Listing   workflow.ListingPage `json:"listing"`
	DC        string               `json:"dc"`
	CommandID string               `json:"commandId"`
	Offline   []string             `json:"offline"`
}

// DrainRequest is drain-dead-letters' input.
type DrainRequest struct {
	// Run is the reconcile run that asks, for the logs.
	Run string `json:"run,omitempty"`
}

// DrainRequestKeys are DrainRequest's keys, exactly as spelled.
var DrainRequestKeys = []string{"run"}

// DeadLetters is what draining the dead-letter queue did: drain-dead-letters'
// output, and the reconcile report's deadLetters.
type DeadLetters struct {
	// Drained is false when the run was not asked to drain (or was a dry run).
	Drained        bool `json:"drained"`
	Received       int  `json:"received"`
	Started        int  `json:"started"`
	AlreadyStarted int  `json:"alreadyStarted"`
	// Deleted counts the messages whose execution started (now or before)
	// and that were deleted: what DeadLettersDrained counts.
	Deleted  int      `json:"deleted"`
	Left     int      `json:"left"`
	Problems []string `json:"problems"`
}

// Decode decodes one JSON object of the given keys and nothing else into
// v: encoding/json alone would take "drainDeadletters" for
// drainDeadLetters, and ignore a key it does not know.
func Decode(data []byte, v any, keys ...string) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return err
	}
	if fields == nil {
		return fmt.Errorf("not a JSON object")
	}
	var names []string
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if !slices.Contains(keys, k) {
			return fmt.Errorf("unknown key %q", k)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
