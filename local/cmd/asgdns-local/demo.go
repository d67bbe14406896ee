package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/asgdns/asgdns/cmd/asgdns/operate"
	"github.com/asgdns/asgdns/local/stack"
	"github.com/asgdns/asgdns/workflow"
)

const demoASG = "web-demo"

// demoHoldBudget is the demo deployment's HoldBudgetSeconds: the product's
// minimum, so the outage that outlasts it ends within the demo.
const demoHoldBudget = 60 * time.Second

// demo is the scripted tour of the local stack. It talks to the stack only
// through the AWS APIs (the real SDK over HTTP) and checks DNS with real
// queries to the BIND server.
type demo struct {
	s       *stack.Stack
	out     io.Writer
	as      *autoscaling.Client
	ec2     *ec2.Client
	sfn     *sfn.Client
	dns     *net.Resolver
	started time.Time
	failed  bool
	// seen are the executions already reported: each step waits for new
	// ones (start dates have millisecond precision, too coarse to tell
	// steps apart by time).
	seen map[string]bool
}

func runDemo(ctx context.Context, root string, verbose bool, stdout, stderr io.Writer) int {
	logs := io.Discard
	if verbose {
		logs = stderr
	}
	start := time.Now()
	fmt.Fprintln(stdout, "asgdns demo: the whole workflow on this machine, no AWS account, no Docker.")
	fmt.Fprintln(stdout, "Starting the local stack (building the six Lambda binaries if needed, starting BIND)...")
	s, err := stack.Start(ctx, stack.Options{RepoRoot: root, ASGNames: []string{demoASG}, HoldBudget: demoHoldBudget,
		Log: logs, FunctionLogs: logs})
	if err != nil {
		fmt.Fprintf(stderr, "asgdns-local demo: %v\n", err)
		return operate.ExitFailed
	}
	defer stop(s, stderr)
	fmt.Fprintf(stdout, "  endpoint %s, DNS 127.0.0.1:%d serving %s (%s)\n\n", s.URL, s.DNS.Port(), stack.Zone, elapsed(start))

	d := newDemo(s, stdout)
	for _, step := range []func(context.Context) error{d.createGroup, d.scaleOut, d.scaleIn, d.holdThroughOutage, d.breakDNS, d.replay} {
		if err := step(ctx); err != nil {
			fmt.Fprintf(stdout, "\nFAILED: %v\n", err)
			return operate.ExitFailed
		}
	}
	d.reportMetrics()
	if d.failed {
		fmt.Fprintf(stdout, "\nSome checks failed (see above). Total %s.\n", elapsed(start))
		return operate.ExitFailed
	}
	fmt.Fprintf(stdout, "\nEvery check held. Total %s.\n", elapsed(start))
	return operate.ExitOK
}

func newDemo(s *stack.Stack, out io.Writer) *demo {
	cfg := aws.Config{
		Region:       stack.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(stack.OperatorKeyID, stack.OperatorSecret, ""),
		BaseEndpoint: aws.String(s.URL),
	}
	port := s.DNS.Port()
	return &demo{
		s: s, out: out, started: time.Now(), seen: map[string]bool{},
		as: autoscaling.NewFromConfig(cfg), ec2: ec2.NewFromConfig(cfg), sfn: sfn.NewFromConfig(cfg),
		dns: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", fmt.Sprintf("127.0.0.1:%d", port))
		}},
	}
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, format+"\n", args...) }

func (d *demo) check(ok bool, format string, args ...any) {
	mark := "ok "
	if !ok {
		mark, d.failed = "NO ", true
	}
	fmt.Fprintf(d.out, "  %s %s\n", mark, fmt.Sprintf(format, args...))
}

// createGroup creates the demo ASG with asgdns's lifecycle hooks, as a
// team would declare them (LifecycleHookSpecificationList). Its metadata
// asks for CONTINUE on failure, so a failed registration leaves the
// instance in service and a replay can register it later.
func (d *demo) createGroup(ctx context.Context) error {
	d.say("1. An ASG %q with asgdns's launch and terminate hooks (NotificationMetadata {\"onFailure\":\"CONTINUE\"}).", demoASG)
	_, err := d.as.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(demoASG), MinSize: aws.Int32(0), MaxSize: aws.Int32(5), DesiredCapacity: aws.Int32(0),
		LaunchTemplate:    &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String(demoASG)},
		AvailabilityZones: []string{stack.Region + "a", stack.Region + "b"},
		Tags:              []astypes.Tag{{Key: aws.String("Name"), Value: aws.String("web"), PropagateAtLaunch: aws.Bool(true)}},
		LifecycleHookSpecificationList: []astypes.LifecycleHookSpecification{
			{LifecycleHookName: aws.String("asgdns-launch"), LifecycleTransition: aws.String(workflow.TransitionLaunching),
				HeartbeatTimeout: aws.Int32(3600), DefaultResult: aws.String("CONTINUE"),
				NotificationMetadata: aws.String(`{"onFailure":"CONTINUE"}`)},
			{LifecycleHookName: aws.String("asgdns-terminate"), LifecycleTransition: aws.String(workflow.TransitionTerminating),
				HeartbeatTimeout: aws.Int32(3600), DefaultResult: aws.String("CONTINUE")},
		},
	})
	return err
}

