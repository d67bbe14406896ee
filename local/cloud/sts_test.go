package cloud

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const registrarARN = "arn:aws:iam::222222222222:role/asgdns-dns-registrar-111111111111"

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestAssumeRoleTrustPolicy(t *testing.T) {
	w := newWorld(t, withFakeClock())
	ctx := context.Background()
	in := func(mod func(*sts.AssumeRoleInput)) *sts.AssumeRoleInput {
		i := &sts.AssumeRoleInput{
			RoleArn: aws.String(registrarARN), RoleSessionName: aws.String("asgdns-i-0a1b2c3d4e5f60718-exec1"),
			SourceIdentity: aws.String("asgdns-i-0a1b2c3d4e5f60718"), DurationSeconds: aws.Int32(900),
		}
		if mod != nil {
			mod(i)
		}
		return i
	}
	denied := func(caller, action string) string {
		return "User: " + caller + " is not authorized to perform: " + action + " on resource: " + registrarARN
	}
	const untrustedARN = "arn:aws:sts::111111111111:assumed-role/some-other-team-role/someone"
	const lambdaARN = "arn:aws:sts::111111111111:assumed-role/asgdns-AssumeRoleFunctionRole-1A2B3C/asgdns-AssumeRoleFunction"

	for _, tc := range []struct {
		name    string
		key     string
		in      *sts.AssumeRoleInput
		code    string
		status  int
		message string // exact, when set
	}{
		{name: "untrusted role", key: keyUntrusted, in: in(nil), code: "AccessDenied", status: 403,
			message: denied(untrustedARN, "sts:AssumeRole")},
		{name: "trusted role without SourceIdentity", key: keyAssumeRoleFn, in: in(func(i *sts.AssumeRoleInput) { i.SourceIdentity = nil }),
			code: "AccessDenied", status: 403, message: denied(lambdaARN, "sts:AssumeRole")},
		{name: "SourceIdentity not asgdns-i-*", key: keyAssumeRoleFn, in: in(func(i *sts.AssumeRoleInput) { i.SourceIdentity = aws.String("someone-else") }),
			code: "AccessDenied", status: 403, message: denied(lambdaARN, "sts:AssumeRole")},
		{name: "role chaining over an hour", key: keyAssumeRoleFn, in: in(func(i *sts.AssumeRoleInput) { i.DurationSeconds = aws.Int32(7200) }),
			code: "ValidationError", status: 400, message: "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."},
		{name: "duration under 15 minutes", key: keyAssumeRoleFn, in: in(func(i *sts.AssumeRoleInput) { i.DurationSeconds = aws.Int32(800) }),
			code: "ValidationError", status: 400,
			message: "1 validation error detected: Value '800' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"},
		{name: "bad session name and source identity", key: keyAssumeRoleFn, in: in(func(i *sts.AssumeRoleInput) {
			i.RoleSessionName, i.SourceIdentity = aws.String("has space"), aws.String("x")
		}), code: "ValidationError", status: 400,
			message: "2 validation errors detected: Value 'has space' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*; " +
				"Value 'x' at 'sourceIdentity' failed to satisfy constraint: Member must have length less than or equal to 64 and greater than or equal to 2"},
		{name: "a role that does not exist", key: keyAssumeRoleFn, in: in(func(i *sts.AssumeRoleInput) {
			i.RoleArn = aws.String("arn:aws:iam::222222222222:role/admin")
		}), code: "AccessDenied", status: 403,
			message: "User: " + lambdaARN + " is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/admin"},
		{name: "an untrusted user", key: keyAppOperator, in: in(nil), code: "AccessDenied", status: 403,
			message: denied("arn:aws:iam::111111111111:user/operator", "sts:AssumeRole")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.sts(keyCreds(tc.key)).AssumeRole(ctx, tc.in)
			msg := wantCode(t, err, tc.code)
			if httpStatus(err) != tc.status {
				t.Errorf("HTTP status = %d, want %d", httpStatus(err), tc.status)
			}
			if tc.message != "" && msg != tc.message {
				t.Errorf("message =\n%s\nwant\n%s", msg, tc.message)
			}
		})
	}

	t.Run("trusted Lambda role with SourceIdentity", func(t *testing.T) {
		out, err := w.sts(keyCreds(keySendCommand)).AssumeRole(ctx, in(nil))
		if err != nil {
			t.Fatal(err)
		}
		wantARN := "arn:aws:sts::222222222222:assumed-role/asgdns-dns-registrar-111111111111/asgdns-i-0a1b2c3d4e5f60718-exec1"
		if got := aws.ToString(out.AssumedRoleUser.Arn); got != wantARN {
			t.Errorf("assumed role ARN = %s, want %s", got, wantARN)
		}
		if got := aws.ToString(out.SourceIdentity); got != "asgdns-i-0a1b2c3d4e5f60718" {
			t.Errorf("SourceIdentity = %q", got)
		}
		if exp := aws.ToTime(out.Credentials.Expiration); !exp.Equal(testStart.Add(15 * time.Minute)) {
			t.Errorf("expiration = %s, want %s", exp, testStart.Add(15*time.Minute))
		}
		if !strings.HasPrefix(aws.ToString(out.Credentials.AccessKeyId), "ASIA") || aws.ToString(out.Credentials.SessionToken) == "" {
			t.Errorf("credentials = %+v", out.Credentials)
		}
		session := creds{*out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken}
		id, err := w.sts(session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(id.Account) != SharedServicesAccount || aws.ToString(id.Arn) != wantARN ||
			aws.ToString(id.UserId) != "AROAASGDNSREGISTRAR01:asgdns-i-0a1b2c3d4e5f60718-exec1" {
			t.Errorf("caller identity = %s %s %s", aws.ToString(id.Account), aws.ToString(id.Arn), aws.ToString(id.UserId))
		}
		// The session token belongs to the key: another one is refused.
		session.token = "forged"
		_, err = w.sts(session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		wantCode(t, err, "InvalidClientTokenId")
		// The role's own policy does not allow assuming roles.
		session.token = *out.Credentials.SessionToken
		_, err = w.sts(session).AssumeRole(ctx, in(nil))
		if msg := wantCode(t, err, "AccessDenied"); !strings.Contains(msg, "because no identity-based policy allows the sts:AssumeRole action") {
			t.Errorf("message = %s", msg)
		}
	})

	t.Run("root may not assume roles", func(t *testing.T) {
		if err := w.cloud.AddCredentials("AKIAAPPROOT000000001", testSecret, "arn:aws:iam::111111111111:root"); err != nil {
			t.Fatal(err)
		}
		_, err := w.sts(keyCreds("AKIAAPPROOT000000001")).AssumeRole(ctx, in(nil))
		if msg := wantCode(t, err, "AccessDenied"); msg != "Roles may not be assumed by root accounts." {
			t.Errorf("message = %s", msg)
		}
	})
}

func TestAssumeRoleExternalIDAndMaxSession(t *testing.T) {
	const user = "arn:aws:iam::111111111111:user/operator"
	w := newWorld(t, func(o *Options) {
		o.ExternalID = "asgdns-ext-42"
		o.TrustedRoleARNs = []string{assumeRoleFnRole, user}
	})
	ctx := context.Background()
	in := &sts.AssumeRoleInput{
		RoleArn: aws.String(registrarARN), RoleSessionName: aws.String("s1"), SourceIdentity: aws.String("asgdns-i-0123456789abcdef0"),
	}
	client := w.sts(keyCreds(keyAssumeRoleFn))
	_, err := client.AssumeRole(ctx, in)
	wantCode(t, err, "AccessDenied")
	in.ExternalId = aws.String("wrong-one")
	_, err = client.AssumeRole(ctx, in)
	wantCode(t, err, "AccessDenied")
	in.ExternalId = aws.String("asgdns-ext-42")
	if _, err := client.AssumeRole(ctx, in); err != nil {
		t.Fatalf("with the ExternalId: %v", err)
	}
	// A user is not role chaining: its limit is the role's MaxSessionDuration (3600).
	in.DurationSeconds = aws.Int32(7200)
	_, err = w.sts(keyCreds(keyAppOperator)).AssumeRole(ctx, in)
	if msg := wantCode(t, err, "ValidationError"); msg != "The requested DurationSeconds exceeds the MaxSessionDuration set for this role." {
		t.Errorf("message = %s", msg)
	}
	in.DurationSeconds = aws.Int32(3600)
	if _, err := w.sts(keyCreds(keyAppOperator)).AssumeRole(ctx, in); err != nil {
		t.Errorf("user, 3600 s: %v", err)
	}
}

// Organization mode: the role trusts principals of its own application
// account, in the organization, carrying asgdns's principal tag (a role's
// tags are its sessions' aws:PrincipalTag) — never a role name.
func TestAssumeRoleTrustByOrganization(t *testing.T) {
	const (
		// Another tenant's asgdns function role: tagged like ours.
		otherTenantRole = "arn:aws:iam::333333333333:role/asgdns-SendCommandFunctionRole-7G8H9I"
		keyOtherTenant  = "AKIAOTHERTENANTFN001"
		// A role of our account named like a function role, without the tag.
		lookalikeRole = "arn:aws:iam::111111111111:role/asgdns-SomethingFunctionRole-0J1K2L"
		keyLookalike  = "AKIALOOKALIKEROLE001"
	)
	in := func(role string) *sts.AssumeRoleInput {
		return &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s1"),
			SourceIdentity: aws.String("asgdns-i-0123456789abcdef0")}
	}
	otherRegistrar := "arn:aws:iam::222222222222:role/asgdns-dns-registrar-" + OtherAppAccount
	for _, tc := range []struct {
		name    string
		org     string
		key     string
		role    string
		tag     string // the caller role's asgdns-function tag ("": none)
		allowed bool
	}{
		{"tagged function role of this account", OrganizationID, keySendCommand, registrarARN, "SendCommand", true},
		{"untagged role named like a function role", OrganizationID, keyLookalike, registrarARN, "", false},
		{"tag with a value asgdns does not use", OrganizationID, keySendCommand, registrarARN, "DescribeInstance", false},
		{"tagged function role of another tenant account", OrganizationID, keyOtherTenant, registrarARN, "SendCommand", false},
		{"that tenant's own role", OrganizationID, keyOtherTenant, otherRegistrar, "SendCommand", true},
		{"another organization", "o-otherorg1234", keySendCommand, registrarARN, "SendCommand", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, func(o *Options) {
				o.TrustedRoleARNs = nil
				o.TrustedOrganizationID = tc.org
				o.TenantAccountIDs = []string{AppAccount, OtherAppAccount}
				o.TenantZones = []string{AppAccount + ":" + zone, OtherAppAccount + ":shop.example.com"}
			})
			for key, arn := range map[string]string{keyOtherTenant: otherTenantRole, keyLookalike: lookalikeRole} {
				if err := w.cloud.AddCredentials(key, testSecret, arn); err != nil {
					t.Fatal(err)
				}
			}
			callerRole := map[string]string{keySendCommand: sendCommandRole, keyOtherTenant: otherTenantRole, keyLookalike: lookalikeRole}[tc.key]
			if tc.tag != "" {
				if err := w.cloud.TagRole(callerRole, map[string]string{"asgdns-function": tc.tag}); err != nil {
					t.Fatal(err)
				}
			}
			_, err := w.sts(keyCreds(tc.key)).AssumeRole(context.Background(), in(tc.role))
			if tc.allowed && err != nil {
				t.Errorf("%s: %v", tc.key, err)
			}
			if !tc.allowed {
				wantCode(t, err, "AccessDenied")
			}
		})
	}
}

