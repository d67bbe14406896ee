package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/asgdns/asgdns/workflow"
)

// A DNS label as RFC 1123 allows it, in lower case. This exact pattern is
// also the SSM document's allowedPattern for the hostname.
var labelPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// maxLabel is the longest a DNS label may be (RFC 1035 §2.3.4).
const maxLabel = 63

// placeholders maps template placeholders to what they read from the
// instance; {tag:KEY} is handled separately.
var placeholders = map[string]func(Instance) string{
	"asg":         func(i Instance) string { return i.ASG },
	"asg-label":   func(i Instance) string { return asgLabel(i.ASG) },
	"instance-id": func(i Instance) string { return i.ID },
	"id":          func(i Instance) string { return strings.TrimPrefix(i.ID, "i-") },
	"short-id":    func(i Instance) string { id := strings.TrimPrefix(i.ID, "i-"); return id[max(0, len(id)-8):] },
	"az":          func(i Instance) string { return i.AZ },
}

func placeholderNames() []string {
	names := make([]string, 0, len(placeholders)+1)
	for k := range placeholders {
		names = append(names, "{"+k+"}")
	}
	slices.Sort(names)
	return append(names, "{tag:KEY}")
}

// Instance is what a hostname template can read about an instance.
type Instance struct {
	ID   string
	ASG  string
	AZ   string
	Tags map[string]string
}

// Template is a parsed hostname template: literal text and placeholders.
type Template struct {
	source string
	parts  []part
}

type part struct {
	literal string // when placeholder and tag are empty
	name    string // a key of placeholders
	tag     string // for {tag:KEY}
}

// ParseTemplate checks a hostname template: literal text of lower-case
// letters, digits and hyphens, and known placeholders.
func ParseTemplate(src string) (Template, error) {
	t := Template{source: src}
	if src == "" {
		return t, errors.New("is empty")
	}
	rest := src
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			open = len(rest)
		}
		if lit := rest[:open]; lit != "" {
			if i := strings.IndexFunc(lit, func(r rune) bool { return !isLDH(r) }); i >= 0 {
				if strings.ContainsRune(lit, '}') {
					return t, errors.New("has a '}' without a matching '{'")
				}
				return t, fmt.Errorf("has %s outside a placeholder; only a-z, 0-9 and - may appear there", strconv.QuoteRuneToASCII([]rune(lit[i:])[0]))
			}
			t.parts = append(t.parts, part{literal: lit})
		}
		if open == len(rest) {
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return t, errors.New("has a '{' without a closing '}'")
		}
		name := rest[open+1 : open+end]
		switch {
		case strings.HasPrefix(name, "tag:"):
			key := strings.TrimPrefix(name, "tag:")
			if key == "" || len(key) > 128 || strings.ContainsAny(key, "{") {
				return t, fmt.Errorf("has a tag placeholder with an invalid key %s", strconv.QuoteToASCII(key))
			}
			t.parts = append(t.parts, part{tag: key})
		case placeholders[name] != nil:
			t.parts = append(t.parts, part{name: name})
		default:
			return t, fmt.Errorf("has an unknown placeholder {%s}", name)
		}
		rest = rest[open+end+1:]
	}
	return t, nil
}

