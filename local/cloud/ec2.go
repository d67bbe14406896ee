package cloud

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/asgdns/asgdns/local/iampolicy"
	"github.com/asgdns/asgdns/local/wire"
)

// EC2: the instances the simulated Auto Scaling groups launch (and the
// domain controllers RegisterDC adds), each in a per-AZ subnet of its
// account's VPC, and DescribeInstances over them.

// How long the world takes for what EC2 does on its own.
const (
	bootTime        = 5 * time.Second  // pending → running
	shutdownTime    = 5 * time.Second  // shutting-down → terminated
	terminatedStays = 60 * time.Minute // a terminated instance stays visible, as in EC2
)

// network is an account's VPC: 10.N.0.0/16 with one /20 subnet per AZ.
type network struct {
	vpcID   string
	octet   int // the N of 10.N.0.0/16
	subnets []*subnet
}

type subnet struct {
	id, az, cidr string
	third        int // first third octet of the /20
	used         int
}

// VPCCIDR is the application account's VPC: the instances' private
// addresses, and so the reverse zone (20.10.in-addr.arpa) PTR records go to.
const VPCCIDR = "10.20.0.0/16"

// network returns an account's VPC, creating it on first use (caller
// holds c.mu, or is New).
func (c *Cloud) network(account string) *network {
	if n := c.networks[account]; n != nil {
		return n
	}
	octet := 20
	switch account {
	case AppAccount:
	case SharedServicesAccount:
		octet = 30
	default:
		octet = 40 + len(c.networks)
	}
	n := &network{vpcID: fmt.Sprintf("vpc-0%02d00000000000000", octet)}
	n.octet = octet
	for i, letter := range []string{"a", "b", "c"} {
		n.subnets = append(n.subnets, &subnet{
			id:    fmt.Sprintf("subnet-0%02d%s0000000000000", octet, letter),
			az:    c.region + letter,
			cidr:  fmt.Sprintf("10.%d.%d.0/20", octet, 16*i),
			third: 16 * i,
		})
	}
	c.networks[account] = n
	return n
}

func (n *network) subnetIn(az string) *subnet {
	for _, s := range n.subnets {
		if s.az == az {
			return s
		}
	}
	return nil
}

func (n *network) subnetByID(id string) *subnet {
	for _, s := range n.subnets {
		if s.id == id {
			return s
		}
	}
	return nil
}

// nextIP hands out the subnet's next address (from .10, skipping network
// and broadcast-looking ones); addresses are not reused.
func (s *subnet) nextIP(octet int) string {
	for {
		n := 10 + s.used
		s.used++
		third, fourth := s.third+n/256, n%256
		if fourth != 0 && fourth != 255 {
			return fmt.Sprintf("10.%d.%d.%d", octet, third, fourth)
		}
	}
}

// instance is an EC2 instance.
type instance struct {
	id, account, az, subnetID, vpcID, privateIP string
	reservationID, imageID, instanceType        string
	state                                       string
	launched                                    time.Time
	tags                                        []tag
	stateReason                                 string
}

type tag struct{ Key, Value string }

var stateCodes = map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

// launchInstance creates a pending instance in az and schedules its boot
// (caller holds c.mu). onRunning, if set, runs (with c.mu held) once it is
// running.
func (c *Cloud) launchInstance(account, az string, tags []tag, onRunning func(*instance)) *instance {
	n := c.network(account)
	s := n.subnetIn(az)
	inst := &instance{
		id: "i-" + randomHex(17), account: account, az: az, subnetID: s.id, vpcID: n.vpcID,
		privateIP: s.nextIP(n.octet), reservationID: "r-" + randomHex(17),
		imageID: "ami-0a1b2c3d4e5f60001", instanceType: "t3.micro",
		state: "pending", launched: c.clock.Now(), tags: tags,
	}
	c.instances[inst.id] = inst
	c.after(bootTime, func() {
		if inst.state != "pending" {
			return
		}
		inst.state = "running"
		if onRunning != nil {
			onRunning(inst)
		}
	})
	return inst
}

