// Package runtimecheck runs asgdns's six functions from their real
// bootstraps through the rig's Lambda host (lambdahost, a real Lambda
// Runtime API) and checks what aws-lambda-go really reports: the errorType
// Step Functions routes on for bad input or a refused AWS call, the init
// failure that names a missing or invalid setting, the payload on success,
// and what each function sent to AWS. The SDK inside talks to lambdatest's
// fake AWS endpoint, which answers in each protocol's wire format.
//
// The package is its tests: one table, TestThroughLambdaRuntime, across the
// functions. The handlers' own logic is tested in-process next to each
// function (functions/<name>/<package>/*_test.go); what only the real
// binary shows (main's wiring, configuration read at cold start, error type
// names as the runtime reflects them, Lambda's JSON log format) is tested
// here, once.
package runtimecheck