func isLDH(r rune) bool { return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' }

// asgLabel is an ASG name as label text: lower-cased, every run of
// characters a label cannot hold ("_", ".", spaces, …) made one "-", and no
// "-" at either end. Many real ASG names are not labels (EKS node groups
// "eks-ng_web-…", Elastic Beanstalk "awseb-e-….AWSEBAutoScalingGroup-…"), so
// the default template uses this rather than {asg}. Two ASGs may map to the
// same text; a template that also holds the instance id stays unique.
func asgLabel(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range asciiLower(name) {
		if isLDH(r) && r != '-' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}

// Render applies the template to an instance. Values are lower-cased (DNS is
// case-insensitive); any other character a label cannot hold is an
// InvalidHostname naming where it came from. Nothing is silently replaced,
// so two instances can never collapse onto one name by sanitising.
func (t Template) Render(inst Instance) (string, error) {
	var b strings.Builder
	room := t.roomForASGLabel(inst)
	for _, p := range t.parts {
		var value, source string
		switch {
		case p.name == "asg-label":
			// Cut to what the label has room for, never ending in "-".
			label := asgLabel(inst.ASG)
			value, source = strings.TrimRight(label[:min(room, len(label))], "-"), "{asg-label}"
		case p.name != "":
			value, source = placeholders[p.name](inst), "{"+p.name+"}"
		case p.tag != "":
			v, ok := inst.Tags[p.tag]
			if !ok {
				return "", hostnameError(fmt.Sprintf("tag %s of %s", strconv.QuoteToASCII(p.tag), inst.ID), "",
					"is not set, but the hostname template "+strconv.QuoteToASCII(t.source)+" uses it",
					"tag the instance (propagate the tag from the ASG), or change hostnameTemplate")
			}
			value, source = v, fmt.Sprintf("tag %s of %s", strconv.QuoteToASCII(p.tag), inst.ID)
		default:
			b.WriteString(p.literal)
			continue
		}
		lower := asciiLower(value)
		if i := strings.IndexFunc(lower, func(r rune) bool { return !isLDH(r) }); i >= 0 {
			return "", hostnameError(source, value,
				fmt.Sprintf("contains %s, which a DNS label cannot hold (only a-z, 0-9, -)", strconv.QuoteRuneToASCII([]rune(lower[i:])[0])),
				"change the value, or set a hostnameTemplate in the hook's NotificationMetadata that does not use it")
		}
		b.WriteString(lower)
	}
	label := b.String()
	if !labelPattern.MatchString(label) {
		return "", hostnameError("hostname", label,
			"from template "+strconv.QuoteToASCII(t.source)+" is not a DNS label (1-63 of a-z 0-9 -, no leading or trailing -)",
			"shorten the template, e.g. {asg}-{short-id}, or change the values it uses")
	}
	return label, nil
}

// roomForASGLabel is how many characters {asg-label} may take (each use
// of it) so the label fits 63: whatever the rest of the template leaves.
func (t Template) roomForASGLabel(inst Instance) int {
	rest, uses := 0, 0
	for _, p := range t.parts {
		switch {
		case p.name == "asg-label":
			uses++
		case p.name != "":
			rest += len(placeholders[p.name](inst))
		case p.tag != "":
			rest += len(inst.Tags[p.tag])
		default:
			rest += len(p.literal)
		}
	}
	if uses == 0 {
		return 0
	}
	return max(maxLabel-rest, 0) / uses
}

// UniquePerInstance reports whether the template holds the instance id (or
// a part of it), so two instances can never be given the same name.
// {short-id} is the id's last 8 hex digits: unique among the instances an
// ASG runs at once in practice, though not in principle.
func (t Template) UniquePerInstance() bool {
	for _, p := range t.parts {
		if p.name == "instance-id" || p.name == "id" || p.name == "short-id" {
			return true
		}
	}
	return false
}

// UsesLiveFacts reports whether the template reads anything only a live
// instance has (its AZ or tags), as opposed to the ASG name and instance id
// that the event itself carries.
func (t Template) UsesLiveFacts() bool {
	for _, p := range t.parts {
		if p.tag != "" || p.name == "az" {
			return true
		}
	}
	return false
}

// asciiLower lower-cases A-Z only: unicode look-alikes stay as they are and
// are rejected.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// ValidLabel reports whether s is a lower-case RFC 1123 label.
func ValidLabel(s string) bool { return labelPattern.MatchString(s) }

// LabelPattern is the label regular expression, shared with the SSM document.
func LabelPattern() string { return labelPattern.String() }

// NormalizeZone checks that zone is a domain name of two or more labels and
// returns it lower-cased without a trailing dot.
func NormalizeZone(zone string) (string, error) {
	z := strings.TrimSuffix(asciiLower(zone), ".")
	if z == "" {
		return "", errors.New("is empty")
	}
	if len(z) > workflow.MaxFQDN-2 {
		return "", errors.New("is longer than a domain name can be")
	}
	labels := strings.Split(z, ".")
	if len(labels) < 2 {
		return "", errors.New("is a single label; use a domain such as corp.example.com")
	}
	for _, l := range labels {
		if !labelPattern.MatchString(l) {
			return "", fmt.Errorf("has the label %s, which is not 1-63 of a-z 0-9 - (no leading or trailing -)", strconv.QuoteToASCII(l))
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "", errors.New("ends in a numeric label: that is an address, not a domain")
	}
	return z, nil
}

// Record derives the DNS record for an instance from the settings.
func (s Settings) Record(inst Instance) (workflow.Record, error) {
	t, err := ParseTemplate(s.HostnameTemplate)
	if err != nil {
		return workflow.Record{}, configError("hostnameTemplate", s.HostnameTemplate, err.Error(), "fix the template")
	}
	zone, err := NormalizeZone(s.Zone)
	if err != nil {
		return workflow.Record{}, configError("zone", s.Zone, err.Error(), "use a domain name such as corp.example.com")
	}
	host, err := t.Render(inst)
	if err != nil {
		return workflow.Record{}, err
	}
	fqdn := host + "." + zone
	if len(fqdn) > workflow.MaxFQDN {
		return workflow.Record{}, hostnameError("fqdn", fqdn, "is longer than 253 characters", "use a shorter template or zone")
	}
	return workflow.Record{Hostname: host, Zone: zone, FQDN: fqdn, TTL: s.TTL, PTR: s.PTR}, nil
}

// CheckRecord checks a record that comes from an execution's state rather
// than from Record (a replay carries the record its failed execution was
// removing): a valid label, zone, FQDN, TTL, consistent with each other.
func CheckRecord(r workflow.Record) error {
	zone, err := NormalizeZone(r.Zone)
	switch {
	case err != nil:
		return hostnameError("state.instance.record.zone", r.Zone, err.Error(), "replay the original event")
	case zone != r.Zone || !labelPattern.MatchString(r.Hostname) || r.FQDN != r.Hostname+"."+r.Zone || len(r.FQDN) > workflow.MaxFQDN:
		return hostnameError("state.instance.record", r.FQDN, "is not a hostname, zone and FQDN that belong together",
			"replay the original event")
	case r.TTL < minTTL || r.TTL > maxTTL:
		return hostnameError("state.instance.record.ttl", strconv.Itoa(r.TTL), "is out of range", "replay the original event")
	}
	return nil
}

func hostnameError(field, value, reason, fix string) error {
	return &workflow.InvalidHostname{Problem: workflow.Problem{Field: field, Value: value, Reason: reason, Fix: fix}}
}
