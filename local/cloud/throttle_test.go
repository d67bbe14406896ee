package cloud

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestLimiter(t *testing.T) {
	type call struct {
		after            time.Duration // since the previous call
		account, service string
		operation        string
		want             bool
	}
	const a, b = AppAccount, OtherAppAccount
	cases := []struct {
		name  string
		rates map[string]Rate
		calls []call
	}{
		{"no rate: never throttled", nil, []call{
			{0, a, "ssm", "SendCommand", true}, {0, a, "ssm", "SendCommand", true}, {0, a, "ssm", "SendCommand", true},
		}},
		{"burst, then one token per 1/rate", map[string]Rate{"ssm:SendCommand": {PerSecond: 2, Burst: 2}}, []call{
			{0, a, "ssm", "SendCommand", true}, {0, a, "ssm", "SendCommand", true}, {0, a, "ssm", "SendCommand", false},
			{400 * time.Millisecond, a, "ssm", "SendCommand", false}, // 0.8 of a token
			{100 * time.Millisecond, a, "ssm", "SendCommand", true},
			{0, a, "ssm", "SendCommand", false},
			{time.Hour, a, "ssm", "SendCommand", true}, // refills only up to the burst
			{0, a, "ssm", "SendCommand", true}, {0, a, "ssm", "SendCommand", false},
		}},
		{"each account has its own bucket", map[string]Rate{"ssm:SendCommand": {PerSecond: 1, Burst: 1}}, []call{
			{0, a, "ssm", "SendCommand", true}, {0, a, "ssm", "SendCommand", false},
			{0, b, "ssm", "SendCommand", true}, {0, b, "ssm", "SendCommand", false},
		}},
		{"other operations are not throttled", map[string]Rate{"ssm:SendCommand": {PerSecond: 1, Burst: 1}}, []call{
			{0, a, "ssm", "SendCommand", true}, {0, a, "ssm", "GetCommandInvocation", true}, {0, a, "ssm", "GetCommandInvocation", true},
			{0, a, "sts", "SendCommand", true},
		}},
		{"service:* gives each operation its own bucket", map[string]Rate{"ssm:*": {PerSecond: 1, Burst: 1}}, []call{
			{0, a, "ssm", "SendCommand", true}, {0, a, "ssm", "SendCommand", false},
			{0, a, "ssm", "GetCommandInvocation", true}, {0, a, "ssm", "GetCommandInvocation", false},
			{0, a, "ec2", "DescribeInstances", true}, {0, a, "ec2", "DescribeInstances", true},
		}},
		{"an operation's rate wins over its service's", map[string]Rate{"ssm:*": {PerSecond: 1, Burst: 1}, "ssm:GetCommandInvocation": {PerSecond: 1, Burst: 3}}, []call{
			{0, a, "ssm", "GetCommandInvocation", true}, {0, a, "ssm", "GetCommandInvocation", true},
			{0, a, "ssm", "GetCommandInvocation", true}, {0, a, "ssm", "GetCommandInvocation", false},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLimiter(tc.rates)
			now := testStart
			allowed, throttled := map[string]int{}, map[string]int{}
			for i, c := range tc.calls {
				now = now.Add(c.after)
				if got := l.allow(c.account, c.service, c.operation, now); got != c.want {
					t.Errorf("call %d (%s %s:%s at +%s) allowed = %t, want %t", i, c.account, c.service, c.operation, now.Sub(testStart), got, c.want)
				}
				if c.want {
					allowed[c.service+":"+c.operation]++
				} else {
					throttled[c.service+":"+c.operation]++
				}
			}
			for key, n := range l.snapshot() {
				if n.Allowed != allowed[key] || n.Throttled != throttled[key] {
					t.Errorf("count %s = %+v, want %d allowed, %d throttled", key, n, allowed[key], throttled[key])
				}
			}
		})
	}
}

func TestLimiterReconfigured(t *testing.T) {
	l := newLimiter(map[string]Rate{"sts:AssumeRole": {PerSecond: 1, Burst: 1}})
	now := testStart
	if !l.allow(AppAccount, "sts", "AssumeRole", now) || l.allow(AppAccount, "sts", "AssumeRole", now) {
		t.Fatal("burst of 1 not applied")
	}
	// A new rate starts a full bucket of its own burst.
	l.set("sts:AssumeRole", Rate{PerSecond: 1, Burst: 2})
	allowed := 0
	for range 3 {
		if l.allow(AppAccount, "sts", "AssumeRole", now) {
			allowed++
		}
	}
	if allowed != 2 {
		t.Errorf("%d of 3 calls at once allowed: the new burst of 2 is not what the bucket holds", allowed)
	}
	// The zero Rate turns throttling off.
	l.set("sts:AssumeRole", Rate{})
	for range 10 {
		if !l.allow(AppAccount, "sts", "AssumeRole", now) {
			t.Fatal("throttled after the rate was removed")
		}
	}
	if got := l.snapshot()["sts:AssumeRole"]; got != (CallCount{Allowed: 13, Throttled: 2}) {
		t.Errorf("count = %+v", got)
	}
}

