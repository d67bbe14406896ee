package cloud

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/asgdns/asgdns/local/wire"
)

// SSM's read side in the shared-services account, what an operator (and
// `asgdns check`) asks before anything is sent: DescribeInstanceInformation
// (the managed nodes, their agents' PingStatus and platform) and
// DescribeDocument (the documents the shared-services template deploys).

// serveInventory adds the operations to the SSM endpoint (called once, by
// New).
func (c *Cloud) serveInventory() {
	c.json["AmazonSSM"]["DescribeInstanceInformation"] = c.describeInstanceInformation
	c.json["AmazonSSM"]["DescribeDocument"] = c.describeDocument
}

// pingStatus is how DescribeInstanceInformation reports a node's agent.
func pingStatus(r Reachability) string {
	switch r {
	case DeliveryTimesOut:
		return "ConnectionLost" // the agent stopped answering: commands wait, then time out
	case Undeliverable:
		return "Inactive"
	}
	return "Online"
}

// instanceInformation is one InstanceInformationList entry.
type instanceInformation struct {
	InstanceID       string      `json:"InstanceId"`
	PingStatus       string      `json:"PingStatus"`
	LastPingDateTime *wire.Epoch `json:"LastPingDateTime,omitempty"`
	AgentVersion     string      `json:"AgentVersion"`
	IsLatestVersion  bool        `json:"IsLatestVersion"`
	PlatformType     string      `json:"PlatformType"`
	PlatformName     string      `json:"PlatformName"`
	PlatformVersion  string      `json:"PlatformVersion"`
	ResourceType     string      `json:"ResourceType"`
	IPAddress        string      `json:"IPAddress,omitempty"`
	ComputerName     string      `json:"ComputerName"`
	SourceID         string      `json:"SourceId"`
	SourceType       string      `json:"SourceType"`
}

// inventoryFilter is a DescribeInstanceInformation filter, from Filters
// ({Key, Values}) or the older InstanceInformationFilterList ({key,
// valueSet}).
type inventoryFilter struct {
	key    string
	values []string
}

func (c *Cloud) describeInstanceInformation(cl *call) (any, *wire.Error) {
	var in struct {
		Filters []struct {
			Key    string   `json:"Key"`
			Values []string `json:"Values"`
		} `json:"Filters"`
		InstanceInformationFilterList []struct {
			Key      string   `json:"key"`
			ValueSet []string `json:"valueSet"`
		} `json:"InstanceInformationFilterList"`
		MaxResults *int   `json:"MaxResults"`
		NextToken  string `json:"NextToken"`
	}
	if apiErr := wire.DecodeJSON(cl.body, &in); apiErr != nil {
		return nil, apiErr
	}
	if apiErr := c.authorizeSSM(cl.caller, "ssm:DescribeInstanceInformation", "*", nil); apiErr != nil {
		return nil, apiErr
	}
	if len(in.Filters) > 0 && len(in.InstanceInformationFilterList) > 0 {
		return nil, wire.NewError(http.StatusBadRequest, "InvalidFilter", "Filters and InstanceInformationFilterList cannot be used together")
	}
	var filters []inventoryFilter
	for _, f := range in.Filters {
		filters = append(filters, inventoryFilter{f.Key, f.Values})
	}
	for _, f := range in.InstanceInformationFilterList {
		filters = append(filters, inventoryFilter{f.Key, f.ValueSet})
	}
	for _, f := range filters {
		switch {
		case f.key == "InstanceIds" || f.key == "PingStatus" || f.key == "PlatformTypes" || f.key == "ResourceType" ||
			f.key == "tag-key" || strings.HasPrefix(f.key, "tag:"):
		default:
			return nil, wire.NewError(http.StatusBadRequest, "InvalidFilterKey", "The specified filter key %s is not valid", f.key)
		}
		if len(f.values) == 0 {
			return nil, wire.NewError(http.StatusBadRequest, "InvalidFilterValue", "The filter %s has no values", f.key)
		}
	}
	limit := 50
	if in.MaxResults != nil {
		if *in.MaxResults < 5 || *in.MaxResults > 50 {
			return nil, ssmValidation([]string{fmt.Sprintf("Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 5 and 50", *in.MaxResults)})
		}
		limit = *in.MaxResults
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 {
			return nil, wire.NewError(http.StatusBadRequest, "InvalidNextToken", "The specified token is not valid.")
		}
		start = n
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	var list []instanceInformation
	ids := make([]string, 0, len(c.nodes))
	for id := range c.nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		n := c.nodes[id]
		info := instanceInformation{
			InstanceID: id, PingStatus: pingStatus(n.reach), AgentVersion: "3.3.1142.0", IsLatestVersion: true,
			PlatformType: n.platform, ResourceType: "EC2Instance", ComputerName: "ip-" + id, SourceID: id, SourceType: "AWS::EC2::Instance",
		}
		if n.platform == "Windows" {
			info.PlatformName, info.PlatformVersion = "Microsoft Windows Server 2022 Datacenter", "10.0.20348"
		} else {
			info.PlatformName, info.PlatformVersion = "Amazon Linux", "2023"
		}
		if inst := c.instances[id]; inst != nil {
			info.IPAddress = inst.privateIP
		}
		if n.reach == Reachable {
			now := wire.Epoch(c.clock.Now())
			info.LastPingDateTime = &now
		}
		if matchesInventory(filters, info, n.tags) {
			list = append(list, info)
		}
	}
	out := struct {
		InstanceInformationList []instanceInformation `json:"InstanceInformationList"`
		NextToken               string                `json:"NextToken,omitempty"`
	}{InstanceInformationList: []instanceInformation{}}
	if start < len(list) {
		end := min(start+limit, len(list))
		out.InstanceInformationList = list[start:end]
		if end < len(list) {
			out.NextToken = strconv.Itoa(end)
		}
	}
	return out, nil
}

