// Package document holds the tests of the shared-services document (the
// SSM Command document of shared-services/template.yaml, read through
// package sharedservices) against real peers: its Linux step run against a
// real BIND named holding another owner's records, wildcards, SPF, CNAMEs
// and delegations (package bind), and its allowedPatterns checked with
// Java's regex engine, which SSM uses besides Go's. The product's own tests
// need only Go; these need the peers, and fail with the install command
// when one is missing.
package document