// terminateInstance shuts an instance down; it is terminated after
// shutdownTime and forgotten after terminatedStays (caller holds c.mu).
func (c *Cloud) terminateInstance(inst *instance, reason string) {
	if inst.state == "shutting-down" || inst.state == "terminated" {
		return
	}
	inst.state = "shutting-down"
	inst.stateReason = reason
	c.after(shutdownTime, func() {
		inst.state = "terminated"
		c.after(terminatedStays, func() { delete(c.instances, inst.id) })
	})
}

// --- DescribeInstances ----------------------------------------------------

type ec2Tag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type ec2Instance struct {
	InstanceID string `xml:"instanceId"`
	ImageID    string `xml:"imageId"`
	State      struct {
		Code int    `xml:"code"`
		Name string `xml:"name"`
	} `xml:"instanceState"`
	PrivateDNSName string `xml:"privateDnsName"`
	DNSName        string `xml:"dnsName"`
	Reason         string `xml:"reason"`
	AmiLaunchIndex int    `xml:"amiLaunchIndex"`
	InstanceType   string `xml:"instanceType"`
	LaunchTime     string `xml:"launchTime"`
	Placement      struct {
		AvailabilityZone string `xml:"availabilityZone"`
		GroupName        string `xml:"groupName"`
		Tenancy          string `xml:"tenancy"`
	} `xml:"placement"`
	Monitoring struct {
		State string `xml:"state"`
	} `xml:"monitoring"`
	SubnetID           string             `xml:"subnetId"`
	VpcID              string             `xml:"vpcId"`
	PrivateIPAddress   string             `xml:"privateIpAddress"`
	SourceDestCheck    bool               `xml:"sourceDestCheck"`
	StateReason        *ec2StateReason    `xml:"stateReason,omitempty"`
	Architecture       string             `xml:"architecture"`
	RootDeviceType     string             `xml:"rootDeviceType"`
	RootDeviceName     string             `xml:"rootDeviceName"`
	VirtualizationType string             `xml:"virtualizationType"`
	Tags               wire.Items[ec2Tag] `xml:"tagSet"`
	Hypervisor         string             `xml:"hypervisor"`
	NetworkInterfaces  wire.Items[ec2ENI] `xml:"networkInterfaceSet"`
	EbsOptimized       bool               `xml:"ebsOptimized"`
	EnaSupport         bool               `xml:"enaSupport"`
}

type ec2StateReason struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

type ec2ENI struct {
	NetworkInterfaceID string `xml:"networkInterfaceId"`
	SubnetID           string `xml:"subnetId"`
	VpcID              string `xml:"vpcId"`
	OwnerID            string `xml:"ownerId"`
	Status             string `xml:"status"`
	PrivateIPAddress   string `xml:"privateIpAddress"`
	PrivateDNSName     string `xml:"privateDnsName"`
}

type ec2Reservation struct {
	ReservationID string                  `xml:"reservationId"`
	OwnerID       string                  `xml:"ownerId"`
	Instances     wire.Items[ec2Instance] `xml:"instancesSet"`
}

type describeInstancesResponse struct {
	XMLName      xml.Name                   `xml:"DescribeInstancesResponse"`
	Xmlns        string                     `xml:"xmlns,attr"`
	RequestID    string                     `xml:"requestId"`
	Reservations wire.Items[ec2Reservation] `xml:"reservationSet"`
}

var instanceIDRE = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)

// ec2Filters are the DescribeInstances filters the endpoint supports.
var ec2Filters = map[string]func(*instance) []string{
	"instance-id":         func(i *instance) []string { return []string{i.id} },
	"instance-state-name": func(i *instance) []string { return []string{i.state} },
	"availability-zone":   func(i *instance) []string { return []string{i.az} },
	"private-ip-address":  func(i *instance) []string { return []string{i.privateIP} },
	"subnet-id":           func(i *instance) []string { return []string{i.subnetID} },
	"vpc-id":              func(i *instance) []string { return []string{i.vpcID} },
	"instance-type":       func(i *instance) []string { return []string{i.instanceType} },
	"tag-key": func(i *instance) []string {
		var out []string
		for _, t := range i.tags {
			out = append(out, t.Key)
		}
		return out
	},
}