// matchesInventory: every filter matches one of its values (an id that is
// no managed node is simply not listed).
func matchesInventory(filters []inventoryFilter, info instanceInformation, tags map[string]string) bool {
	for _, f := range filters {
		var have []string
		switch {
		case f.key == "InstanceIds":
			have = []string{info.InstanceID}
		case f.key == "PingStatus":
			have = []string{info.PingStatus}
		case f.key == "PlatformTypes":
			have = []string{info.PlatformType}
		case f.key == "ResourceType":
			have = []string{info.ResourceType}
		case f.key == "tag-key":
			for k := range tags {
				have = append(have, k)
			}
		default:
			if v, ok := tags[strings.TrimPrefix(f.key, "tag:")]; ok {
				have = []string{v}
			}
		}
		found := false
		for _, v := range f.values {
			for _, h := range have {
				found = found || v == h
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// documentDescription is DescribeDocument's Document.
type documentDescription struct {
	Name            string              `json:"Name"`
	Owner           string              `json:"Owner"`
	Status          string              `json:"Status"`
	DocumentType    string              `json:"DocumentType"`
	DocumentFormat  string              `json:"DocumentFormat"`
	SchemaVersion   string              `json:"SchemaVersion"`
	DocumentVersion string              `json:"DocumentVersion"`
	LatestVersion   string              `json:"LatestVersion"`
	DefaultVersion  string              `json:"DefaultVersion"`
	PlatformTypes   []string            `json:"PlatformTypes"`
	Parameters      []documentParameter `json:"Parameters"`
}

type documentParameter struct {
	Name         string `json:"Name"`
	Type         string `json:"Type"`
	DefaultValue string `json:"DefaultValue,omitempty"`
}

func (c *Cloud) describeDocument(cl *call) (any, *wire.Error) {
	var in struct {
		Name            string `json:"Name"`
		DocumentVersion string `json:"DocumentVersion"`
		VersionName     string `json:"VersionName"`
	}
	if apiErr := wire.DecodeJSON(cl.body, &in); apiErr != nil {
		return nil, apiErr
	}
	if in.Name == "" {
		return nil, ssmValidation([]string{"Value null at 'name' failed to satisfy constraint: Member must not be null"})
	}
	name := strings.TrimPrefix(in.Name, "arn:aws:ssm:"+c.region+":"+SharedServicesAccount+":document/")
	docARN := fmt.Sprintf("arn:aws:ssm:%s:%s:document/%s", c.region, cl.caller.Account, name)
	if apiErr := c.authorizeSSM(cl.caller, "ssm:DescribeDocument", docARN, nil); apiErr != nil {
		return nil, apiErr
	}
	tn := c.shared.byDocument(name)
	if tn == nil {
		return nil, wire.NewError(http.StatusBadRequest, "InvalidDocument", "Document with name %s does not exist.", name)
	}
	switch in.DocumentVersion {
	case "", "$DEFAULT", "$LATEST", "1":
	default:
		return nil, wire.NewError(http.StatusBadRequest, "InvalidDocumentVersion", "The document version %s is not valid or does not exist.", in.DocumentVersion)
	}
	doc := tn.document
	d := documentDescription{
		Name: doc.Name, Owner: SharedServicesAccount, Status: "Active", DocumentType: "Command", DocumentFormat: "YAML",
		SchemaVersion: doc.Content.SchemaVersion, DocumentVersion: "1", LatestVersion: "1", DefaultVersion: "1",
		PlatformTypes: []string{}, Parameters: []documentParameter{},
	}
	for _, step := range doc.Content.MainSteps {
		platform := ""
		if pre := step.Precondition["StringEquals"]; len(pre) == 2 && pre[0] == "platformType" {
			platform = pre[1]
		} else if step.Action == "aws:runPowerShellScript" {
			platform = "Windows"
		} else if step.Action == "aws:runShellScript" {
			platform = "Linux"
		}
		if platform != "" && !contains(d.PlatformTypes, platform) {
			d.PlatformTypes = append(d.PlatformTypes, platform)
		}
	}
	names := make([]string, 0, len(doc.Content.Parameters))
	for n := range doc.Content.Parameters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := doc.Content.Parameters[n]
		d.Parameters = append(d.Parameters, documentParameter{Name: n, Type: p.Type, DefaultValue: p.Default})
	}
	return struct {
		Document documentDescription `json:"Document"`
	}{d}, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