func (d *demo) scaleOut(ctx context.Context) error {
	d.say("\n2. Scale out to 3: three instances launch, each held in Pending:Wait until its record exists.")
	t := time.Now()
	runs, err := d.scaleTo(ctx, 3, 3)
	if err != nil {
		return err
	}
	d.reportRuns(runs, t)
	for _, r := range runs {
		d.check(r.status == sfntypes.ExecutionStatusSucceeded, "%s %s: %s", r.transition, r.instance, r.status)
	}
	return d.checkNames(ctx, 3)
}

func (d *demo) scaleIn(ctx context.Context) error {
	d.say("\n3. Scale in to 2: one instance terminates; its record goes, the others stay.")
	before, err := d.inService(ctx, 3)
	if err != nil {
		return err
	}
	t := time.Now()
	runs, err := d.scaleTo(ctx, 2, 1)
	if err != nil {
		return err
	}
	d.reportRuns(runs, t)
	if len(runs) == 1 {
		d.check(runs[0].status == sfntypes.ExecutionStatusSucceeded, "%s %s: %s", runs[0].transition, runs[0].instance, runs[0].status)
		gone := fqdn(runs[0].instance)
		_, err := d.dns.LookupHost(ctx, gone+".")
		d.check(isNotFound(err), "%s no longer resolves", gone)
	}
	for id := range before {
		if len(runs) == 1 && id == runs[0].instance {
			continue
		}
		ips, _ := d.dns.LookupHost(ctx, fqdn(id)+".")
		d.check(slices.Contains(ips, before[id]), "%s still resolves to %s", fqdn(id), before[id])
	}
	return nil
}

// holdThroughOutage: a short DNS outage holds the new instance (heartbeats,
// backoff) and it registers by itself once DNS is back: nothing replaced,
// nothing to replay.
func (d *demo) holdThroughOutage(ctx context.Context) error {
	d.say("\n4. The DNS server fails (named stopped) for a few seconds while the ASG scales out to 3.")
	d.s.DNS.Stop()
	t := time.Now()
	if _, err := d.as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(demoASG), DesiredCapacity: aws.Int32(3)}); err != nil {
		return err
	}
	if err := d.waitHeld(ctx); err != nil {
		return err
	}
	d.say("   the launch is held in Pending:Wait (Hold instance: heartbeat, back off) after %s; the DNS server comes back", elapsed(t))
	if err := d.s.DNS.Restart(); err != nil {
		return err
	}
	runs, err := d.waitFor(ctx, 1)
	if err != nil {
		return err
	}
	d.reportRuns(runs, t)
	for _, r := range runs {
		d.check(r.status == sfntypes.ExecutionStatusSucceeded, "the held launch registered by itself: %s", r.status)
	}
	return d.checkNames(ctx, 3)
}

// waitHeld waits until a running execution not reported before has entered
// Hold instance.
func (d *demo) waitHeld(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		out, err := d.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(d.s.StateMachineARN),
			StatusFilter: sfntypes.ExecutionStatusRunning})
		if err != nil {
			return err
		}
		for _, x := range out.Executions {
			h, err := d.sfn.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: x.ExecutionArn, MaxResults: 1000})
			if err != nil {
				return err
			}
			for _, e := range h.Events {
				if e.StateEnteredEventDetails != nil && aws.ToString(e.StateEnteredEventDetails.Name) == "Hold instance" {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("no launch was held within a minute")
}

// breakDNS: an outage longer than the hold budget. The launch is released
// with the failure result (the demo's hooks say CONTINUE), and fails.
func (d *demo) breakDNS(ctx context.Context) error {
	d.say("\n5. The DNS server fails for longer than the hold budget (%s here) while the ASG scales out to 4.", demoHoldBudget)
	d.s.DNS.Stop()
	t := time.Now()
	runs, err := d.scaleTo(ctx, 4, 1)
	if err != nil {
		return err
	}
	d.reportRuns(runs, t)
	if len(runs) == 1 {
		r := runs[0]
		d.check(r.status == sfntypes.ExecutionStatusFailed && strings.Contains(r.cause, "did not answer") && strings.Contains(r.cause, "hold budget"),
			"the execution FAILED after the hold budget and says why: %s: %s", r.error, firstLine(r.cause))
	}
	return nil
}

func (d *demo) replay(ctx context.Context) error {
	d.say("\n6. The DNS server is back; `asgdns replay --yes` replays the failed execution.")
	if err := d.s.DNS.Restart(); err != nil {
		return err
	}
	for _, kv := range d.s.OperatorEnv() {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	t := time.Now()
	var plan strings.Builder
	code := operate.Replay(ctx, operate.AWSEnv(&plan, io.Discard), []string{"--state-machine-arn", d.s.StateMachineARN, "--status", "FAILED", "--yes"})
	for _, line := range strings.Split(strings.TrimSpace(plan.String()), "\n") {
		d.say("   | %s", line)
	}
	if code != operate.ExitOK {
		return fmt.Errorf("asgdns replay exited %d", code)
	}
	runs, err := d.waitFor(ctx, 1)
	if err != nil {
		return err
	}
	d.reportRuns(runs, t)
	for _, r := range runs {
		d.check(r.status == sfntypes.ExecutionStatusSucceeded, "the replay %s: %s", r.name, r.status)
	}
	return d.checkNames(ctx, 4)
}

// reportMetrics prints what an operator would watch: the metrics the
// functions wrote in their logs (Embedded Metric Format), totalled over
// the whole demo as the stack's dashboard would show them.
func (d *demo) reportMetrics() {
	d.say("\nWhat the dashboard shows (the functions' metrics, namespace asgdns, over the whole demo):")
	for _, m := range d.s.Metrics() {
		if _, perASG := m.Dimensions["AutoScalingGroupName"]; m.Namespace == "asgdns" && !perASG {
			d.say("   %s", m)
		}
	}
}

// run is an execution as the demo reports it.
type run struct {
	arn, name, instance, transition, error, cause string
	status                                        sfntypes.ExecutionStatus
	took                                          time.Duration
}

// scaleTo sets the desired capacity and waits for the executions it starts.
func (d *demo) scaleTo(ctx context.Context, desired, want int) ([]run, error) {
	if _, err := d.as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(demoASG), DesiredCapacity: aws.Int32(int32(desired))}); err != nil {
		return nil, err
	}
	return d.waitFor(ctx, want)
}

