package cloud

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

func TestDescribeInstanceInformation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	offline, untagged := "i-0dc0000000000002b", "i-0dc0000000000003c"
	for _, id := range []string{dcID, offline} {
		if err := w.cloud.RegisterDC(id, "Linux"); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.cloud.RegisterManagedNode(ManagedNode{InstanceID: untagged, Platform: "Windows", Tags: map[string]string{"Name": "dns-admin"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.cloud.SetReachability(offline, DeliveryTimesOut); err != nil {
		t.Fatal(err)
	}
	admin := w.ssm(keyCreds(keySharedAdmin))
	for _, tc := range []struct {
		name    string
		filters []ssmtypes.InstanceInformationStringFilter
		want    map[string]string // instance → PingStatus/PlatformType
	}{
		{name: "all", want: map[string]string{dcID: "Online/Linux", offline: "ConnectionLost/Linux", untagged: "Online/Windows"}},
		{name: "by id, one unknown", filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("InstanceIds"), Values: []string{offline, "i-0123456789abcdef0"}}},
			want: map[string]string{offline: "ConnectionLost/Linux"}},
		{name: "by tag", filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("tag:asgdns-dc"), Values: []string{"true"}}},
			want: map[string]string{dcID: "Online/Linux", offline: "ConnectionLost/Linux"}},
		{name: "by ping status", filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("PingStatus"), Values: []string{"Online"}}},
			want: map[string]string{dcID: "Online/Linux", untagged: "Online/Windows"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			pages := ssm.NewDescribeInstanceInformationPaginator(admin, &ssm.DescribeInstanceInformationInput{Filters: tc.filters, MaxResults: aws.Int32(5)})
			for pages.HasMorePages() {
				page, err := pages.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, info := range page.InstanceInformationList {
					got[aws.ToString(info.InstanceId)] = string(info.PingStatus) + "/" + string(info.PlatformType)
					if info.PingStatus == ssmtypes.PingStatusOnline && info.LastPingDateTime == nil {
						t.Errorf("%s is Online without a LastPingDateTime", aws.ToString(info.InstanceId))
					}
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			for id, v := range tc.want {
				if got[id] != v {
					t.Errorf("%s: %q, want %q (all: %v)", id, got[id], v, got)
				}
			}
		})
	}
	_, err := admin.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{
		Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("Color"), Values: []string{"red"}}}})
	wantCode(t, err, "InvalidFilterKey")
	// The nodes are the shared-services account's: another account's
	// caller is refused, as IAM refuses it.
	_, err = w.ssm(keyCreds(keyAppOperator)).DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
	wantCode(t, err, "AccessDeniedException")
}

func TestDescribeDocument(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	admin := w.ssm(keyCreds(keySharedAdmin))
	name := w.cloud.DocumentName(AppAccount)
	out, err := admin.DescribeDocument(ctx, &ssm.DescribeDocumentInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	d := out.Document
	if aws.ToString(d.Name) != name || d.DocumentType != ssmtypes.DocumentTypeCommand || d.Status != ssmtypes.DocumentStatusActive ||
		aws.ToString(d.SchemaVersion) != "2.2" || len(d.PlatformTypes) != 2 || len(d.Parameters) == 0 {
		t.Errorf("document %+v", d)
	}
	_, err = admin.DescribeDocument(ctx, &ssm.DescribeDocumentInput{Name: aws.String(name + "x")})
	wantCode(t, err, "InvalidDocument")
	_, err = w.ssm(keyCreds(keyAppOperator)).DescribeDocument(ctx, &ssm.DescribeDocumentInput{Name: aws.String(name)})
	wantCode(t, err, "AccessDeniedException")
}
