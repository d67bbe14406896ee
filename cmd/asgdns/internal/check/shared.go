package check

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

// DCTagKey and DCTagValue mark the instances the shared-services role may
// send the document to (shared-services/template.yaml:
// ssm:resourceTag/asgdns-dc).
const (
	DCTagKey   = "asgdns-dc"
	DCTagValue = "true"
)

// checkShared checks, in the shared-services account, every DC and
// document some group's settings send commands to.
func (c *checker) checkShared(ctx context.Context, uses *targets) {
	if c.shared == nil {
		fix := fmt.Sprintf("run again with --shared-services-profile PROFILE (credentials in account %s allowed ssm:DescribeInstanceInformation, ssm:DescribeDocument and ec2:DescribeInstances)", c.d.sharedAccount)
		needs := fmt.Sprintf("needs credentials in the shared-services account %s; fix: %s", c.d.sharedAccount, fix)
		for _, dc := range uses.dcs {
			c.add(Result{Status: StatusNotChecked, Check: "dc", Field: "DC " + dc.id,
				Message: "whether it is an Online SSM managed node tagged " + DCTagKey + "=" + DCTagValue + " " + needs, Fix: fix})
		}
		for _, doc := range uses.docs {
			c.add(Result{Status: StatusNotChecked, Check: "document", Field: "document " + doc.id,
				Message: "whether it exists " + needs, Fix: fix})
		}
		return
	}
	c.checkDCs(ctx, uses.dcs)
	for _, doc := range uses.docs {
		c.checkDocument(ctx, doc)
	}
}

// checkDCs checks each DC is an SSM managed node that is online, runs the
// platform its users expect, and is tagged so the role may send to it.
func (c *checker) checkDCs(ctx context.Context, dcs []*target) {
	if len(dcs) == 0 {
		return
	}
	ids := make([]string, len(dcs))
	for i, dc := range dcs {
		ids[i] = dc.id
	}
	nodes, nodesErr := c.managedNodes(ctx, ids)
	instances, instErr := c.sharedInstances(ctx, ids)
	for _, dc := range dcs {
		field := "DC " + dc.id
		inst, isInstance := instances[dc.id]
		switch {
		case instErr != nil:
			c.add(Result{Status: StatusError, Check: "dc-tag", Field: field, Message: instErr.Error(),
				Fix: "allow ec2:DescribeInstances to the shared-services profile"})
		case !isInstance:
			fix := correctDCs(dc)
			c.add(Result{Status: StatusProblem, Check: "dc-tag", Field: field,
				Message: problem("DC", dc.id, fmt.Sprintf("is not an instance in the shared-services account %s, region %s (used by %s)", c.d.sharedAccount, c.d.region, dc.users()), fix),
				Fix:     fix})
			continue // nothing more to say about an instance that is not there
		case tagValue(inst.Tags, DCTagKey) != DCTagValue:
			fix := fmt.Sprintf("tag %s %s=%s (ec2 create-tags), or correct the DC list", dc.id, DCTagKey, DCTagValue)
			c.add(Result{Status: StatusProblem, Check: "dc-tag", Field: field,
				Message: problem("DC", dc.id, fmt.Sprintf("is not tagged %s=%s: the shared-services role may send the document only to instances tagged so, and SendCommand would fail AccessDenied (used by %s)",
					DCTagKey, DCTagValue, dc.users()), fix),
				Fix: fix})
		default:
			c.add(Result{Status: StatusOK, Check: "dc-tag", Field: field, Message: "tagged " + DCTagKey + "=" + DCTagValue})
		}

		node, managed := nodes[dc.id]
		switch {
		case nodesErr != nil:
			c.add(Result{Status: StatusError, Check: "dc-online", Field: field, Message: nodesErr.Error(),
				Fix: "allow ssm:DescribeInstanceInformation to the shared-services profile"})
		case !managed:
			fix := "install and start the SSM agent, and give the instance a profile with AmazonSSMManagedInstanceCore; or " + correctDCs(dc)
			c.add(Result{Status: StatusProblem, Check: "dc-online", Field: field,
				Message: problem("DC", dc.id, fmt.Sprintf("is not an SSM managed node in account %s, region %s: commands cannot reach it (used by %s)", c.d.sharedAccount, c.d.region, dc.users()), fix),
				Fix:     fix})
		case node.PingStatus != ssmtypes.PingStatusOnline:
			fix := "bring its SSM agent back online (the instance running, the agent started, the SSM endpoints reachable)"
			last := ""
			if node.LastPingDateTime != nil {
				last = ", last ping " + node.LastPingDateTime.UTC().Format("2006-01-02T15:04:05Z")
			}
			c.add(Result{Status: StatusProblem, Check: "dc-online", Field: field,
				Message: problem("DC", dc.id, fmt.Sprintf("has PingStatus %s%s: commands sent to it would time out undelivered (used by %s)", node.PingStatus, last, dc.users()), fix),
				Fix:     fix})
		default:
			c.add(Result{Status: StatusOK, Check: "dc-online", Field: field,
				Message: fmt.Sprintf("SSM managed node, PingStatus Online, %s", node.PlatformType)})
		}
		if managed && nodesErr == nil {
			for _, want := range dc.platforms {
				if got := string(node.PlatformType); got != "" && got != want {
					fix := fmt.Sprintf("set %s (or the metadata's dcPlatform) to %s, or use a %s DC", paramDcPlatform, got, want)
					c.add(Result{Status: StatusProblem, Check: "dc-platform", Field: field,
						Message: problem("DC", dc.id, fmt.Sprintf("is a %s node, but %s expect %s: the document's %s step would not run on it", got, dc.users(), want, want), fix),
						Fix:     fix})
				}
			}
		}
	}
}

