package send

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/asgdns/asgdns/workflow/lambdatest"
	"github.com/asgdns/asgdns/workflow/metrics/emftest"
)

// TestMetrics: each DC skipped and each command sent writes one EMF
// document CloudWatch accepts (checked by emftest, not by the code that
// wrote it), counted under the DC's instance id.
func TestMetrics(t *testing.T) {
	dc3 := "i-0aaaaaaaaaaaaaaaa"
	three := []any{dc1, dc2, dc3}
	sent := func(dc string) string { return "asgdns/CommandsSent{DC=" + dc + "} 1 Count" }
	skipped := func(dc string) string { return "asgdns/DCSkipped{DC=" + dc + "} 1 Count" }
	for _, tc := range []struct {
		name     string
		previous any
		dcs      []any
		offline  []string
		want     []string // the data, in the order written
	}{
		{name: "first DC", want: []string{sent(dc1)}},
		{name: "round robin", previous: 1, want: []string{sent(dc2)}},
		{name: "first DC offline", offline: []string{dc1}, want: []string{skipped(dc1), sent(dc2)}},
		{name: "two of three offline", previous: 3, dcs: three, offline: []string{dc1, dc2}, want: []string{skipped(dc1), skipped(dc2), sent(dc3)}},
		{name: "all offline", offline: []string{dc1, dc2}, want: []string{skipped(dc1), skipped(dc2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSSM{dcErr: map[string]error{}}
			for _, dc := range tc.offline {
				f.dcErr[dc] = apiError("InvalidInstanceId")
			}
			var logs bytes.Buffer
			_, _ = newHandler(f, &lambdatest.Sessions{}, &logs).Handle(context.Background(), withAttempt(t, tc.previous, tc.dcs))
			var got []string
			for _, d := range emftest.Data(t, logs.Bytes()) {
				got = append(got, d.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if n := bytes.Count(logs.Bytes(), []byte(`"_aws"`)); n != len(tc.want) {
				t.Errorf("%d EMF documents, want %d", n, len(tc.want))
			}
		})
	}
	t.Run("nothing sent, nothing counted", func(t *testing.T) {
		var logs bytes.Buffer
		f := &fakeSSM{err: apiError("ThrottlingException")}
		if _, err := newHandler(f, &lambdatest.Sessions{}, &logs).Handle(context.Background(), withAttempt(t, nil, nil)); err == nil {
			t.Fatal("no error")
		}
		if strings.Contains(logs.String(), `"_aws"`) {
			t.Errorf("metrics written:\n%s", logs.String())
		}
	})
}
