// Package config resolves what asgdns does for one ASG: stack defaults from
// the function's environment, per-ASG overrides from the lifecycle hook's
// NotificationMetadata (JSON), and the hostname/FQDN derived from a template.
//
// Every value is validated before any side effect; a bad one is a
// workflow.InvalidConfig (or InvalidHostname) naming the field, the value and
// the fix.
package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/asgdns/asgdns/workflow"
)

// Environment variables: the stack parameters, as template.yaml passes them.
const (
	EnvZone             = "ASGDNS_ZONE"
	EnvHostnameTemplate = "ASGDNS_HOSTNAME_TEMPLATE"
	EnvTTL              = "ASGDNS_TTL"
	EnvPTR              = "ASGDNS_PTR"
	EnvDCInstanceIDs    = "ASGDNS_DC_INSTANCE_IDS"
	EnvDCPlatform       = "ASGDNS_DC_PLATFORM"
	EnvDocumentName     = "ASGDNS_DOCUMENT_NAME"
	EnvRoleARN          = "ASGDNS_ROLE_ARN"
	EnvExternalID       = "ASGDNS_EXTERNAL_ID"
	EnvOnFailure        = "ASGDNS_ON_FAILURE"
	EnvSharedHostname   = "ASGDNS_SHARED_HOSTNAME"
	EnvHookNames        = "ASGDNS_HOOK_NAMES"
)

// Defaults for settings the stack may leave out.
const (
	DefaultHostnameTemplate = "{asg-label}-{instance-id}"
	DefaultTTL              = 300
	DefaultDocumentName     = "asgdns-dns-record"
	DefaultDCPlatform       = PlatformWindows
	DefaultOnFailure        = workflow.Abandon
)

// DC platforms: each runs its own step of the SSM document.
const (
	PlatformWindows = "Windows"
	PlatformLinux   = "Linux"
)

const (
	minTTL = workflow.MinTTL
	maxTTL = workflow.MaxTTL
	// maxDCs bounds the DC list; SendCommand accepts at most 50 instances
	// and a handful is all failover needs.
	maxDCs = 10
)

var (
	documentNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,128}$`)
	roleARNPattern      = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):iam::([0-9]{12}):role/([\w+=,.@/-]{1,512})$`)
	externalIDPattern   = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

// Settings is the resolved configuration for one ASG.
type Settings struct {
	Zone             string
	HostnameTemplate string
	TTL              int
	PTR              bool
	DCInstanceIDs    []string
	DCPlatform       string
	DocumentName     string
	OnFailure        workflow.LifecycleActionResult
	// SharedHostname is the operator saying a template that does not hold
	// the instance id is meant to give every instance the same name. Only
	// the first instance gets it; the others end FAILED with a conflict.
	SharedHostname bool
}

// Session is what the cross-account functions need to assume the
// shared-services role. It is a deployment setting, never per ASG.
type Session struct {
	RoleARN string
	// Account is the shared-services account id, taken from RoleARN.
	Account string
	// ExternalID is optional. It is not a secret in AWS's model, but it is
	// still kept out of outputs and logs.
	ExternalID string
}

// Lookup reads an environment variable; os.LookupEnv in production.
type Lookup func(string) (string, bool)

