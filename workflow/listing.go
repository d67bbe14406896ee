package workflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The list action's limits, the same in both of the document's steps (its
// static checks pin them): ListPageSize owned names per page, each with at
// most ListMaxIPs addresses, so that the worst page — 253-character names,
// ListMaxIPs addresses of 15 characters, a 10-digit TTL, a 17-digit
// instance id — and the result line stay under MaxInlineStdout, what
// GetCommandInvocation returns of stdout inline (aws-facts §8); the rest
// would only be in S3 or CloudWatch Logs. MaxListPage is the highest page
// the document's page parameter takes.
const (
	ListPageSize    = 50
	ListMaxIPs      = 4
	MaxListPage     = 9999
	MaxInlineStdout = 24000
	// maxRecordTTL is the largest TTL a DNS record holds (RFC 2181 §8).
	maxRecordTTL = 1<<31 - 1
)

// ListingPage is one page of the list action's output: the names the
// document's application account owns in Zone, Page of Pages (Pages is 0
// when it owns none, and a page past the end holds no names), and counts
// of the zone's other names, over the whole zone. Its JSON is what
// functions/list-zone returns for a page.
type ListingPage struct {
	Zone  string `json:"zone"`
	Page  int    `json:"page"`
	Pages int    `json:"pages"`
	// Owned are this page's owned names, in byte order of FQDN.
	Owned []OwnedRecord `json:"owned"`
	// OwnedTotal is how many names the account owns in the zone, on every
	// page (the result line's "owned").
	OwnedTotal int `json:"ownedTotal"`
	// OtherOwners counts names holding one marker of another account and
	// nothing asgdns does not write.
	OtherOwners int `json:"otherOwners"`
	// Unmarked counts names without an ownership marker: the apex, other
	// teams' records, wildcards.
	Unmarked int `json:"unmarked"`
	// Conflicts counts names asgdns cannot call anyone's: two markers, a
	// marker beside data asgdns never writes, a marker at a wildcard or in a
	// form asgdns does not write, values that fail the document's patterns.
	Conflicts int `json:"conflicts"`
}

// OwnedRecord is a name the account owns: its A records' addresses (none
// when a change stopped between the marker and the address), their TTL
// (the marker's when there is no address), and the marker's owner.
type OwnedRecord struct {
	FQDN          string   `json:"fqdn"`
	IPs           []string `json:"ips"`
	TTL           int      `json:"ttl"`
	OwnerAccount  string   `json:"ownerAccount"`
	OwnerInstance string   `json:"ownerInstance"`
}

// ListFailed is a list command that reported an outcome other than
// listed (invalid, zone-not-allowed, dns-error), as ParseOutcome reads it:
// a failed read, never an empty listing.
type ListFailed struct{ Outcome CommandOutcome }

func (e *ListFailed) Error() string {
	s := "the list command reported " + e.Outcome.Outcome
	if e.Outcome.Rcode != "" {
		s += " (" + e.Outcome.Rcode + ")"
	}
	if e.Outcome.Message != "" {
		s += ": " + e.Outcome.Message
	}
	return s
}

var (
	hostLabelPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	markerPattern    = regexp.MustCompile(`^([0-9]{12})/(i-(?:[0-9a-f]{8}|[0-9a-f]{17}))$`)
)

// ListParameters builds the SendCommand parameters for one page of the
// list action in a zone; the others keep their defaults. A zone that fails
// its allowedPattern is an InvalidHostname, a page out of range an
// InvalidEvent; nothing is sent.
func ListParameters(zone string, page int) (map[string][]string, error) {
	if len(zone) > MaxFQDN || !compiledParamPatterns[ParamZone].MatchString(zone) {
		return nil, &InvalidHostname{Problem{Field: "document parameter " + ParamZone, Value: zone,
			Reason: fmt.Sprintf("does not match allowedPattern %s", ParamPatterns[ParamZone]), Fix: "list a zone of the configuration"}}
	}
	if page < 0 || page > MaxListPage {
		return nil, &InvalidEvent{Problem{Field: "document parameter " + ParamPage, Value: strconv.Itoa(page),
			Reason: fmt.Sprintf("is not a page from 0 to %d", MaxListPage), Fix: "list the pages the first page's result counts"}}
	}
	return map[string][]string{ParamAction: {ListAction}, ParamZone: {zone}, ParamPage: {strconv.Itoa(page)}}, nil
}

// ParseListing reads the list action's stdout: one JSON line per owned
// name, then the result line, e.g.
//
//	{"fqdn":"web-1.corp.example.com","ips":["10.0.0.5"],"ttl":300,"owner":"111111111111/i-0a1b2c3d4e5f60718"}
//	{"asgdns":1,"outcome":"listed","zone":"corp.example.com","page":0,"pages":1,"owned":1,"otherOwners":0,"unmarked":3,"conflicts":0,"message":"…"}
//
// The output comes from another account's machine, and a reconciler acts
// on it, so it is read strictly: every line must be exactly one of those
// two shapes (the same keys, no others), every value the document's
// pattern, the names in byte order under the zone, all of one account, as
// many on the page as the counts say. Anything else is an error naming the
// line; a result line that is not listed (invalid, zone-not-allowed,
// dns-error) is a *ListFailed. Line ends may be CRLF (the Windows step).
func ParseListing(stdout string) (ListingPage, error) {
	lines := strings.Split(strings.TrimSuffix(strings.TrimSuffix(stdout, "\n"), "\r"), "\n")
	for i := range lines {
		lines[i] = strings.TrimSuffix(lines[i], "\r")
	}
	last := len(lines) - 1
	if lines[last] == "" {
		return ListingPage{}, fmt.Errorf("listing line %d: empty, where the result line belongs", last+1)
	}
	page, err := parseListed(lines[last])
	if lf, ok := err.(*ListFailed); ok {
		return ListingPage{}, lf
	}
	if err != nil {
		return ListingPage{}, fmt.Errorf("listing line %d (the result line): %w", last+1, err)
	}
	if want := (page.OwnedTotal + ListPageSize - 1) / ListPageSize; page.Pages != want {
		return ListingPage{}, fmt.Errorf("listing line %d (the result line): %d pages for %d owned names, want %d (%d a page)",
			last+1, page.Pages, page.OwnedTotal, want, ListPageSize)
	}
	for i, line := range lines[:last] {
		r, err := parseOwned(line, page.Zone)
		if err != nil {
			return ListingPage{}, fmt.Errorf("listing line %d: %w", i+1, err)
		}
		if i > 0 {
			prev := page.Owned[i-1]
			if r.FQDN <= prev.FQDN {
				return ListingPage{}, fmt.Errorf("listing line %d: %s does not come after %s in byte order", i+1, r.FQDN, prev.FQDN)
			}
			if r.OwnerAccount != prev.OwnerAccount {
				return ListingPage{}, fmt.Errorf("listing line %d: owner account %s, the lines before %s: a document lists one account",
					i+1, r.OwnerAccount, prev.OwnerAccount)
			}
		}
		page.Owned = append(page.Owned, r)
	}
	if onPage := min(max(page.OwnedTotal-page.Page*ListPageSize, 0), ListPageSize); last != onPage {
		return ListingPage{}, fmt.Errorf("listing: %d owned-name lines before the result line, which says page %d of %d owned names holds %d",
			last, page.Page, page.OwnedTotal, onPage)
	}
	return page, nil
}

// parseListed reads the result line.
func parseListed(line string) (ListingPage, error) {
	fields, err := jsonObject(line, "asgdns", "outcome", "zone", "page", "pages", "owned", "otherOwners", "unmarked", "conflicts", "message")
	if err != nil {
		// A failed list prints the change's result line: say what it reported.
		if strings.HasPrefix(line, `{"asgdns":`) {
			var probe struct{ Outcome string }
			if json.Unmarshal([]byte(line), &probe) == nil && probe.Outcome != OutcomeListed {
				if o := ParseOutcome(line); o != nil {
					return ListingPage{}, &ListFailed{Outcome: *o}
				}
			}
		}
		return ListingPage{}, err
	}
	var (
		version       int
		outcome, zone string
		message       string
		p             ListingPage
	)
	for _, f := range []struct {
		key string
		to  any
	}{
		{"asgdns", &version}, {"outcome", &outcome}, {"zone", &zone}, {"message", &message},
		{"page", &p.Page}, {"pages", &p.Pages}, {"owned", &p.OwnedTotal},
		{"otherOwners", &p.OtherOwners}, {"unmarked", &p.Unmarked}, {"conflicts", &p.Conflicts},
	} {
		if err := json.Unmarshal(fields[f.key], f.to); err != nil {
			return ListingPage{}, fmt.Errorf("%s is not a %T", f.key, f.to)
		}
	}
	switch {
	case version != 1:
		return ListingPage{}, fmt.Errorf("asgdns is %d, want 1", version)
	case outcome != OutcomeListed:
		return ListingPage{}, fmt.Errorf("outcome %q, want %s", outcome, OutcomeListed)
	case len(zone) > MaxFQDN || !fqdnPattern.MatchString(zone):
		return ListingPage{}, fmt.Errorf("zone is not a zone name")
	case p.Page < 0 || p.Page > MaxListPage:
		return ListingPage{}, fmt.Errorf("page %d is not from 0 to %d", p.Page, MaxListPage)
	case p.Pages < 0 || p.OwnedTotal < 0 || p.OtherOwners < 0 || p.Unmarked < 0 || p.Conflicts < 0:
		return ListingPage{}, fmt.Errorf("a count is negative")
	}
	p.Zone = zone
	return p, nil
}

// parseOwned reads one owned name's line.
func parseOwned(line, zone string) (OwnedRecord, error) {
	fields, err := jsonObject(line, "fqdn", "ips", "ttl", "owner")
	if err != nil {
		return OwnedRecord{}, err
	}
	var (
		r     OwnedRecord
		owner string
		ips   []string
	)
	for _, f := range []struct {
		key string
		to  any
	}{{"fqdn", &r.FQDN}, {"ips", &ips}, {"ttl", &r.TTL}, {"owner", &owner}} {
		if err := json.Unmarshal(fields[f.key], f.to); err != nil {
			return OwnedRecord{}, fmt.Errorf("%s is not a %T", f.key, f.to)
		}
	}
	host, ok := strings.CutSuffix(r.FQDN, "."+zone)
	if !ok || len(r.FQDN) > MaxFQDN || !hostLabelPattern.MatchString(host) {
		return OwnedRecord{}, fmt.Errorf("fqdn is not a host label in zone %s", zone)
	}
	if ips == nil { // null, not []
		return OwnedRecord{}, fmt.Errorf("ips is not a list")
	}
	if len(ips) > ListMaxIPs {
		return OwnedRecord{}, fmt.Errorf("%s: %d addresses, at most %d", r.FQDN, len(ips), ListMaxIPs)
	}
	for i, ip := range ips {
		if !ValidIPv4(ip) {
			return OwnedRecord{}, fmt.Errorf("%s: ips[%d] is not an IPv4 address", r.FQDN, i)
		}
		if slices.Contains(ips[:i], ip) {
			return OwnedRecord{}, fmt.Errorf("%s: ips[%d] repeats %s", r.FQDN, i, ip)
		}
	}
	r.IPs = ips
	if r.TTL < 0 || r.TTL > maxRecordTTL {
		return OwnedRecord{}, fmt.Errorf("%s: ttl %d is out of range", r.FQDN, r.TTL)
	}
	m := markerPattern.FindStringSubmatch(owner)
	if m == nil {
		return OwnedRecord{}, fmt.Errorf("%s: owner is not <account>/<instance id>", r.FQDN)
	}
	r.OwnerAccount, r.OwnerInstance = m[1], m[2]
	return r, nil
}

// jsonObject decodes one JSON object holding exactly the keys given (case
// and all: encoding/json alone would take "FQDN" for "fqdn", and ignore
// keys it does not know), each once, with nothing after it.
func jsonObject(line string, keys ...string) (map[string]json.RawMessage, error) {
	if strings.TrimSpace(line) != line || !strings.HasPrefix(line, "{") {
		return nil, fmt.Errorf("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(line)))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	fields := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not a JSON object")
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("not a JSON object")
		}
		if !slices.Contains(keys, key) {
			return nil, fmt.Errorf("a key other than %s", strings.Join(keys, ", "))
		}
		if _, dup := fields[key]; dup {
			return nil, fmt.Errorf("key %s twice", key)
		}
		if string(v) == "null" { // encoding/json would leave the zero value
			return nil, fmt.Errorf("%s is null", key)
		}
		fields[key] = v
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, fmt.Errorf("not a JSON object")
	}
	if dec.InputOffset() != int64(len(line)) {
		return nil, fmt.Errorf("data after the JSON object")
	}
	if len(fields) != len(keys) {
		var missing []string
		for _, k := range keys {
			if _, ok := fields[k]; !ok {
				missing = append(missing, k)
			}
		}
		return nil, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	return fields, nil
}
