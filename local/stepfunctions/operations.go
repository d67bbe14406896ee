package stepfunctions

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/asgdns/asgdns/local/asl"
)

// The operations. Request and response members are named as in the API
// reference (and the botocore model's shapes); optional members are
// omitted when they have no value, as AWS omits them.

func (s *Service) startExecution(body []byte) (any, error) {
	var in struct {
		StateMachineArn *string `json:"stateMachineArn"`
		Name            *string `json:"name"`
		Input           *string `json:"input"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	arn, err := required("stateMachineArn", in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	if in.Name != nil && *in.Name == "" {
		return nil, errorf(codeInvalidName, "Invalid Name: '' (names have 1 to 80 characters)")
	}
	x, err := s.start(arn, deref(in.Name), deref(in.Input))
	if err != nil {
		return nil, err
	}
	return struct {
		ExecutionArn string        `json:"executionArn"`
		StartDate    asl.EventTime `json:"startDate"`
	}{x.arn, asl.EventTime{Time: x.startDate}}, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// executionArnInput is the request of the operations that take only an
// execution ARN (and includedData, which only matters for encrypted data).
type executionArnInput struct {
	ExecutionArn *string `json:"executionArn"`
	IncludedData string  `json:"includedData"`
}

func (s *Service) executionFrom(body []byte) (*execution, executionArnInput, error) {
	var in executionArnInput
	if err := decode(body, &in); err != nil {
		return nil, in, err
	}
	arn, err := required("executionArn", in.ExecutionArn)
	if err != nil {
		return nil, in, err
	}
	if err := oneOf("includedData", in.IncludedData, "ALL_DATA", "METADATA_ONLY"); err != nil {
		return nil, in, err
	}
	x, err := s.lookupExecution(arn)
	return x, in, err
}

// dataDetails is CloudWatchEventsExecutionDataDetails.
type dataDetails struct {
	Included bool `json:"included"`
}

func (s *Service) describeExecution(body []byte) (any, error) {
	x, in, err := s.executionFrom(body)
	if err != nil {
		return nil, err
	}
	sn := x.describe(s.clock.Now())
	out := struct {
		ExecutionArn        string         `json:"executionArn"`
		StateMachineArn     string         `json:"stateMachineArn"`
		Name                string         `json:"name"`
		Status              asl.Status     `json:"status"`
		StartDate           asl.EventTime  `json:"startDate"`
		StopDate            *asl.EventTime `json:"stopDate,omitempty"`
		Input               *string        `json:"input,omitempty"`
		InputDetails        *dataDetails   `json:"inputDetails,omitempty"`
		Output              *string        `json:"output,omitempty"`
		OutputDetails       *dataDetails   `json:"outputDetails,omitempty"`
		Error               string         `json:"error,omitempty"`
		Cause               string         `json:"cause,omitempty"`
		RedriveCount        int            `json:"redriveCount"`
		RedriveDate         *asl.EventTime `json:"redriveDate,omitempty"`
		RedriveStatus       string         `json:"redriveStatus"`
		RedriveStatusReason string         `json:"redriveStatusReason,omitempty"`
		// The version and alias the execution was started through.
		StateMachineVersionArn string `json:"stateMachineVersionArn,omitempty"`
		StateMachineAliasArn   string `json:"stateMachineAliasArn,omitempty"`
	}{
		ExecutionArn: x.arn, StateMachineArn: x.sm.arn, Name: x.name, Status: sn.status,
		StartDate: asl.EventTime{Time: x.startDate}, StopDate: timestamp(sn.stopDate),
		Error: sn.error, Cause: sn.cause,
		RedriveCount: sn.redriveCount, RedriveDate: timestamp(sn.redriveDate),
		RedriveStatus: sn.redriveStatus, RedriveStatusReason: sn.redriveReason,
		StateMachineVersionArn: x.versionARN(), StateMachineAliasArn: x.aliasARN(),
	}
	// METADATA_ONLY leaves out the execution data (the API's way to
	// describe an execution whose data the caller may not decrypt).
	if in.IncludedData != "METADATA_ONLY" {
		out.Input, out.InputDetails = &x.input, &dataDetails{Included: true}
		if sn.status == asl.StatusSucceeded {
			out.Output, out.OutputDetails = &sn.output, &dataDetails{Included: true}
		}
	}
	return out, nil
}

// executionListItem is ExecutionListItem.
type executionListItem struct {
	ExecutionArn    string         `json:"executionArn"`
	StateMachineArn string         `json:"stateMachineArn"`
	Name            string         `json:"name"`
	Status          asl.Status     `json:"status"`
	StartDate       asl.EventTime  `json:"startDate"`
	StopDate        *asl.EventTime `json:"stopDate,omitempty"`
	RedriveCount    int            `json:"redriveCount"`
	RedriveDate     *asl.EventTime `json:"redriveDate,omitempty"`
	// StateMachineVersionArn and StateMachineAliasArn are what the
	// execution was started through.
	StateMachineVersionArn string `json:"stateMachineVersionArn,omitempty"`
	StateMachineAliasArn   string `json:"stateMachineAliasArn,omitempty"`
}

func (s *Service) listExecutions(body []byte) (any, error) {
	var in struct {
		StateMachineArn *string `json:"stateMachineArn"`
		StatusFilter    string  `json:"statusFilter"`
		MaxResults      int     `json:"maxResults"`
		NextToken       *string `json:"nextToken"`
		MapRunArn       *string `json:"mapRunArn"`
		RedriveFilter   string  `json:"redriveFilter"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	if err := oneOf("statusFilter", in.StatusFilter, "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"); err != nil {
		return nil, err
	}
	if err := oneOf("redriveFilter", in.RedriveFilter, "REDRIVEN", "NOT_REDRIVEN"); err != nil {
		return nil, err
	}
	switch {
	case in.MapRunArn != nil && in.StateMachineArn != nil:
		return nil, errorf(codeValidation, "You can specify either a mapRunArn or a stateMachineArn, but not both.")
	case in.MapRunArn != nil:
		// Map Runs come from Distributed Map states, which the engine does
		// not run: a well-formed Map Run ARN names nothing here.
		if a, ok := parseARN(*in.MapRunArn); !ok || a.kind != "mapRun" {
			return nil, errorf(codeInvalidArn, "Invalid Arn: '%s'", *in.MapRunArn)
		}
		return nil, errorf(codeResourceNotFound, "Resource not found: '%s'", *in.MapRunArn)
	case in.StateMachineArn == nil:
		return nil, errorf(codeValidation, "Must provide a StateMachine ARN or MapRun ARN")
	case in.StatusFilter == "PENDING_REDRIVE":
		// "If you provide a stateMachineArn and a PENDING_REDRIVE
		// statusFilter, the API returns a validation exception."
		return nil, errorf(codeValidation, "PENDING_REDRIVE statusFilter is only supported with a mapRunArn")
	}
	// The unqualified ARN lists every execution; a version or alias ARN,
	// those started through it.
	t, err := s.lookupTarget(*in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	execs := t.sm.executions // append-only: this prefix never changes
	switch {
	case t.version != nil:
		execs = t.version.executions
	case t.alias != nil:
		execs = t.alias.executions
	}
	s.mu.Unlock()
	from := len(execs) - 1
	if t, ok, err := readToken(in.NextToken, t.arn, false); err != nil {
		return nil, err
	} else if ok {
		if t.Pos >= len(execs) {
			return nil, errorf(codeInvalidToken, "Invalid Token: '%s'", *in.NextToken)
		}
		from = t.Pos
	}

	now := s.clock.Now()
	keep := func(sn snapshot) bool {
		return (in.StatusFilter == "" || string(sn.status) == in.StatusFilter) &&
			(in.RedriveFilter != "REDRIVEN" || sn.redriveCount > 0) &&
			(in.RedriveFilter != "NOT_REDRIVEN" || sn.redriveCount == 0)
	}
	// Newest first: the API sorts by start time, and start order is start
	// time on one clock (and breaks ties on a virtual one).
	items := []executionListItem{}
	i := from
	for ; i >= 0 && len(items) < size; i-- {
		x := execs[i]
		if sn := x.describe(now); keep(sn) {
			items = append(items, executionListItem{
				ExecutionArn: x.arn, StateMachineArn: x.sm.arn, Name: x.name, Status: sn.status,
				StartDate: asl.EventTime{Time: x.startDate}, StopDate: timestamp(sn.stopDate),
				RedriveCount: sn.redriveCount, RedriveDate: timestamp(sn.redriveDate),
				StateMachineVersionArn: x.versionARN(), StateMachineAliasArn: x.aliasARN(),
			})
		}
	}
	// Offer a next page only if there is something on it.
	var next *string
	for ; i >= 0; i-- {
		if keep(execs[i].describe(now)) {
			tok := pageToken{Of: t.arn, Pos: i}.String()
			next = &tok
			break
		}
	}
	return struct {
		Executions []executionListItem `json:"executions"`
		NextToken  *string             `json:"nextToken,omitempty"`
	}{items, next}, nil
}

func (s *Service) getExecutionHistory(body []byte) (any, error) {
	var in struct {
		ExecutionArn         *string `json:"executionArn"`
		MaxResults           int     `json:"maxResults"`
		ReverseOrder         bool    `json:"reverseOrder"`
		NextToken            *string `json:"nextToken"`
		IncludeExecutionData *bool   `json:"includeExecutionData"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	arn, err := required("executionArn", in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	x, err := s.lookupExecution(arn)
	if err != nil {
		return nil, err
	}
	events := x.x.History()
	t, ok, err := readToken(in.NextToken, x.arn, in.ReverseOrder)
	if err != nil {
		return nil, err
	}
	// Positions are event indexes (id-1), stable as the history grows.
	var page []asl.HistoryEvent
	var next *string
	if in.ReverseOrder {
		from := len(events) - 1
		if ok {
			from = t.Pos
		}
		if from >= len(events) {
			return nil, errorf(codeInvalidToken, "Invalid Token: '%s'", *in.NextToken)
		}
		for i := from; i >= 0 && len(page) < size; i-- {
			page = append(page, events[i])
		}
		if rest := from - len(page); rest >= 0 {
			tok := pageToken{Of: x.arn, Pos: rest, Reverse: true}.String()
			next = &tok
		}
	} else {
		from := 0
		if ok {
			from = t.Pos
		}
		if from > len(events) {
			return nil, errorf(codeInvalidToken, "Invalid Token: '%s'", *in.NextToken)
		}
		page = events[from:min(from+size, len(events))]
		if rest := from + len(page); rest < len(events) {
			tok := pageToken{Of: x.arn, Pos: rest}.String()
			next = &tok
		}
	}
	out := struct {
		Events    any     `json:"events"`
		NextToken *string `json:"nextToken,omitempty"`
	}{NextToken: next}
	if in.IncludeExecutionData == nil || *in.IncludeExecutionData {
		out.Events = nonNil(page)
	} else if out.Events, err = withoutData(page); err != nil {
		return nil, err
	}
	return out, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// withoutData renders events without their execution data, for
// includeExecutionData false: the input and output members of every
// details object go. The engine's detail types always write those
// members, so they are dropped from the JSON.
func withoutData(events []asl.HistoryEvent) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, 0, len(events))
	for _, ev := range events {
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			return nil, err
		}
		for k, v := range fields {
			if !strings.HasSuffix(k, "EventDetails") {
				continue
			}
			var details map[string]json.RawMessage
			if err := json.Unmarshal(v, &details); err != nil {
				return nil, err
			}
			delete(details, "input")
			delete(details, "output")
			if fields[k], err = json.Marshal(details); err != nil {
				return nil, err
			}
		}
		if b, err = json.Marshal(fields); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func (s *Service) stopExecution(body []byte) (any, error) {
	var in struct {
		ExecutionArn *string `json:"executionArn"`
		Error        string  `json:"error"`
		Cause        string  `json:"cause"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	arn, err := required("executionArn", in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	if err := maxLength("error", in.Error, 256); err != nil {
		return nil, err
	}
	if err := maxLength("cause", in.Cause, 32768); err != nil {
		return nil, err
	}
	x, err := s.lookupExecution(arn)
	if err != nil {
		return nil, err
	}
	stopped, err := x.stop(in.Error, in.Cause)
	if err != nil {
		return nil, err
	}
	return struct {
		StopDate asl.EventTime `json:"stopDate"`
	}{asl.EventTime{Time: stopped}}, nil
}

// clientTokenPattern is ClientToken's constraint: 1 to 64 printable ASCII
// characters.
var clientTokenPattern = regexp.MustCompile(`^[!-~]{1,64}$`)

func (s *Service) redriveExecution(body []byte) (any, error) {
	var in struct {
		ExecutionArn *string `json:"executionArn"`
		ClientToken  *string `json:"clientToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	arn, err := required("executionArn", in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	if in.ClientToken != nil && !clientTokenPattern.MatchString(*in.ClientToken) {
		return nil, validationf("Value '%s' at 'clientToken' failed to satisfy constraint: Member must satisfy regular expression pattern: [!-~]+ and have length between 1 and 64", *in.ClientToken)
	}
	x, err := s.lookupExecution(arn)
	if err != nil {
		return nil, err
	}
	date, err := s.redrive(x, deref(in.ClientToken))
	if err != nil {
		return nil, err
	}
	return struct {
		RedriveDate asl.EventTime `json:"redriveDate"`
	}{asl.EventTime{Time: date}}, nil
}

// Configuration members every state machine reports: logging off, no
// tracing (the local stack has neither CloudWatch Logs nor X-Ray).
type loggingConfiguration struct {
	Level                string `json:"level"`
	IncludeExecutionData bool   `json:"includeExecutionData"`
}

type tracingConfiguration struct {
	Enabled bool `json:"enabled"`
}

func (s *Service) describeStateMachine(body []byte) (any, error) {
	var in struct {
		StateMachineArn *string `json:"stateMachineArn"`
		IncludedData    string  `json:"includedData"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	arn, err := required("stateMachineArn", in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	if err := oneOf("includedData", in.IncludedData, "ALL_DATA", "METADATA_ONLY"); err != nil {
		return nil, err
	}
	t, err := s.lookupTarget(arn)
	if err != nil {
		return nil, err
	}
	if t.alias != nil {
		// DescribeStateMachine takes a state machine or version ARN; an
		// alias is DescribeStateMachineAlias's.
		return nil, errorf(codeInvalidArn, "Invalid Arn: '%s' is an alias ARN: use DescribeStateMachineAlias", arn)
	}
	s.mu.Lock()
	sm := t.sm
	out := struct {
		StateMachineArn      string               `json:"stateMachineArn"`
		Name                 string               `json:"name"`
		Status               string               `json:"status"`
		Definition           string               `json:"definition"`
		RoleArn              string               `json:"roleArn"`
		Type                 string               `json:"type"`
		CreationDate         asl.EventTime        `json:"creationDate"`
		LoggingConfiguration loggingConfiguration `json:"loggingConfiguration"`
		TracingConfiguration tracingConfiguration `json:"tracingConfiguration"`
		RevisionID           string               `json:"revisionId"`
		Description          string               `json:"description,omitempty"`
	}{
		StateMachineArn: sm.arn, Name: sm.name, Status: "ACTIVE", Definition: string(sm.def.Source()),
		RoleArn: sm.roleArn, Type: "STANDARD", CreationDate: asl.EventTime{Time: sm.created},
		LoggingConfiguration: loggingConfiguration{Level: "OFF"}, RevisionID: revisionID(sm, sm.revision),
	}
	if v := t.version; v != nil {
		// A version ARN describes the version: its ARN, definition and date.
		out.StateMachineArn, out.Definition, out.RoleArn = v.arn, string(v.def.Source()), v.roleArn
		out.CreationDate, out.RevisionID, out.Description = asl.EventTime{Time: v.created}, revisionID(sm, v.revision), v.description
	}
	s.mu.Unlock()
	return out, nil
}

func (s *Service) describeStateMachineForExecution(body []byte) (any, error) {
	x, _, err := s.executionFrom(body)
	if err != nil {
		return nil, err
	}
	sm := x.sm
	// The definition the execution runs: its version's, or the revision
	// that was latest when it started.
	return struct {
		StateMachineArn        string               `json:"stateMachineArn"`
		Name                   string               `json:"name"`
		Definition             string               `json:"definition"`
		RoleArn                string               `json:"roleArn"`
		UpdateDate             asl.EventTime        `json:"updateDate"`
		LoggingConfiguration   loggingConfiguration `json:"loggingConfiguration"`
		TracingConfiguration   tracingConfiguration `json:"tracingConfiguration"`
		StateMachineVersionArn string               `json:"stateMachineVersionArn,omitempty"`
		StateMachineAliasArn   string               `json:"stateMachineAliasArn,omitempty"`
	}{
		StateMachineArn: sm.arn, Name: sm.name, Definition: string(x.def.Source()), RoleArn: sm.roleArn,
		UpdateDate: asl.EventTime{Time: sm.created}, LoggingConfiguration: loggingConfiguration{Level: "OFF"},
		StateMachineVersionArn: x.versionARN(), StateMachineAliasArn: x.aliasARN(),
	}, nil
}

func (s *Service) listStateMachines(body []byte) (any, error) {
	var in struct {
		MaxResults int     `json:"maxResults"`
		NextToken  *string `json:"nextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	machines := s.order
	s.mu.Unlock()
	from := 0
	if t, ok, err := readToken(in.NextToken, "", false); err != nil {
		return nil, err
	} else if ok {
		if t.Pos > len(machines) {
			return nil, errorf(codeInvalidToken, "Invalid Token: '%s'", *in.NextToken)
		}
		from = t.Pos
	}
	type item struct {
		StateMachineArn string        `json:"stateMachineArn"`
		Name            string        `json:"name"`
		Type            string        `json:"type"`
		CreationDate    asl.EventTime `json:"creationDate"`
	}
	items := []item{}
	for _, sm := range machines[from:min(from+size, len(machines))] {
		items = append(items, item{sm.arn, sm.name, "STANDARD", asl.EventTime{Time: sm.created}})
	}
	var next *string
	if rest := from + len(items); rest < len(machines) {
		t := pageToken{Pos: rest}.String()
		next = &t
	}
	return struct {
		StateMachines []item  `json:"stateMachines"`
		NextToken     *string `json:"nextToken,omitempty"`
	}{items, next}, nil
}
