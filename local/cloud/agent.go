package cloud

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	sharedservices "github.com/asgdns/asgdns/shared-services"
)

// The local SSM agent: it runs a command's steps on the node the way the
// amazon-ssm-agent does on Linux — each aws:runShellScript step's
// runCommand written to _script.sh in the command's orchestration
// directory and run with `sh -c`, the document's ENV_VAR parameters as
// SSM_<name> environment variables, the step's timeoutSeconds enforced by
// killing the process group (exit code 137, TimedOut), a non-zero exit
// reported as Failed with "failed to run commands: exit status N" appended
// to stderr, and steps whose precondition does not hold skipped as
// Success.

// DefaultAgentWorkers is how many documents the agent runs at once on a
// node: amazon-ssm-agent's CommandWorkersLimit, whose default is 5
// (UNVERIFIED value: see /work/shared/reference/aws-facts.md §8).
const DefaultAgentWorkers = 5

// agentPool is the agents' workers (guarded by Cloud.mu): each node runs
// at most workers invocations at once; the others it has picked up wait,
// Pending, oldest first.
type agentPool struct {
	workers  int
	duration time.Duration            // extra time each invocation keeps its worker
	running  map[string]int           // node id → invocations running
	waiting  map[string][]*invocation // node id → picked up, not started
}

func newAgentPool(workers int, duration time.Duration) agentPool {
	if workers == 0 {
		workers = DefaultAgentWorkers
	}
	return agentPool{workers: workers, duration: duration, running: map[string]int{}, waiting: map[string][]*invocation{}}
}

