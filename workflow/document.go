package workflow

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The SSM Command document's interface: its step names (one per DC
// platform, chosen by precondition) and its parameters. Each parameter
// reaches the script only as an environment variable SSM_<name>
// (interpolationType ENV_VAR), and each value is checked here against the
// same pattern the document declares as allowedPattern, before it is sent.
const (
	StepWindows = "manageWindowsDns"
	StepLinux   = "manageLinuxDns"

	ParamAction   = "action"
	ParamHostname = "hostname"
	ParamZone     = "zone"
	ParamIPv4     = "ipv4Address"
	ParamOwner    = "ownerInstanceId"
	ParamTTL      = "ttl"
	ParamPTR      = "ptr"
	// ParamPage is the page the list action prints (0 first); register and
	// deregister leave it at its default.
	ParamPage = "page"
)

// ListAction is the document's third action besides register and
// deregister (ActionRegister, ActionDeregister): it prints the names the
// document's application account owns in one zone, a page at a time
// (ListParameters, ParseListing), and changes nothing. It is not an
// Action: no lifecycle event lists.
const ListAction = "list"

// ParamPatterns are the document parameters' allowedPattern values. They use
// only syntax Go's regexp and Java's java.util.regex read the same way
// (anchors, classes, bounded repeats), because SSM checks with both.
// hostname and ownerInstanceId also accept "" (their default, for list);
// the document refuses them empty for register and deregister, and so does
// DocumentParameters.
var ParamPatterns = map[string]string{
	ParamAction:   `^(register|deregister|list)$`,
	ParamHostname: `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$|^$`,
	ParamZone:     `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`,
	ParamIPv4:     `^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$|^$`,
	ParamOwner:    `^i-([0-9a-f]{8}|[0-9a-f]{17})$|^$`,
	ParamTTL:      `^[0-9]{1,5}$`,
	ParamPTR:      `^(true|false)$`,
	ParamPage:     `^[0-9]{1,4}$`,
}

var compiledParamPatterns = func() map[string]*regexp.Regexp {
	m := make(map[string]*regexp.Regexp, len(ParamPatterns))
	for k, p := range ParamPatterns {
		m[k] = regexp.MustCompile(p)
	}
	return m
}()

// StepFor returns the document step that runs on a DC platform (Windows or
// Linux, exactly), or "" for anything else.
func StepFor(platform string) string {
	switch platform {
	case "Linux":
		return StepLinux
	case "Windows":
		return StepWindows
	}
	return ""
}

// The limits the document enforces again on the DC, as config does here:
// a TTL's range and a domain name's length.
const (
	MinTTL  = 30
	MaxTTL  = 86400
	MaxFQDN = 253
)

// ParamNames lists the document parameters in a fixed order.
var ParamNames = []string{ParamAction, ParamHostname, ParamZone, ParamIPv4, ParamOwner, ParamTTL, ParamPTR, ParamPage}

// recordParamNames are the parameters DocumentParameters sends for register
// and deregister: all but page, which they leave at its default.
var recordParamNames = []string{ParamAction, ParamHostname, ParamZone, ParamIPv4, ParamOwner, ParamTTL, ParamPTR}

// DocumentParameters builds the SendCommand parameters for an action on an
// instance's record, and checks every value against its allowedPattern. A
// value that does not match is an InvalidHostname or InvalidEvent naming
// the parameter; nothing is sent.
func DocumentParameters(action Action, inst *InstanceResult) (map[string][]string, error) {
	if inst == nil || inst.Record == nil {
		return nil, &InvalidEvent{Problem{Field: "state.instance.record", Reason: "is missing",
			Fix: "run DescribeInstance before SendCommand (check the state machine definition)"}}
	}
	ip := inst.PrivateIP
	if action == ActionRegister && ip == "" {
		return nil, &InvalidEvent{Problem{Field: "state.instance.privateIp", Reason: "is empty, so there is no address to register",
			Fix: "replay from DescribeInstance"}}
	}
	if ip != "" {
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
			return nil, &InvalidEvent{Problem{Field: "state.instance.privateIp", Value: ip, Reason: "is not an IPv4 address",
				Fix: "replay from DescribeInstance"}}
		}
	}
	params := map[string][]string{
		ParamAction:   {string(action)},
		ParamHostname: {inst.Record.Hostname},
		ParamZone:     {inst.Record.Zone},
		ParamIPv4:     {ip},
		ParamOwner:    {inst.InstanceID},
		ParamTTL:      {strconv.Itoa(inst.Record.TTL)},
		ParamPTR:      {strconv.FormatBool(inst.Record.PTR)},
	}
	for _, name := range recordParamNames {
		v := params[name][0]
		// The patterns accept "" for hostname and ownerInstanceId (list's
		// defaults); a record always names both.
		empty := v == "" && (name == ParamHostname || name == ParamOwner)
		if empty || !compiledParamPatterns[name].MatchString(v) {
			p := Problem{Field: "document parameter " + name, Value: v,
				Reason: fmt.Sprintf("does not match allowedPattern %s", ParamPatterns[name]),
				Fix:    "replay from DescribeInstance, which derives valid values"}
			if empty {
				p.Reason = "is empty: register and deregister need it"
			}
			if name == ParamHostname || name == ParamZone {
				return nil, &InvalidHostname{p}
			}
			return nil, &InvalidEvent{p}
		}
	}
	return params, nil
}

