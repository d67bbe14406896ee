package stepfunctions

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/asgdns/asgdns/local/asl"
)

// Versions and aliases, as Step Functions has them (developer guide,
// concepts-state-machine-version.html, concepts-state-machine-alias.html and
// execution-alias-version-associate.html):
//
//   - A version is an immutable snapshot of a revision of the definition and
//     role, numbered from 1: …:stateMachine:<name>:<n>.
//   - An alias points to one version, or routes between two by weight:
//     …:stateMachine:<name>:<alias>. Alias names are never all digits.
//   - StartExecution with a version ARN runs that version; with an alias
//     ARN, the version the alias routes to at that moment, and the execution
//     keeps it (and so does a redrive of it) when the alias moves. The
//     execution is associated with the version and the alias
//     (DescribeExecution and ListExecutions report stateMachineVersionArn
//     and stateMachineAliasArn); with the unqualified ARN, with neither.
//   - ListExecutions with the unqualified ARN lists every execution of the
//     state machine; with a version or alias ARN, only those started
//     through it.

// version is a published version of a state machine.
type version struct {
	arn         string
	number      int
	def         *asl.Definition
	roleArn     string
	revision    int
	description string
	created     time.Time
	// executions started on the version or on an alias that routed to it,
	// in start order (append-only).
	executions []*execution
}

// alias is a state machine alias.
type alias struct {
	arn, name, description string
	routes                 []route
	created, updated       time.Time
	// executions started through the alias, in start order (append-only).
	executions []*execution
}

// route is one entry of an alias's routing configuration.
type route struct {
	version *version
	weight  int
}

// pick chooses the version an execution started through the alias runs.
func (a *alias) pick() *version {
	if len(a.routes) == 1 {
		return a.routes[0].version
	}
	if rand.IntN(100) < a.routes[0].weight {
		return a.routes[0].version
	}
	return a.routes[1].version
}

// target is what a state machine ARN names: the state machine, and the
// version or alias it qualifies (nil for the unqualified ARN).
type target struct {
	arn     string
	sm      *stateMachine
	version *version
	alias   *alias
}

// resolve finds what a state machine ARN, qualified or not, names. The
// caller holds s.mu. Anything it does not find is StateMachineDoesNotExist,
// as StartExecution and ListExecutions report it.
func (s *Service) resolve(arn string) (target, error) {
	if err := checkStateMachineARN(arn); err != nil {
		return target{}, err
	}
	base, qualifier := arn, ""
	if a, _ := parseARN(arn); len(a.resource) == 2 {
		base, qualifier = arn[:strings.LastIndex(arn, ":")], a.resource[1]
	}
	sm, ok := s.machines[base]
	if !ok {
		return target{}, stateMachineDoesNotExist(arn)
	}
	t := target{arn: arn, sm: sm}
	if qualifier == "" {
		return t, nil
	}
	if n, err := strconv.Atoi(qualifier); err == nil {
		if n < 1 || n > len(sm.versions) || qualifier != strconv.Itoa(n) {
			return target{}, stateMachineDoesNotExist(arn)
		}
		t.version = sm.versions[n-1]
		return t, nil
	}
	for _, a := range sm.aliases {
		if a.name == qualifier {
			t.alias = a
			return t, nil
		}
	}
	return target{}, stateMachineDoesNotExist(arn)
}

func (s *Service) lookupTarget(arn string) (target, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resolve(arn)
}

// unqualified resolves arn, which must name a state machine itself (not a
// version or alias), as the operations on a whole state machine require.
func (s *Service) unqualified(arn string) (*stateMachine, error) {
	t, err := s.resolve(arn)
	if err != nil {
		return nil, err
	}
	if t.version != nil || t.alias != nil {
		return nil, validationf("Value '%s' at 'stateMachineArn' failed to satisfy constraint: Member must be an unqualified state machine ARN", arn)
	}
	return t.sm, nil
}

