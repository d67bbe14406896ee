// Command panicfn is a Go Lambda function on the real aws-lambda-go
// runtime, for lambdahost's tests: its handler panics when asked, so the
// tests see a panic exactly as aws-lambda-go reports it. It is its own
// module (aws-lambda-go is no dependency of lambdahost).
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, ev struct {
		Panic string `json:"panic"`
	}) (json.RawMessage, error) {
		if ev.Panic != "" {
			panic(ev.Panic)
		}
		return json.RawMessage(`{"ok":true}`), nil
	})
}