// SetAgentWorkers changes how many commands each managed node runs at
// once (DefaultAgentWorkers when 0); waiting commands start if it grew.
func (c *Cloud) SetAgentWorkers(n int) error {
	if n < 0 {
		return fmt.Errorf("cloud: SetAgentWorkers(%d): a node runs at least one command at a time (0 means the default, %d)", n, DefaultAgentWorkers)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.agent.workers = newAgentPool(n, 0).workers
	for node := range c.agent.waiting {
		c.startWaitingLocked(node)
	}
	return nil
}

// SetCommandDuration changes the extra time (real time) each command
// takes on its node, for commands that start from now on.
func (c *Cloud) SetCommandDuration(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("cloud: SetCommandDuration(%s): a duration cannot be negative", d)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.agent.duration = d
	return nil
}

// pickUp is the agent picking an invocation up: after the pickup delay
// GetCommandInvocation finds it, Pending until a worker is free.
func (c *Cloud) pickUp(inv *invocation) {
	if !c.sleep(c.pickup) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if inv.status != "Pending" || c.closed {
		return // delivery timed out first
	}
	inv.visible = true
	id := inv.node.id
	c.agent.waiting[id] = append(c.agent.waiting[id], inv)
	c.startWaitingLocked(id)
}

// startWaitingLocked starts a node's waiting invocations while it has
// free workers, skipping those whose delivery timed out while they waited
// (caller holds c.mu).
func (c *Cloud) startWaitingLocked(node string) {
	for c.agent.running[node] < c.agent.workers && len(c.agent.waiting[node]) > 0 {
		inv := c.agent.waiting[node][0]
		c.agent.waiting[node] = c.agent.waiting[node][1:]
		if inv.status != "Pending" {
			continue
		}
		c.agent.running[node]++
		inv.status, inv.details, inv.started = "InProgress", "In Progress", c.clock.Now()
		extra := c.agent.duration
		c.spawnLocked(func() { c.runInvocation(inv, extra) })
	}
}

// sleep waits d of real time; false when the Cloud closed meanwhile.
func (c *Cloud) sleep(d time.Duration) bool {
	if d <= 0 {
		return c.base.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.base.Done():
		return false
	}
}

// runInvocation runs an invocation a worker has started, its first step
// that runs taking extra time (a busy DC) on top.
func (c *Cloud) runInvocation(inv *invocation, extra time.Duration) {
	c.mu.Lock()
	node, cmd := *inv.node, inv.cmd
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.agent.running[node.id]--
		c.startWaitingLocked(node.id)
	}()

	for i, step := range cmd.doc.Content.MainSteps {
		c.mu.Lock()
		p := inv.plugins[i]
		p.status, p.details, p.started = "InProgress", "In Progress", c.clock.Now()
		c.mu.Unlock()
		// The extra time goes to the first step that runs, so that the
		// step a caller polls is InProgress meanwhile.
		if ok, _ := preconditionHolds(step.Precondition, node.platform); ok && extra > 0 {
			if !c.sleep(extra) {
				return
			}
			extra = 0
		}

		res := c.runStep(cmd, node, step)

		c.mu.Lock()
		p.status, p.details, p.code, p.stdout, p.stderr, p.ended = res.status, res.details, res.code, res.stdout, res.stderr, c.clock.Now()
		c.mu.Unlock()
		c.log.Info("command output", "logGroup", "aws/ssm/"+cmd.documentName,
			"logStream", cmd.id+"/"+node.id+"/"+step.Name, "status", res.status, "exitCode", res.code,
			"stdout", res.stdout, "stderr", res.stderr)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	// The invocation fails if any step failed or timed out; its response
	// code is the last step that ran's.
	status, details, code := "Success", "Success", 0
	for _, p := range inv.plugins {
		if !strings.HasPrefix(p.stdout, "Step execution skipped") {
			code = p.code
		}
		switch {
		case p.status == "Failed":
			status, details, code = "Failed", "Failed", p.code
		case p.status == "TimedOut" && status != "Failed":
			status, details, code = "TimedOut", "Execution Timed Out", p.code
		}
	}
	inv.status, inv.details, inv.code, inv.ended = status, details, code, c.clock.Now()
}

// stepResult is what one step reported.
type stepResult struct {
	status, details string
	code            int
	stdout, stderr  string
}

// runStep runs one step on a node (no lock held).
func (c *Cloud) runStep(cmd *command, node managedNode, step sharedservices.Step) stepResult {
	if ok, text := preconditionHolds(step.Precondition, node.platform); !ok {
		return stepResult{status: "Success", details: "Success", code: 0,
			stdout: fmt.Sprintf("Step execution skipped due to unsatisfied preconditions: '%s'. Step name: %s", text, step.Name)}
	}
	switch {
	case step.Action == "aws:runShellScript" && node.platform == "Linux":
		return c.runShellScript(cmd, node, step)
	case step.Action == "aws:runPowerShellScript":
		return stepResult{status: "Failed", details: "Failed", code: 1,
			stderr: "the asgdns local agent runs only the document's Linux step: there is no Windows DNS server here (register Linux DCs)"}
	}
	return stepResult{status: "Failed", details: "Failed", code: 1,
		stderr: fmt.Sprintf("the asgdns local agent cannot run %s on a %s node. Step name: %s", step.Action, node.platform, step.Name)}
}

// preconditionHolds evaluates a schema 2.2 precondition (StringEquals on
// platformType is the only one SSM supports) and renders it as the agent
// quotes it.
func preconditionHolds(pre map[string][]string, platform string) (bool, string) {
	for op, args := range pre {
		text := fmt.Sprintf("%q: [%s]", op, strings.Join(args, ", "))
		resolve := func(s string) string {
			if s == "platformType" {
				return platform
			}
			return s
		}
		if op != "StringEquals" || len(args) != 2 || resolve(args[0]) != resolve(args[1]) {
			return false, text
		}
	}
	return true, ""
}

var templateParamRE = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}`)

// runShellScript is aws:runShellScript.
func (c *Cloud) runShellScript(cmd *command, node managedNode, step sharedservices.Step) stepResult {
	failed := func(format string, args ...any) stepResult {
		return stepResult{status: "Failed", details: "Failed", code: 1, stderr: fmt.Sprintf(format, args...)}
	}
	dir := filepath.Join(c.workDir, cmd.id, node.id, "awsrunShellScript", step.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return failed("failed to create orchestration directory: %v", err)
	}
	env := append(os.Environ(), "AWS_SSM_INSTANCE_ID="+node.id, "AWS_SSM_REGION_NAME="+c.region)
	if node.dnsConf != "" {
		env = append(env, "ASGDNS_CONFIG="+node.dnsConf)
	}
	script := strings.Join(step.RunCommand(), "\n")
	for name, decl := range cmd.doc.Content.Parameters {
		value := strings.Join(cmd.params[name], ",")
		if decl.InterpolationType == "ENV_VAR" {
			env = append(env, "SSM_"+name+"="+value)
			continue
		}
		// Without ENV_VAR the agent pastes the value into the script.
		script = templateParamRE.ReplaceAllStringFunc(script, func(m string) string {
			if templateParamRE.FindStringSubmatch(m)[1] == name {
				return value
			}
			return m
		})
	}
	path := filepath.Join(dir, "_script.sh")
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		return failed("failed to write %s: %v", path, err)
	}

	run := exec.Command("sh", "-c", path)
	run.Dir, run.Env = dir, env
	run.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so a timeout kills the whole tree
	var stdout, stderr capped
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Start(); err != nil {
		return failed("failed to run commands: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- run.Wait() }()
	timeout := cmd.doc.stepTimeout(step.Name)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var err error
	timedOut := false
	select {
	case err = <-done:
	case <-timer.C:
		timedOut = true
	case <-c.base.Done():
	}
	if err == nil && (timedOut || c.base.Err() != nil) {
		_ = syscall.Kill(-run.Process.Pid, syscall.SIGKILL)
		err = <-done
	}
	res := stepResult{status: "Success", details: "Success", stdout: stdout.String(), stderr: stderr.String()}
	switch {
	case timedOut:
		// The agent reports a preempted command as 137 (128 + SIGKILL).
		res.status, res.details, res.code = "TimedOut", "Execution Timed Out", 137
		res.stderr = appendLine(res.stderr, fmt.Sprintf("failed to run commands: the step's timeout of %s expired", timeout))
	case err != nil:
		code := 1
		if exit, ok := err.(*exec.ExitError); ok && exit.ExitCode() >= 0 {
			code = exit.ExitCode()
		}
		res.status, res.details, res.code = "Failed", "Failed", code
		res.stderr = appendLine(res.stderr, fmt.Sprintf("failed to run commands: exit status %d", code))
	}
	return res
}

func appendLine(s, line string) string {
	if s == "" {
		return line
	}
	return strings.TrimRight(s, "\n") + "\n" + line
}

// capped keeps the first MiB a step writes: more than any API returns,
// and a runaway script cannot exhaust memory.
type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := 1<<20 - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