// Role-ARN mode with two tenants: each account's role trusts only the
// listed roles of that account, even when the list names both accounts'.
func TestAssumeRoleTrustIsPerTenant(t *testing.T) {
	const otherTenantRole = "arn:aws:iam::333333333333:role/asgdns-SendCommandFunctionRole-7G8H9I"
	w := newWorld(t, func(o *Options) {
		o.TenantAccountIDs = []string{AppAccount, OtherAppAccount}
		o.TenantZones = []string{AppAccount + ":" + zone, OtherAppAccount + ":" + zone}
		o.TrustedRoleARNs = []string{sendCommandRole, otherTenantRole}
	})
	if err := w.cloud.AddCredentials("AKIAOTHERTENANTFN001", testSecret, otherTenantRole); err != nil {
		t.Fatal(err)
	}
	in := func(role string) *sts.AssumeRoleInput {
		return &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s1"),
			SourceIdentity: aws.String("asgdns-i-0123456789abcdef0")}
	}
	ctx := context.Background()
	other := w.cloud.RoleARN(OtherAppAccount)
	if other == "" || other == registrarARN || w.cloud.RoleARN("444444444444") != "" {
		t.Fatalf("RoleARN: %q", other)
	}
	if _, err := w.sts(keyCreds(keySendCommand)).AssumeRole(ctx, in(registrarARN)); err != nil {
		t.Errorf("own role: %v", err)
	}
	_, err := w.sts(keyCreds(keySendCommand)).AssumeRole(ctx, in(other))
	wantCode(t, err, "AccessDenied")
	_, err = w.sts(keyCreds("AKIAOTHERTENANTFN001")).AssumeRole(ctx, in(registrarARN))
	wantCode(t, err, "AccessDenied")
	if _, err := w.sts(keyCreds("AKIAOTHERTENANTFN001")).AssumeRole(ctx, in(other)); err != nil {
		t.Errorf("its own role: %v", err)
	}
}

