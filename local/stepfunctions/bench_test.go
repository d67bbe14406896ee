package stepfunctions_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Listing thousands of executions, as `asgdns executions` does after an
// outage: 5,000 executions, every tenth failed, read in pages of 1,000
// over HTTP with the SDK, all of them and only the failed ones.
func BenchmarkListExecutions(b *testing.B) {
	w := newWorld(b)
	var arns []string
	for i := range 5000 {
		name := fmt.Sprintf("bench-%05d", i)
		w.fault(name, i%10 == 0)
		arns = append(arns, *w.start(name, "{}").ExecutionArn)
	}
	for _, arn := range arns {
		w.wait(arn)
	}
	for _, filter := range []types.ExecutionStatus{"", types.ExecutionStatusFailed} {
		b.Run("status="+string(filter), func(b *testing.B) {
			for b.Loop() {
				n := 0
				pages := sfn.NewListExecutionsPaginator(w.client, &sfn.ListExecutionsInput{
					StateMachineArn: aws.String(w.smArn), StatusFilter: filter, MaxResults: 1000,
				})
				for pages.HasMorePages() {
					page, err := pages.NextPage(ctx)
					if err != nil {
						b.Fatal(err)
					}
					n += len(page.Executions)
				}
				if filter == "" && n != 5000 || filter != "" && n != 500 {
					b.Fatalf("listed %d", n)
				}
			}
		})
	}
}