// Load reads the stack defaults. Required: ASGDNS_ZONE and
// ASGDNS_DC_INSTANCE_IDS; the rest have defaults.
func Load(env Lookup) (Settings, error) {
	s := Settings{
		HostnameTemplate: DefaultHostnameTemplate, TTL: DefaultTTL,
		DCPlatform: DefaultDCPlatform, DocumentName: DefaultDocumentName, OnFailure: DefaultOnFailure,
	}
	var err error
	if s.Zone, err = required(env, EnvZone); err != nil {
		return Settings{}, err
	}
	ids, err := required(env, EnvDCInstanceIDs)
	if err != nil {
		return Settings{}, err
	}
	s.DCInstanceIDs = splitList(ids)
	if v, ok := env(EnvHostnameTemplate); ok && v != "" {
		s.HostnameTemplate = v
	}
	if v, ok := env(EnvTTL); ok && v != "" {
		if s.TTL, err = strconv.Atoi(v); err != nil {
			return Settings{}, envError(EnvTTL, v, fmt.Sprintf("is not a number of seconds (%d-%d)", minTTL, maxTTL))
		}
	}
	if v, ok := env(EnvPTR); ok && v != "" {
		if s.PTR, err = strconv.ParseBool(v); err != nil {
			return Settings{}, envError(EnvPTR, v, "is not true or false")
		}
	}
	if v, ok := env(EnvSharedHostname); ok && v != "" {
		if s.SharedHostname, err = strconv.ParseBool(v); err != nil {
			return Settings{}, envError(EnvSharedHostname, v, "is not true or false")
		}
	}
	if v, ok := env(EnvDCPlatform); ok && v != "" {
		s.DCPlatform = v
	}
	if v, ok := env(EnvDocumentName); ok && v != "" {
		s.DocumentName = v
	}
	if v, ok := env(EnvOnFailure); ok && v != "" {
		s.OnFailure = workflow.LifecycleActionResult(v)
	}
	if err := s.validate(func(field string) string { return "environment variable " + envFor[field] }); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// LoadOnFailure reads only the default failure policy, for CompleteLifecycle
// when DescribeInstance never produced settings (an invalid event or config).
func LoadOnFailure(env Lookup) (workflow.LifecycleActionResult, error) {
	v, ok := env(EnvOnFailure)
	if !ok || v == "" {
		return DefaultOnFailure, nil
	}
	if err := validateOnFailure(workflow.LifecycleActionResult(v)); err != nil {
		return "", envError(EnvOnFailure, v, err.Error())
	}
	return workflow.LifecycleActionResult(v), nil
}

// DefaultHookNames are the lifecycle hooks template.yaml creates.
const DefaultHookNames = "asgdns-launch,asgdns-terminate"

// LoadHookNames reads the names of asgdns's own lifecycle hooks: the only
// hooks the workflow ever heartbeats or completes.
func LoadHookNames(env Lookup) (workflow.HookNames, error) {
	v, ok := env(EnvHookNames)
	if !ok || strings.TrimSpace(v) == "" {
		v = DefaultHookNames
	}
	names := workflow.HookNames(splitList(v))
	if len(names) == 0 {
		return nil, envError(EnvHookNames, v, "names no hook, so asgdns would act on none")
	}
	for _, n := range names {
		if !workflow.ValidHookName(n) {
			return nil, envError(EnvHookNames, n, "is not a lifecycle hook name (1-255 of A-Z a-z 0-9 _ - /)")
		}
	}
	return names, nil
}

// LoadSession reads the shared-services role settings.
func LoadSession(env Lookup) (Session, error) {
	arn, err := required(env, EnvRoleARN)
	if err != nil {
		return Session{}, err
	}
	m := roleARNPattern.FindStringSubmatch(arn)
	if m == nil {
		return Session{}, envError(EnvRoleARN, arn, "is not an IAM role ARN (arn:aws:iam::123456789012:role/name)")
	}
	s := Session{RoleARN: arn, Account: m[2]}
	if v, ok := env(EnvExternalID); ok && v != "" {
		if len(v) < 2 || len(v) > 1224 || !externalIDPattern.MatchString(v) {
			// The value is deliberately not repeated in the message.
			return Session{}, &workflow.InvalidConfig{Problem: workflow.Problem{
				Field:  "environment variable " + EnvExternalID,
				Reason: "must be 2-1224 characters of letters, digits and _+=,.@:/-",
				Fix:    "set the ExternalId stack parameter to a valid value"}}
		}
		s.ExternalID = v
	}
	return s, nil
}

// overridable lists the NotificationMetadata keys an ASG may set, and the
// environment variable each overrides.
var envFor = map[string]string{
	"zone":             EnvZone,
	"hostnameTemplate": EnvHostnameTemplate,
	"ttl":              EnvTTL,
	"ptr":              EnvPTR,
	"dcInstanceIds":    EnvDCInstanceIDs,
	"dcPlatform":       EnvDCPlatform,
	"documentName":     EnvDocumentName,
	"onFailure":        EnvOnFailure,
	"sharedHostname":   EnvSharedHostname,
}

// perDeployment are keys an operator might try in metadata that asgdns
// deliberately keeps per deployment: the IAM trust between the accounts.
var perDeployment = map[string]string{
	"roleArn": EnvRoleARN, "roleName": EnvRoleARN, "sharedAccountId": EnvRoleARN, "externalId": EnvExternalID,
}

// WithMetadata applies an ASG's NotificationMetadata overrides to the
// defaults. Empty metadata means no overrides. Anything that is not a JSON
// object of known keys with valid values is InvalidConfig naming the key and
// the ASG.
func (s Settings) WithMetadata(asg, metadata string) (Settings, error) {
	if strings.TrimSpace(metadata) == "" {
		return s, nil
	}
	where := func(key string) string {
		f := "detail.NotificationMetadata"
		if key != "" {
			f += "." + key
		}
		return f + " of ASG " + strconv.QuoteToASCII(asg)
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(metadata))
	if err := dec.Decode(&raw); err != nil || dec.More() || raw == nil {
		return Settings{}, configError(where(""), metadata, "is not a JSON object",
			`set the lifecycle hook's NotificationMetadata to JSON such as {"zone":"corp.example.com"}, or leave it empty`)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := s
	for _, k := range keys {
		v := raw[k]
		if env, ok := perDeployment[k]; ok {
			return Settings{}, configError(where(k), string(v), "cannot be set per ASG",
				"it is a deployment setting (stack parameter behind "+env+"); remove it from the metadata")
		}
		if _, ok := envFor[k]; !ok {
			return Settings{}, configError(where(k), string(v), "is not a known setting",
				"use only "+strings.Join(sortedKeys(envFor), ", "))
		}
		var err error
		switch k {
		case "zone":
			err = decodeStrict(v, &out.Zone)
		case "hostnameTemplate":
			err = decodeStrict(v, &out.HostnameTemplate)
		case "ttl":
			err = decodeStrict(v, &out.TTL)
		case "ptr":
			err = decodeStrict(v, &out.PTR)
		case "dcInstanceIds":
			// A fresh slice: decoding into the shared one would write the
			// ASG's list into the defaults every later invocation reads.
			out.DCInstanceIDs = nil
			err = decodeStrict(v, &out.DCInstanceIDs)
		case "dcPlatform":
			err = decodeStrict(v, &out.DCPlatform)
		case "documentName":
			err = decodeStrict(v, &out.DocumentName)
		case "onFailure":
			err = decodeStrict(v, &out.OnFailure)
		case "sharedHostname":
			err = decodeStrict(v, &out.SharedHostname)
		}
		if err != nil {
			return Settings{}, configError(where(k), string(v), "has the wrong type: "+err.Error(),
				`see the README's table of NotificationMetadata settings`)
		}
	}
	if err := out.validate(where); err != nil {
		return Settings{}, err
	}
	return out, nil
}

// validate checks every setting and puts the zone in canonical form.
func (s *Settings) validate(where func(key string) string) error {
	zone, err := NormalizeZone(s.Zone)
	if err != nil {
		return configError(where("zone"), s.Zone, err.Error(), "use a domain name such as corp.example.com")
	}
	s.Zone = zone
	t, err := ParseTemplate(s.HostnameTemplate)
	if err != nil {
		return configError(where("hostnameTemplate"), s.HostnameTemplate, err.Error(),
			"use lower-case letters, digits, hyphens and the placeholders "+strings.Join(placeholderNames(), " "))
	}
	if !t.UniquePerInstance() && !s.SharedHostname {
		// Every instance after the first would find the name taken.
		return configError(where("hostnameTemplate"), s.HostnameTemplate,
			"gives every instance of the ASG the same name: it holds none of {instance-id} {id} {short-id}",
			"add one of them, e.g. {asg-label}-{short-id}; or set sharedHostname true if one name for the first instance is really meant")
	}
	if s.TTL < minTTL || s.TTL > maxTTL {
		return configError(where("ttl"), strconv.Itoa(s.TTL), fmt.Sprintf("is outside %d-%d seconds", minTTL, maxTTL),
			"use a TTL such as 300")
	}
	if len(s.DCInstanceIDs) == 0 || len(s.DCInstanceIDs) > maxDCs {
		return configError(where("dcInstanceIds"), strings.Join(s.DCInstanceIDs, ","),
			fmt.Sprintf("must list 1-%d DC instance ids", maxDCs), "list the domain controllers' instance ids")
	}
	for _, id := range s.DCInstanceIDs {
		if !workflow.ValidInstanceID(id) {
			return configError(where("dcInstanceIds"), id, "is not an EC2 instance id",
				"list the domain controllers' instance ids, such as i-0123456789abcdef0")
		}
	}
	if s.DCPlatform != PlatformWindows && s.DCPlatform != PlatformLinux {
		return configError(where("dcPlatform"), s.DCPlatform, "is not Windows or Linux",
			"set Windows for Active Directory DNS, Linux for BIND")
	}
	if !documentNamePattern.MatchString(s.DocumentName) {
		return configError(where("documentName"), s.DocumentName, "is not an SSM document name",
			"use the document name the shared-services stack outputs")
	}
	if err := validateOnFailure(s.OnFailure); err != nil {
		return configError(where("onFailure"), string(s.OnFailure), err.Error(), "use ABANDON or CONTINUE")
	}
	return nil
}

func validateOnFailure(p workflow.LifecycleActionResult) error {
	if p != workflow.Abandon && p != workflow.Continue {
		return fmt.Errorf("is not ABANDON or CONTINUE")
	}
	return nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func required(env Lookup, name string) (string, error) {
	v, ok := env(name)
	if !ok || strings.TrimSpace(v) == "" {
		return "", &workflow.InvalidConfig{Problem: workflow.Problem{
			Field: "environment variable " + name, Reason: "is not set",
			Fix: "deploy with template.yaml, which sets it from the stack parameters"}}
	}
	return v, nil
}

func splitList(v string) []string {
	var out []string
	for _, part := range strings.Split(v, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func envError(name, value, reason string) error {
	return configError("environment variable "+name, value, reason, "correct the stack parameter behind it")
}

func configError(field, value, reason, fix string) error {
	return &workflow.InvalidConfig{Problem: workflow.Problem{Field: field, Value: value, Reason: reason, Fix: fix}}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