// ValidIPv4 reports whether ip is an IPv4 address the document accepts.
func ValidIPv4(ip string) bool { return compiledParamPatterns[ParamIPv4].MatchString(ip) && ip != "" }

// The DNS command's outcomes. Exit 0: Created, Unchanged, Replaced, Deleted,
// Absent. Exit 10, every instance would fail the same way: Invalid,
// ZoneNotAllowed. Exit 20: DNSError. Exit 30, the name holds data this
// owner did not write, nothing changed: Conflict.
const (
	OutcomeCreated        = "created"
	OutcomeUnchanged      = "unchanged"
	OutcomeReplaced       = "replaced"
	OutcomeDeleted        = "deleted"
	OutcomeAbsent         = "absent"
	OutcomeInvalid        = "invalid"
	OutcomeZoneNotAllowed = "zone-not-allowed"
	OutcomeDNSError       = "dns-error"
	OutcomeConflict       = "conflict"
)

// OutcomeListed is the list action's success (exit 0): its result line
// carries the page and the counts, not a record's fields, and is read with
// the owned names before it by ParseListing. A list that fails reports
// invalid, zone-not-allowed or dns-error like a change.
const OutcomeListed = "listed"

// Outcomes lists every outcome the document reports for register and
// deregister (ParseOutcome's); list adds OutcomeListed.
var Outcomes = []string{OutcomeCreated, OutcomeUnchanged, OutcomeReplaced, OutcomeDeleted, OutcomeAbsent,
	OutcomeInvalid, OutcomeZoneNotAllowed, OutcomeDNSError, OutcomeConflict}

// PTRStates lists what the document reports of the PTR record
// (CommandOutcome.PTR); PTRWarnings are those that did not fail the command
// but leave the PTR other than asked.
var (
	PTRStates   = []string{"off", "written", "unchanged", "removed", "none", "no-zone", "foreign", "refused", "error"}
	PTRWarnings = []string{"foreign", "refused", "error"}
)

// RefusingRcodes are the dns-error codes that mean the DNS server will not
// take asgdns's update at all — a TSIG key, an update policy, a zone the
// server is not primary for: every instance would fail the same way
// (RFC 2136 §2.2 and RFC 8945 §5.3 codes; PermissionDenied is the Windows
// step's DnsServer module saying the same, as is Win32 9005,
// DNS_ERROR_RCODE_REFUSED). Anything else (SERVFAIL,
// TIMEOUT, UNREACHABLE, ERROR, …) may pass: the instance is held and tried
// again.
var RefusingRcodes = []string{"REFUSED", "NOTAUTH", "NOTZONE", "NOTIMP", "FORMERR", "BADKEY", "BADSIG", "BADTIME", "PermissionDenied", "9005"}

var (
	fqdnPattern = regexp.MustCompile(ParamPatterns[ParamZone])
	// rcodePattern is a DNS response code (REFUSED, TIMEOUT) or, from the
	// Windows step, the DnsServer module's error code (9005, PermissionDenied).
	rcodePattern = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)
	// ownerPattern is the holder of a name as the document reads its marker:
	// <account>/<instance>, an instance alone (an older marker), or
	// "unreadable".
	ownerPattern = regexp.MustCompile(`^([0-9]{12}/)?i-[0-9a-f]{8,17}$|^unreadable$`)
)

// ParseOutcome finds the DNS command's machine-readable result: the last line
// of stdout that is a JSON object with an "asgdns" key, e.g.
//
//	{"asgdns":1,"outcome":"replaced","fqdn":"web-1.corp.example.com","ip":"10.0.0.5","ptr":"off"}
//
// It returns nil when there is none, or its outcome is not one of Outcomes.
// The line comes from another account's machine: each field is kept only in
// the shape the document writes it (the message is free text, checked by
// whoever copies it further).
func ParseOutcome(stdout string) *CommandOutcome {
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, `{"asgdns":`) {
			continue
		}
		var o CommandOutcome
		if json.Unmarshal([]byte(line), &o) != nil || o.Outcome == "" {
			continue
		}
		if !slices.Contains(Outcomes, o.Outcome) {
			return nil
		}
		keep := func(v *string, ok bool) {
			if !ok {
				*v = ""
			}
		}
		keep(&o.FQDN, len(o.FQDN) <= MaxFQDN && fqdnPattern.MatchString(o.FQDN))
		keep(&o.IP, compiledParamPatterns[ParamIPv4].MatchString(o.IP))
		keep(&o.PTR, slices.Contains(PTRStates, o.PTR))
		keep(&o.Rcode, rcodePattern.MatchString(o.Rcode))
		keep(&o.Owner, ownerPattern.MatchString(o.Owner))
		return &o
	}
	return nil
}