func TestAssumeRoleCLI(t *testing.T) {
	w := newWorld(t)
	var out struct {
		Credentials     struct{ AccessKeyID, SecretAccessKey, SessionToken, Expiration string }
		AssumedRoleUser struct{ Arn string }
		SourceIdentity  string
	}
	w.cliJSON(keyCreds(keyAssumeRoleFn), &out, "sts", "assume-role", "--role-arn", registrarARN,
		"--role-session-name", "asgdns-i-0123456789abcdef0", "--source-identity", "asgdns-i-0123456789abcdef0",
		"--duration-seconds", "900")
	if out.AssumedRoleUser.Arn != "arn:aws:sts::222222222222:assumed-role/asgdns-dns-registrar-111111111111/asgdns-i-0123456789abcdef0" ||
		out.SourceIdentity != "asgdns-i-0123456789abcdef0" {
		t.Errorf("assume-role = %+v", out)
	}
	var id struct{ Account, Arn, UserID string }
	w.cliJSON(creds{out.Credentials.AccessKeyID, out.Credentials.SecretAccessKey, out.Credentials.SessionToken}, &id, "sts", "get-caller-identity")
	if id.Account != SharedServicesAccount || id.Arn != out.AssumedRoleUser.Arn {
		t.Errorf("get-caller-identity = %+v", id)
	}
	_, msg := w.cliError(keyCreds(keyUntrusted), "AccessDenied", "sts", "assume-role", "--role-arn", registrarARN,
		"--role-session-name", "x1", "--source-identity", "asgdns-i-0123456789abcdef0")
	if want := "User: arn:aws:sts::111111111111:assumed-role/some-other-team-role/someone is not authorized to perform: sts:AssumeRole on resource: " + registrarARN; msg != want {
		t.Errorf("message = %q, want %q", msg, want)
	}
}