// revisionID is a revision's revisionId: stable for the revision, distinct
// for every other.
func revisionID(sm *stateMachine, revision int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s#%d", sm.arn, revision)))
	h := fmt.Sprintf("%x", sum[:16])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// UpdateStateMachine replaces the definition of a registered state machine
// (its latest revision), as CloudFormation's UpdateStateMachine does when a
// deployment changes it. Executions already started, and published
// versions, keep the definition they have. The same definition again
// changes nothing.
func (s *Service) UpdateStateMachine(stateMachineArn string, definition []byte, substitutions map[string]string) error {
	def, err := asl.Parse(definition, substitutions)
	if err != nil {
		return fmt.Errorf("stepfunctions: update %s: %w", stateMachineArn, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sm, err := s.unqualified(stateMachineArn)
	if err != nil {
		return err
	}
	if string(sm.def.Source()) != string(def.Source()) {
		sm.def = def
		sm.revision++
	}
	return nil
}

// PublishVersion publishes the state machine's current revision as a new
// version (PublishStateMachineVersion) and returns the version ARN. Like
// the API, it is idempotent: a revision already published returns that
// version.
func (s *Service) PublishVersion(stateMachineArn, description string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sm, err := s.unqualified(stateMachineArn)
	if err != nil {
		return "", err
	}
	v, err := s.publish(sm, "", description)
	if err != nil {
		return "", err
	}
	return v.arn, nil
}

// publish does PublishStateMachineVersion; the caller holds s.mu.
func (s *Service) publish(sm *stateMachine, revision, description string) (*version, error) {
	if revision != "" && revision != revisionID(sm, sm.revision) {
		return nil, errorf(codeConflict, "Failed to publish the State Machine version for revision %s. The current State Machine revision is %s.", revision, revisionID(sm, sm.revision))
	}
	if n := len(sm.versions); n > 0 && sm.versions[n-1].revision == sm.revision {
		return sm.versions[n-1], nil
	}
	v := &version{
		arn: fmt.Sprintf("%s:%d", sm.arn, len(sm.versions)+1), number: len(sm.versions) + 1,
		def: sm.def, roleArn: sm.roleArn, revision: sm.revision, description: description, created: s.clock.Now(),
	}
	sm.versions = append(sm.versions, v)
	return v, nil
}

// SetAlias points the state machine's alias name at one version, creating
// the alias if it does not exist (CreateStateMachineAlias, or
// UpdateStateMachineAlias with a routing configuration of that version at
// weight 100), as CloudFormation's AWS::StepFunctions::StateMachineAlias
// with an ALL_AT_ONCE deployment does. It returns the alias ARN.
// Executions already started keep their version.
func (s *Service) SetAlias(stateMachineArn, name, versionArn string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sm, err := s.unqualified(stateMachineArn)
	if err != nil {
		return "", err
	}
	routes, err := s.routing(sm, []routingEntry{{VersionArn: versionArn, Weight: 100}})
	if err != nil {
		return "", err
	}
	for _, a := range sm.aliases {
		if a.name == name {
			a.routes, a.updated = routes, s.clock.Now()
			return a.arn, nil
		}
	}
	a, err := s.createAlias(sm, name, "", routes)
	if err != nil {
		return "", err
	}
	return a.arn, nil
}

// aliasName is CreateStateMachineAlias's name constraint: letters, digits,
// _ - . and not only digits ("To avoid conflict with version ARNs, don't
// use an integer in the name of the alias").
var aliasName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,80}$`)

// createAlias adds an alias; the caller holds s.mu.
func (s *Service) createAlias(sm *stateMachine, name, description string, routes []route) (*alias, error) {
	if !aliasName.MatchString(name) || strings.Trim(name, "0123456789") == "" {
		return nil, validationf("Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(?=.*[a-zA-Z_\\-\\.])[a-zA-Z0-9_\\-\\.]+$", name)
	}
	now := s.clock.Now()
	a := &alias{arn: sm.arn + ":" + name, name: name, description: description, routes: routes, created: now, updated: now}
	sm.aliases = append(sm.aliases, a)
	return a, nil
}

// routingEntry is RoutingConfigurationListItem.
type routingEntry struct {
	VersionArn string `json:"stateMachineVersionArn"`
	Weight     int    `json:"weight"`
}

// routing checks a routing configuration: one or two distinct versions of
// sm, weights 0-100 adding up to 100. The caller holds s.mu.
func (s *Service) routing(sm *stateMachine, entries []routingEntry) ([]route, error) {
	if len(entries) < 1 || len(entries) > 2 {
		return nil, validationf("Value at 'routingConfiguration' failed to satisfy constraint: Member must have length between 1 and 2")
	}
	var routes []route
	total := 0
	for _, e := range entries {
		if e.Weight < 0 || e.Weight > 100 {
			return nil, validationf("Value '%d' at 'routingConfiguration.member.weight' failed to satisfy constraint: Member must have value between 0 and 100", e.Weight)
		}
		t, err := s.resolve(e.VersionArn)
		if err != nil || t.version == nil || t.sm != sm {
			return nil, errorf(codeResourceNotFound, "Resource not found: '%s' is not a version of %s", e.VersionArn, sm.arn)
		}
		if len(routes) == 1 && routes[0].version == t.version {
			return nil, errorf(codeValidation, "Routing configuration must contain distinct state machine versions")
		}
		routes = append(routes, route{version: t.version, weight: e.Weight})
		total += e.Weight
	}
	if total != 100 {
		return nil, errorf(codeValidation, "Sum of routing configuration weights must be equal to 100")
	}
	return routes, nil
}

func (a *alias) routingConfiguration() []routingEntry {
	out := make([]routingEntry, len(a.routes))
	for i, r := range a.routes {
		out[i] = routingEntry{VersionArn: r.version.arn, Weight: r.weight}
	}
	return out
}

// The operations.

func (s *Service) publishStateMachineVersion(body []byte) (any, error) {
	var in struct {
		StateMachineArn *string `json:"stateMachineArn"`
		RevisionID      string  `json:"revisionId"`
		Description     string  `json:"description"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	arn, err := required("stateMachineArn", in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	if err := maxLength("description", in.Description, 256); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sm, err := s.unqualified(arn)
	if err != nil {
		return nil, err
	}
	v, err := s.publish(sm, in.RevisionID, in.Description)
	if err != nil {
		return nil, err
	}
	return struct {
		CreationDate           asl.EventTime `json:"creationDate"`
		StateMachineVersionArn string        `json:"stateMachineVersionArn"`
	}{asl.EventTime{Time: v.created}, v.arn}, nil
}

// listRequest is what ListStateMachineVersions and ListStateMachineAliases
// take: the state machine, a page size and the previous page's token.
type listRequest struct {
	arn   string
	size  int
	token *string
}

func decodeListRequest(body []byte) (listRequest, error) {
	var in struct {
		StateMachineArn *string `json:"stateMachineArn"`
		MaxResults      int     `json:"maxResults"`
		NextToken       *string `json:"nextToken"`
	}
	if err := decode(body, &in); err != nil {
		return listRequest{}, err
	}
	arn, err := required("stateMachineArn", in.StateMachineArn)
	if err != nil {
		return listRequest{}, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return listRequest{}, err
	}
	return listRequest{arn: arn, size: size, token: in.NextToken}, nil
}

func (s *Service) listStateMachineVersions(body []byte) (any, error) {
	req, err := decodeListRequest(body)
	if err != nil {
		return nil, err
	}
	arn, size := req.arn, req.size
	s.mu.Lock()
	defer s.mu.Unlock()
	sm, err := s.unqualified(arn)
	if err != nil {
		return nil, err
	}
	type item struct {
		StateMachineVersionArn string        `json:"stateMachineVersionArn"`
		CreationDate           asl.EventTime `json:"creationDate"`
	}
	// Newest first, as the API lists them.
	from := len(sm.versions) - 1
	if t, ok, err := readToken(req.token, arn, true); err != nil {
		return nil, err
	} else if ok {
		if t.Pos >= len(sm.versions) {
			return nil, errorf(codeInvalidToken, "Invalid Token: '%s'", *req.token)
		}
		from = t.Pos
	}
	items := []item{}
	i := from
	for ; i >= 0 && len(items) < size; i-- {
		items = append(items, item{sm.versions[i].arn, asl.EventTime{Time: sm.versions[i].created}})
	}
	var next *string
	if i >= 0 {
		t := pageToken{Of: arn, Pos: i, Reverse: true}.String()
		next = &t
	}
	return struct {
		StateMachineVersions []item  `json:"stateMachineVersions"`
		NextToken            *string `json:"nextToken,omitempty"`
	}{items, next}, nil
}

func (s *Service) createStateMachineAlias(body []byte) (any, error) {
	var in struct {
		Name                 *string        `json:"name"`
		Description          string         `json:"description"`
		RoutingConfiguration []routingEntry `json:"routingConfiguration"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	name, err := required("name", in.Name)
	if err != nil {
		return nil, err
	}
	if err := maxLength("description", in.Description, 256); err != nil {
		return nil, err
	}
	if len(in.RoutingConfiguration) == 0 {
		return nil, validationf("Value null at 'routingConfiguration' failed to satisfy constraint: Member must not be null")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The alias belongs to the state machine of its versions.
	first := in.RoutingConfiguration[0].VersionArn
	t, err := s.resolve(first)
	if err != nil || t.version == nil {
		return nil, errorf(codeResourceNotFound, "Resource not found: '%s'", first)
	}
	routes, err := s.routing(t.sm, in.RoutingConfiguration)
	if err != nil {
		return nil, err
	}
	for _, a := range t.sm.aliases {
		if a.name != name {
			continue
		}
		// Idempotent for the same configuration, a conflict otherwise.
		if a.description == in.Description && sameRoutes(a.routes, routes) {
			return aliasCreated(a), nil
		}
		return nil, errorf(codeConflict, "Failed to create alias because an alias with the same name and a different routing configuration already exists.")
	}
	a, err := s.createAlias(t.sm, name, in.Description, routes)
	if err != nil {
		return nil, err
	}
	return aliasCreated(a), nil
}

func sameRoutes(a, b []route) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func aliasCreated(a *alias) any {
	return struct {
		StateMachineAliasArn string        `json:"stateMachineAliasArn"`
		CreationDate         asl.EventTime `json:"creationDate"`
	}{a.arn, asl.EventTime{Time: a.created}}
}

// aliasFrom finds the alias a request's stateMachineAliasArn names.
func (s *Service) aliasFrom(arn *string) (*alias, error) {
	v, err := required("stateMachineAliasArn", arn)
	if err != nil {
		return nil, err
	}
	t, err := s.resolve(v)
	if err != nil {
		var e *Error
		if asErr(err, &e) && e.Code == codeInvalidArn {
			return nil, err
		}
		return nil, errorf(codeResourceNotFound, "Resource not found: '%s'", v)
	}
	if t.alias == nil {
		return nil, errorf(codeInvalidArn, "Invalid Arn: '%s' is not a state machine alias ARN", v)
	}
	return t.alias, nil
}

func (s *Service) describeStateMachineAlias(body []byte) (any, error) {
	var in struct {
		StateMachineAliasArn *string `json:"stateMachineAliasArn"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.aliasFrom(in.StateMachineAliasArn)
	if err != nil {
		return nil, err
	}
	return struct {
		StateMachineAliasArn string         `json:"stateMachineAliasArn"`
		Name                 string         `json:"name"`
		Description          string         `json:"description,omitempty"`
		RoutingConfiguration []routingEntry `json:"routingConfiguration"`
		CreationDate         asl.EventTime  `json:"creationDate"`
		UpdateDate           asl.EventTime  `json:"updateDate"`
	}{a.arn, a.name, a.description, a.routingConfiguration(), asl.EventTime{Time: a.created}, asl.EventTime{Time: a.updated}}, nil
}

func (s *Service) updateStateMachineAlias(body []byte) (any, error) {
	var in struct {
		StateMachineAliasArn *string        `json:"stateMachineAliasArn"`
		Description          *string        `json:"description"`
		RoutingConfiguration []routingEntry `json:"routingConfiguration"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.aliasFrom(in.StateMachineAliasArn)
	if err != nil {
		return nil, err
	}
	if in.Description == nil && in.RoutingConfiguration == nil {
		return nil, errorf(codeValidation, "Either the description or the RoutingConfiguration must be specified")
	}
	if in.RoutingConfiguration != nil {
		t, _ := s.resolve(a.arn)
		routes, err := s.routing(t.sm, in.RoutingConfiguration)
		if err != nil {
			return nil, err
		}
		a.routes = routes
	}
	if in.Description != nil {
		a.description = *in.Description
	}
	a.updated = s.clock.Now()
	return struct {
		UpdateDate asl.EventTime `json:"updateDate"`
	}{asl.EventTime{Time: a.updated}}, nil
}

func (s *Service) listStateMachineAliases(body []byte) (any, error) {
	req, err := decodeListRequest(body)
	if err != nil {
		return nil, err
	}
	arn, size := req.arn, req.size
	s.mu.Lock()
	defer s.mu.Unlock()
	sm, err := s.unqualified(arn)
	if err != nil {
		return nil, err
	}
	from := 0
	if t, ok, err := readToken(req.token, arn, false); err != nil {
		return nil, err
	} else if ok {
		if t.Pos > len(sm.aliases) {
			return nil, errorf(codeInvalidToken, "Invalid Token: '%s'", *req.token)
		}
		from = t.Pos
	}
	type item struct {
		StateMachineAliasArn string        `json:"stateMachineAliasArn"`
		CreationDate         asl.EventTime `json:"creationDate"`
	}
	items := []item{}
	for _, a := range sm.aliases[from:min(from+size, len(sm.aliases))] {
		items = append(items, item{a.arn, asl.EventTime{Time: a.created}})
	}
	var next *string
	if rest := from + len(items); rest < len(sm.aliases) {
		t := pageToken{Of: arn, Pos: rest}.String()
		next = &t
	}
	return struct {
		StateMachineAliases []item  `json:"stateMachineAliases"`
		NextToken           *string `json:"nextToken,omitempty"`
	}{items, next}, nil
}