// waitFor waits until want executions not reported before have finished.
func (d *demo) waitFor(ctx context.Context, want int) ([]run, error) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		runs, err := d.finished(ctx)
		if err != nil {
			return nil, err
		}
		if len(runs) >= want {
			for _, r := range runs {
				d.seen[r.arn] = true
			}
			return runs, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d executions finished within 3 minutes", len(runs), want)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (d *demo) finished(ctx context.Context) ([]run, error) {
	out, err := d.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(d.s.StateMachineARN), MaxResults: 100})
	if err != nil {
		return nil, err
	}
	var runs []run
	for _, x := range out.Executions {
		if d.seen[aws.ToString(x.ExecutionArn)] || x.Status == sfntypes.ExecutionStatusRunning {
			continue
		}
		desc, err := d.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: x.ExecutionArn})
		if err != nil {
			return nil, err
		}
		r := run{arn: aws.ToString(x.ExecutionArn), name: aws.ToString(x.Name), status: x.Status, error: aws.ToString(desc.Error), cause: aws.ToString(desc.Cause),
			took: aws.ToTime(desc.StopDate).Sub(aws.ToTime(desc.StartDate))}
		if e, err := workflow.ParseEvent([]byte(aws.ToString(desc.Input))); err == nil {
			if p, err := operate.DescribeEvent(e); err == nil {
				r.instance, r.transition = p.InstanceID, string(p.Transition)
			}
		}
		runs = append(runs, r)
	}
	return runs, nil
}

func (d *demo) reportRuns(runs []run, since time.Time) {
	for _, r := range runs {
		d.say("   execution %s (%s %s): %s in %s", r.name, r.transition, r.instance, r.status, r.took.Round(10*time.Millisecond))
	}
	d.say("   (%s from the API call to the last execution's end)", elapsed(since))
}

// inService waits (briefly: an instance whose lifecycle action completed
// goes InService within seconds) for want InService instances and maps
// them to their private IPs.
func (d *demo) inService(ctx context.Context, want int) (map[string]string, error) {
	var instances []astypes.Instance
	for deadline := time.Now().Add(30 * time.Second); ; {
		g, err := d.as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{demoASG}})
		if err != nil || len(g.AutoScalingGroups) != 1 {
			return nil, errors.Join(errors.New("describe the demo ASG"), err)
		}
		instances = slices.DeleteFunc(g.AutoScalingGroups[0].Instances, func(i astypes.Instance) bool {
			return i.LifecycleState != astypes.LifecycleStateInService
		})
		if len(instances) == want {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d instances InService after 30 s, want %d", len(instances), want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ips := map[string]string{}
	for _, i := range instances {
		if i.LifecycleState != astypes.LifecycleStateInService {
			continue
		}
		out, err := d.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{aws.ToString(i.InstanceId)}})
		if err != nil {
			return nil, err
		}
		ips[aws.ToString(i.InstanceId)] = aws.ToString(out.Reservations[0].Instances[0].PrivateIpAddress)
	}
	return ips, nil
}

// checkNames resolves every InService instance's name with a real DNS query.
func (d *demo) checkNames(ctx context.Context, want int) error {
	ips, err := d.inService(ctx, want)
	if err != nil {
		return err
	}
	for id, ip := range ips {
		got, err := d.dns.LookupHost(ctx, fqdn(id)+".")
		d.check(err == nil && slices.Equal(got, []string{ip}), "dig %s → %v (instance %s, %s)", fqdn(id), got, id, ip)
	}
	return nil
}

func fqdn(instanceID string) string { return demoASG + "-" + instanceID + "." + stack.Zone }

func isNotFound(err error) bool {
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && dnsErr.IsNotFound
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	return line
}
