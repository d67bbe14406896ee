// Package scenario runs the project's real state machine definition on the
// rig's States Language engine, on virtual time, with the real handlers in
// process over a fake of AWS: every path an execution can take, each
// retrier exercised, and the transitions Step Functions bills. Its tests
// are the proof that the definition and the functions agree; they live in
// the rig because the engine does.
package scenario
