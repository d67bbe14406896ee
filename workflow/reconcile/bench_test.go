package reconcile

import (
	"fmt"
	"testing"
)

// benchInput is 1,000 desired instances against 1,000 owned records with 5%
// drift: 20 missing, 10 wrong addresses, 10 renamed, 10 stale.
func benchInput() Input {
	in := Input{Account: account, Mode: ModeSync, Facts: map[string]Fact{}}
	z := Zone{Zone: z1, Complete: true, OtherOwner: 40}
	for i := range 1000 {
		inst := fmt.Sprintf("i-%017x", 0x300000+i)
		ip := fmt.Sprintf("10.3.%d.%d", i/250, i%250+1)
		host := fmt.Sprintf("web-%d", i)
		in.Desired = append(in.Desired, want(inst, ip, host, z1))
		switch {
		case i < 20: // missing
		case i < 30:
			z.Owned = append(z.Owned, own(host, z1, inst, "10.99.0.1"))
		case i < 40:
			z.Owned = append(z.Owned, own("old-"+host, z1, inst, ip))
		default:
			z.Owned = append(z.Owned, own(host, z1, inst, ip))
		}
	}
	for i := range 30 {
		inst := fmt.Sprintf("i-%017x", 0x400000+i)
		z.Owned = append(z.Owned, own(fmt.Sprintf("gone-%d", i), z1, inst, "10.4.0.1"))
		if i < 10 {
			in.Facts[inst] = Fact{Status: StatusGone, Reason: "terminated"}
		} else {
			in.Facts[inst] = Fact{Status: StatusInGroup, Reason: "warm pool"}
		}
	}
	in.Zones = []Zone{z}
	return in
}

func TestBenchInput(t *testing.T) {
	p, err := Decide(benchInput())
	if err != nil {
		t.Fatal(err)
	}
	want := Drift{Missing: 20, WrongAddress: 20, Stale: 10, OtherOwner: 40}
	if p.Drift != want || p.InSync != 960 || p.Kept != 20 {
		t.Errorf("drift %+v inSync %d kept %d, want %+v 960 20", p.Drift, p.InSync, p.Kept, want)
	}
}

func BenchmarkPlan(b *testing.B) {
	in := benchInput()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decide(in); err != nil {
			b.Fatal(err)
		}
	}
}