// correctDCs is the fix for a DC id that names nothing usable.
func correctDCs(dc *target) string {
	if dc.usesDefaults() {
		return "correct the stack parameter " + paramDcInstanceIds
	}
	return "correct dcInstanceIds in the hook's NotificationMetadata"
}

// managedNodes reads the DCs' SSM agent status; an id SSM does not know
// is absent.
func (c *checker) managedNodes(ctx context.Context, ids []string) (map[string]ssmtypes.InstanceInformation, error) {
	out := map[string]ssmtypes.InstanceInformation{}
	for chunk := range slices.Chunk(ids, 50) {
		in := &ssm.DescribeInstanceInformationInput{
			Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("InstanceIds"), Values: chunk}},
		}
		for {
			page, err := c.shared.SSM.DescribeInstanceInformation(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("ssm:DescribeInstanceInformation: %w", err)
			}
			for _, info := range page.InstanceInformationList {
				out[aws.ToString(info.InstanceId)] = info
			}
			if aws.ToString(page.NextToken) == "" {
				break
			}
			in.NextToken = page.NextToken
		}
	}
	return out, nil
}

// sharedInstances reads the DCs from EC2 (by filter: an id that does not
// exist is absent, not an error for the whole call).
func (c *checker) sharedInstances(ctx context.Context, ids []string) (map[string]ec2types.Instance, error) {
	out := map[string]ec2types.Instance{}
	in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: ids}}}
	for {
		page, err := c.shared.EC2.DescribeInstances(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("ec2:DescribeInstances: %w", err)
		}
		for _, r := range page.Reservations {
			for _, inst := range r.Instances {
				out[aws.ToString(inst.InstanceId)] = inst
			}
		}
		if aws.ToString(page.NextToken) == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	return out, nil
}

func tagValue(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// checkDocument checks the document exists in the shared-services account
// as a Command document.
func (c *checker) checkDocument(ctx context.Context, doc *target) {
	field := "document " + doc.id
	out, err := c.shared.SSM.DescribeDocument(ctx, &ssm.DescribeDocumentInput{Name: aws.String(doc.id)})
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "InvalidDocument":
		fix := fmt.Sprintf("deploy shared-services/template.yaml with account %s in TenantAccountIds, or correct %s", c.d.account, paramDocumentName)
		if !doc.usesDefaults() {
			fix = "correct documentName in the hook's NotificationMetadata, or deploy that document"
		} else {
			fix += " (the shared-services stack's DocumentNamePrefix output; the stack appends -" + c.d.account + ")"
		}
		c.add(Result{Status: StatusProblem, Check: "document", Field: field, Error: "CommandRejected",
			Message: problem("document", doc.id, fmt.Sprintf("does not exist in the shared-services account %s, region %s: SendCommand would be rejected (used by %s)", c.d.sharedAccount, c.d.region, doc.users()), fix),
			Fix:     fix})
		return
	case err != nil:
		c.add(Result{Status: StatusError, Check: "document", Field: field, Message: "ssm:DescribeDocument: " + err.Error(),
			Fix: "allow ssm:DescribeDocument to the shared-services profile"})
		return
	}
	d := out.Document
	if d == nil {
		c.add(Result{Status: StatusError, Check: "document", Field: field, Message: "ssm:DescribeDocument returned no document"})
		return
	}
	if d.DocumentType != ssmtypes.DocumentTypeCommand || (d.Status != "" && d.Status != ssmtypes.DocumentStatusActive) {
		fix := "use the Command document shared-services/template.yaml deploys"
		c.add(Result{Status: StatusProblem, Check: "document", Field: field, Error: "CommandRejected",
			Message: problem("document", doc.id, fmt.Sprintf("is a %s document with status %s, not an Active Command document", d.DocumentType, d.Status), fix), Fix: fix})
		return
	}
	platforms := make([]string, len(d.PlatformTypes))
	for i, p := range d.PlatformTypes {
		platforms[i] = string(p)
	}
	c.add(Result{Status: StatusOK, Check: "document", Field: field,
		Message: fmt.Sprintf("Active Command document (platforms %s)", strings.Join(platforms, ", "))})
}