func TestThrottleConfigurationRefusals(t *testing.T) {
	for _, tc := range []struct {
		key  string
		rate Rate
		want string
	}{
		{"SendCommand", Rate{PerSecond: 1, Burst: 1}, "is not service:Operation"},
		{"ssm:", Rate{PerSecond: 1, Burst: 1}, "is not service:Operation"},
		{"AmazonSSM:SendCommand", Rate{PerSecond: 1, Burst: 1}, "is not service:Operation"},
		{"ssm:SendCommand", Rate{PerSecond: 0, Burst: 1}, "PerSecond must be a number > 0"},
		{"ssm:SendCommand", Rate{PerSecond: 1, Burst: 0}, "Burst ≥ 1"},
	} {
		c, err := New(Options{SharedServicesTemplate: sharedTemplate, TenantAccountIDs: []string{AppAccount},
			TenantZones: []string{AppAccount + ":" + zone}, Throttle: map[string]Rate{tc.key: tc.rate}})
		if c != nil {
			_ = c.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Options.Throttle") {
			t.Errorf("New with Throttle %s=%+v: error %v, want one saying %q", tc.key, tc.rate, err, tc.want)
		}
		w := newWorld(t)
		if err := w.cloud.SetThrottle(tc.key, tc.rate); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetThrottle(%s, %+v) = %v, want an error saying %q", tc.key, tc.rate, err, tc.want)
		}
	}
}

// TestThrottlingAsTheSDKSeesIt turns throttling on mid-run and checks, per
// protocol, that a burst above the bucket gets the real service's error
// (which the SDK's retryer classifies as throttling), that other accounts
// keep their own buckets, and that tokens come back with the clock.
func TestThrottlingAsTheSDKSeesIt(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, withFakeClock())
	for _, tc := range []struct {
		key          string
		status       int
		code, msg    string
		caller, peer string // peer: another account's caller
		call         func(key string) error
	}{
		{"ec2:DescribeInstances", 503, "RequestLimitExceeded", "Request limit exceeded.", keyAppOperator, keySharedAdmin, func(key string) error {
			_, err := w.ec2(keyCreds(key)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
			return err
		}},
		{"autoscaling:DescribeAutoScalingGroups", 400, "Throttling", "Rate exceeded", keyAppOperator, keySharedAdmin, func(key string) error {
			_, err := w.asg(keyCreds(key)).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
			return err
		}},
		{"sts:GetCallerIdentity", 400, "Throttling", "Rate exceeded", keyAppOperator, keySharedAdmin, func(key string) error {
			_, err := w.sts(keyCreds(key)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		}},
		{"ssm:ListCommandInvocations", 400, "ThrottlingException", "Rate exceeded", keySharedAdmin, keyAppOperator, func(key string) error {
			_, err := w.ssm(keyCreds(key)).ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{})
			return err
		}},
		{"events:PutEvents", 400, "ThrottlingException", "Rate exceeded", keyAppOperator, keySharedAdmin, func(key string) error {
			_, err := w.events(keyCreds(key)).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
				{Source: aws.String("asgdns.test"), DetailType: aws.String("test"), Detail: aws.String(`{}`)}}})
			return err
		}},
	} {
		t.Run(tc.key, func(t *testing.T) {
			if err := tc.call(tc.caller); err != nil {
				t.Fatalf("before throttling: %v", err)
			}
			if err := w.cloud.SetThrottle(tc.key, Rate{PerSecond: 1, Burst: 2}); err != nil {
				t.Fatal(err)
			}
			throttled := func(what string) {
				t.Helper()
				err := tc.call(tc.caller)
				if msg := wantCode(t, err, tc.code); msg != tc.msg {
					t.Errorf("%s: message %q, want %q", what, msg, tc.msg)
				}
				var re *awshttp.ResponseError
				if !errors.As(err, &re) || re.HTTPStatusCode() != tc.status {
					t.Errorf("%s: %v, want HTTP %d", what, err, tc.status)
				}
				if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
					t.Errorf("%s: the SDK does not classify %v as throttling", what, err)
				}
			}
			for i := range 2 {
				if err := tc.call(tc.caller); err != nil {
					t.Fatalf("call %d of the burst: %v", i+1, err)
				}
			}
			throttled("third call of the burst")
			if err := tc.call(tc.peer); err != nil {
				// It may be refused (SSM answers only in the shared-services
				// account), but not for its neighbour's rate.
				if code, _ := apiCode(err); code == tc.code {
					t.Errorf("another account is throttled by this one's bucket: %v", err)
				}
			}
			w.clock.Advance(time.Second)
			if err := tc.call(tc.caller); err != nil {
				t.Errorf("a second later: %v", err)
			}
			throttled("second call a second later")
			if err := w.cloud.SetThrottle(tc.key, Rate{}); err != nil {
				t.Fatal(err)
			}
			if err := tc.call(tc.caller); err != nil {
				t.Errorf("throttling off again: %v", err)
			}
			// Counted with throttling off too: one before, two, one a second
			// later, one after, and the other account's.
			if got, want := w.cloud.APICalls()[tc.key], (CallCount{Allowed: 6, Throttled: 2}); got != want {
				t.Errorf("APICalls()[%s] = %+v, want %+v", tc.key, got, want)
			}
		})
	}
}