func (c *Cloud) describeInstances(cl *call) (any, *wire.Error) {
	const action = "ec2:DescribeInstances"
	if !c.allows(cl.caller, action, "*", nil) {
		return nil, wire.NewError(http.StatusForbidden, "UnauthorizedOperation", "You are not authorized to perform this operation. %s", notAuthorized(cl.caller, action, "*"))
	}
	ids := cl.form.List("InstanceId")
	for _, id := range ids {
		if !instanceIDRE.MatchString(id) {
			return nil, wire.NewError(http.StatusBadRequest, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
		}
	}
	type filter struct {
		values []string
		get    func(*instance) []string
	}
	var filters []filter
	for _, f := range cl.form.Structs("Filter") {
		name := f.Get("Name")
		get := ec2Filters[name]
		if key, ok := strings.CutPrefix(name, "tag:"); ok {
			get = func(i *instance) []string {
				for _, t := range i.tags {
					if t.Key == key {
						return []string{t.Value}
					}
				}
				return nil
			}
		}
		if get == nil {
			return nil, wire.NewError(http.StatusBadRequest, "InvalidParameterValue", "The filter '%s' is invalid", name)
		}
		filters = append(filters, filter{values: f.List("Value"), get: get})
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	var found []*instance
	var missing []string
	if len(ids) > 0 {
		for _, id := range ids {
			if inst := c.instances[id]; inst != nil && inst.account == cl.caller.Account {
				found = append(found, inst)
			} else {
				missing = append(missing, id)
			}
		}
	} else {
		for _, inst := range c.instances {
			if inst.account == cl.caller.Account {
				found = append(found, inst)
			}
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		return nil, wire.NewError(http.StatusBadRequest, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", missing[0])
	default:
		return nil, wire.NewError(http.StatusBadRequest, "InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
	}
	found = slices.DeleteFunc(found, func(inst *instance) bool {
		for _, f := range filters {
			if !slices.ContainsFunc(f.get(inst), func(v string) bool {
				return slices.ContainsFunc(f.values, func(want string) bool { return iampolicy.Wildcard(want, v) })
			}) {
				return true
			}
		}
		return false
	})
	sort.Slice(found, func(i, j int) bool {
		if !found[i].launched.Equal(found[j].launched) {
			return found[i].launched.Before(found[j].launched)
		}
		return found[i].id < found[j].id
	})
	out := describeInstancesResponse{Xmlns: wire.Namespace("ec2"), RequestID: cl.requestID}
	for _, inst := range found {
		out.Reservations = append(out.Reservations, ec2Reservation{
			ReservationID: inst.reservationID, OwnerID: inst.account, Instances: wire.Items[ec2Instance]{c.ec2View(inst)},
		})
	}
	return out, nil
}

func (c *Cloud) ec2View(inst *instance) ec2Instance {
	v := ec2Instance{
		InstanceID: inst.id, ImageID: inst.imageID, InstanceType: inst.instanceType,
		LaunchTime: wire.Timestamp(inst.launched), SubnetID: inst.subnetID, VpcID: inst.vpcID,
		PrivateIPAddress: inst.privateIP, SourceDestCheck: true, Architecture: "x86_64",
		RootDeviceType: "ebs", RootDeviceName: "/dev/xvda", VirtualizationType: "hvm", Hypervisor: "xen",
		EbsOptimized: true, EnaSupport: true,
	}
	v.State.Code, v.State.Name = stateCodes[inst.state], inst.state
	dns := "ip-" + strings.ReplaceAll(inst.privateIP, ".", "-") + "." + c.region + ".compute.internal"
	v.PrivateDNSName = dns
	v.Placement.AvailabilityZone, v.Placement.Tenancy = inst.az, "default"
	v.Monitoring.State = "disabled"
	for _, t := range inst.tags {
		v.Tags = append(v.Tags, ec2Tag(t))
	}
	if inst.state == "shutting-down" || inst.state == "terminated" {
		v.Reason = inst.stateReason
		v.StateReason = &ec2StateReason{"Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown"}
		v.PrivateDNSName = ""
	}
	if inst.state != "terminated" {
		v.NetworkInterfaces = append(v.NetworkInterfaces, ec2ENI{"eni-" + inst.id[2:], inst.subnetID, inst.vpcID, inst.account, "in-use", inst.privateIP, dns})
	} else {
		// A terminated instance has released its network interface and
		// with it the address.
		v.PrivateIPAddress, v.SubnetID, v.VpcID = "", "", ""
	}
	return v
}
