package crossaccount

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

const roleARN = "arn:aws:iam::222222222222:role/asgdns-dns-registrar"

type fakeSTS struct {
	mu      sync.Mutex
	calls   []*sts.AssumeRoleInput
	err     error
	account string
}

func (f *fakeSTS) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	account := f.account
	if account == "" {
		account = "222222222222"
	}
	return &sts.AssumeRoleOutput{
		AssumedRoleUser: &types.AssumedRoleUser{Arn: aws.String("arn:aws:sts::" + account + ":assumed-role/asgdns-dns-registrar/" + *in.RoleSessionName)},
		Credentials: &types.Credentials{AccessKeyId: aws.String("ASIAFAKE"), SecretAccessKey: aws.String("fake-secret"),
			SessionToken: aws.String("fake-token"), Expiration: aws.Time(time.Now().Add(Duration))},
	}, nil
}

func TestNames(t *testing.T) {
	valid := regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	cases := []struct{ id, exec, session, source string }{
		{"i-0a1b2c3d4e5f60718", "58dbb6fe-d650-46f8-9434-eb3e0c9b97fe", "asgdns-i-0a1b2c3d4e5f60718-58dbb6fe-d650-46f8-9434-eb3e0c9b97fe", "asgdns-i-0a1b2c3d4e5f60718"},
		{"i-0a1b2c3d4e5f60718", "", "asgdns-i-0a1b2c3d4e5f60718", "asgdns-i-0a1b2c3d4e5f60718"},
		{"i-0a1b2c3d4e5f60718", "a very long execution name with spaces and ünicode that goes on", "", "asgdns-i-0a1b2c3d4e5f60718"},
		{"", "x", "asgdns-unknown-x", "asgdns-unknown"},
	}
	for _, tc := range cases {
		session, source := Names(tc.id, tc.exec)
		if !valid.MatchString(session) || !valid.MatchString(source) {
			t.Errorf("%q %q: invalid names %q %q", tc.id, tc.exec, session, source)
		}
		if (tc.session != "" && session != tc.session) || source != tc.source {
			t.Errorf("%q %q: got %q %q", tc.id, tc.exec, session, source)
		}
	}
}

func TestVerifySends(t *testing.T) {
	f := &fakeSTS{}
	p := New(f, config.Session{RoleARN: roleARN, Account: "222222222222", ExternalID: "ext-1"})
	got, err := p.Verify(context.Background(), "i-0a1b2c3d4e5f60718", "exec-1")
	if err != nil {
		t.Fatal(err)
	}
	in := f.calls[0]
	if *in.RoleArn != roleARN || *in.RoleSessionName != "asgdns-i-0a1b2c3d4e5f60718-exec-1" ||
		*in.SourceIdentity != "asgdns-i-0a1b2c3d4e5f60718" || *in.ExternalId != "ext-1" || *in.DurationSeconds > 3600 {
		t.Errorf("sent %+v", in)
	}
	out, _ := json.Marshal(got)
	for _, secret := range []string{"ASIAFAKE", "fake-secret", "fake-token", "ext-1"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("session result leaks %q: %s", secret, out)
		}
	}
	// Without an ExternalId none is sent.
	f2 := &fakeSTS{}
	if _, err := New(f2, config.Session{RoleARN: roleARN, Account: "222222222222"}).Verify(context.Background(), "i-0a1b2c3d4e5f60718", "e"); err != nil || f2.calls[0].ExternalId != nil {
		t.Errorf("external id sent without configuration: %v", err)
	}
}

func TestVerifyErrors(t *testing.T) {
	cases := []struct {
		f    *fakeSTS
		want string
	}{
		{&fakeSTS{err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform: sts:AssumeRole"}}, "AccessDenied"},
		{&fakeSTS{err: &smithy.GenericAPIError{Code: "Throttling"}}, "Throttled"},
		{&fakeSTS{err: &smithy.GenericAPIError{Code: "InternalFailure"}}, "Unavailable"},
		{&fakeSTS{account: "333333333333"}, "AccessDenied"},
	}
	for _, tc := range cases {
		_, err := New(tc.f, config.Session{RoleARN: roleARN, Account: "222222222222"}).Verify(context.Background(), "i-0a1b2c3d4e5f60718", "e")
		if workflow.Routed(err) != tc.want {
			t.Errorf("got %v, want %s", err, tc.want)
		}
	}
}

// TestForCaches: one AssumeRole per session for the life of the
// environment, however often and concurrently credentials are asked for.
func TestForCaches(t *testing.T) {
	f := &fakeSTS{}
	p := New(f, config.Session{RoleARN: roleARN, Account: "222222222222"})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.For("i-0a1b2c3d4e5f60718", "exec-1").Retrieve(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(f.calls) != 1 {
		t.Fatalf("%d AssumeRole calls for one session, want 1", len(f.calls))
	}
	if _, err := p.For("i-0a1b2c3d4e5f60718", "exec-2").Retrieve(context.Background()); err != nil || len(f.calls) != 2 {
		t.Fatalf("a second execution should get its own session: %d calls, %v", len(f.calls), err)
	}
	if *f.calls[1].RoleSessionName != "asgdns-i-0a1b2c3d4e5f60718-exec-2" || *f.calls[1].DurationSeconds != int32(Duration/time.Second) {
		t.Errorf("sent %+v", f.calls[1])
	}
}

func TestCacheIsBounded(t *testing.T) {
	now := time.Unix(0, 0)
	p := New(&fakeSTS{}, config.Session{RoleARN: roleARN, Account: "222222222222"})
	p.now = func() time.Time { return now }
	for i := range 3 * maxCached {
		p.For("i-0a1b2c3d4e5f60718", strings.Repeat("x", i%40)+string(rune('a'+i%26))+time.Duration(i).String())
		now = now.Add(time.Second)
	}
	if len(p.cache) > maxCached {
		t.Errorf("cache holds %d sessions, bound is %d", len(p.cache), maxCached)
	}
	now = now.Add(Duration + time.Second)
	p.For("i-0a1b2c3d4e5f60718", "late")
	if len(p.cache) != 1 {
		t.Errorf("expired sessions kept: %d", len(p.cache))
	}
}
