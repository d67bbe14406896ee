package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

// TestSetup: the handler is built from the shared-services role settings,
// and an init without the role fails naming it.
func TestSetup(t *testing.T) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	env := map[string]string{config.EnvRoleARN: "arn:aws:iam::222222222222:role/asgdns-dns"}
	h, err := setup(aws.Config{Region: "eu-west-1"}, log, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if h.SSM == nil || h.Credentials == nil || h.Now == nil || h.Sleep == nil {
		t.Errorf("handler %+v", h)
	}
	_, err = setup(aws.Config{}, log, func(string) (string, bool) { return "", false })
	if workflow.Routed(err) != "InvalidConfig" || !strings.Contains(err.Error(), config.EnvRoleARN) {
		t.Errorf("without %s: %v", config.EnvRoleARN, err)
	}
}
