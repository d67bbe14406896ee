package asl

import (
	"maps"
	"testing"
)

// TestTasks: every Task state, nested ones included, with the function it
// calls when that is written in the definition.
func TestTasks(t *testing.T) {
	const fn = "arn:aws:lambda:eu-west-1:111111111111:function:one"
	def, err := Parse([]byte(`{"StartAt": "Direct", "States": {
		"Direct": {"Type": "Task", "Resource": "${Fn}", "Next": "Invoke"},
		"Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
			"Parameters": {"FunctionName": "two", "Payload.$": "$"}, "Next": "Chosen"},
		"Chosen": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
			"Parameters": {"FunctionName.$": "$.fn"}, "Next": "Fan"},
		"Fan": {"Type": "Parallel", "Branches": [{"StartAt": "Inner", "States": {
			"Inner": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "Parameters": {"QueueUrl": "q", "MessageBody": "m"}, "End": true}}}],
			"End": true}}}`), Substitutions{"Fn": fn})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Task{
		"Direct": {Resource: fn, LambdaARN: true, Function: fn},
		"Invoke": {Resource: "arn:aws:states:::lambda:invoke", LambdaInvoke: true, Function: "two"},
		"Chosen": {Resource: "arn:aws:states:::lambda:invoke", LambdaInvoke: true},
		"Inner":  {Resource: "arn:aws:states:::sqs:sendMessage"},
	}
	if got := def.Tasks(); !maps.Equal(got, want) {
		t.Errorf("Tasks() = %+v\nwant %+v", got, want)
	}
}