// A tenant's registrar session may send only its own account's document:
// the other tenant's is refused by the role's permissions, as IAM would.
func TestSendCommandOnlyOwnDocument(t *testing.T) {
	w := newWorld(t, func(o *Options) {
		o.TenantAccountIDs = []string{AppAccount, OtherAppAccount}
		o.TenantZones = []string{AppAccount + ":" + zone, OtherAppAccount + ":" + zone}
	})
	if err := w.cloud.RegisterDC(dcID, "Linux"); err != nil {
		t.Fatal(err)
	}
	client := w.ssm(w.assume(keySendCommand, owner))
	other := w.cloud.DocumentName(OtherAppAccount)
	if other == "" || other == documentName {
		t.Fatalf("DocumentName(%s) = %q", OtherAppAccount, other)
	}
	params := registerParams("register", "web-1", "10.20.1.10", owner)
	_, err := client.SendCommand(context.Background(), &ssm.SendCommandInput{DocumentName: aws.String(other), InstanceIds: []string{dcID}, Parameters: params})
	if msg := wantCode(t, err, "AccessDeniedException"); !strings.Contains(msg, "ssm:SendCommand on resource: arn:aws:ssm:eu-west-1:222222222222:document/"+other) {
		t.Errorf("message = %s", msg)
	}
	if _, err := client.SendCommand(context.Background(), &ssm.SendCommandInput{DocumentName: aws.String(documentName), InstanceIds: []string{dcID}, Parameters: params}); err != nil {
		t.Errorf("its own document: %v", err)
	}
}
