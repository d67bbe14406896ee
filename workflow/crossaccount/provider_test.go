package crossaccount

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/lambdatest"
)

const roleARN = "arn:aws:iam::222222222222:role/asgdns-dns-registrar"

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
	f := &lambdatest.FakeSTS{}
	p := New(f, config.Session{RoleARN: roleARN, Account: "222222222222", ExternalID: "ext-1"})
	got, err := p.Verify(context.Background(), "i-0a1b2c3d4e5f60718", "exec-1")
	if err != nil {
		t.Fatal(err)
	}
	in := f.Calls()[0]
	if *in.RoleArn != roleARN || *in.RoleSessionName != "asgdns-i-0a1b2c3d4e5f60718-exec-1" ||
		*in.SourceIdentity != "asgdns-i-0a1b2c3d4e5f60718" || *in.ExternalId != "ext-1" || *in.DurationSeconds > 3600 {
		t.Errorf("sent %+v", in)
	}
	out, _ := json.Marshal(got)
	lambdatest.AssertNoSecrets(t, "session result", string(out), lambdatest.Secrets("ext-1"))
	// Without an ExternalId none is sent.
	f2 := &lambdatest.FakeSTS{}
	if _, err := New(f2, config.Session{RoleARN: roleARN, Account: "222222222222"}).Verify(context.Background(), "i-0a1b2c3d4e5f60718", "e"); err != nil || f2.Calls()[0].ExternalId != nil {
		t.Errorf("external id sent without configuration: %v", err)
	}
}

func TestVerifyErrors(t *testing.T) {
	cases := []struct {
		f    *lambdatest.FakeSTS
		want string
	}{
		{&lambdatest.FakeSTS{Err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform: sts:AssumeRole"}}, "AccessDenied"},
		{&lambdatest.FakeSTS{Err: &smithy.GenericAPIError{Code: "Throttling"}}, "Throttled"},
		{&lambdatest.FakeSTS{Err: &smithy.GenericAPIError{Code: "InternalFailure"}}, "Unavailable"},
		{&lambdatest.FakeSTS{Account: "333333333333"}, "AccessDenied"},
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
	f := &lambdatest.FakeSTS{}
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
	if calls := f.Calls(); len(calls) != 1 {
		t.Fatalf("%d AssumeRole calls for one session, want 1", len(calls))
	}
	if _, err := p.For("i-0a1b2c3d4e5f60718", "exec-2").Retrieve(context.Background()); err != nil || len(f.Calls()) != 2 {
		t.Fatalf("a second execution should get its own session: %d calls, %v", len(f.Calls()), err)
	}
	if in := f.Calls()[1]; *in.RoleSessionName != "asgdns-i-0a1b2c3d4e5f60718-exec-2" || *in.DurationSeconds != int32(Duration/time.Second) {
		t.Errorf("sent %+v", in)
	}
}

func TestCacheIsBounded(t *testing.T) {
	now := time.Unix(0, 0)
	p := New(&lambdatest.FakeSTS{}, config.Session{RoleARN: roleARN, Account: "222222222222"})
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
