// Command testfn is a Lambda function for lambdahost's tests. It speaks the
// Runtime API by hand (standard library only, so it builds inside the
// module) and does what each event asks: answer with what it sees, wait on
// a URL, sleep, post an error, or exit. TESTFN_INIT chooses a failing init:
// "exit" (exit 3 before asking for an event), "error" (post an init error,
// then exit 1) or "hang" (never ask for an event).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// event is what an invocation asks testfn to do.
type event struct {
	Echo  json.RawMessage `json:"echo"`
	Log   string          `json:"log"`   // print this line to stdout, and to stderr
	Get   string          `json:"get"`   // GET this URL first (tests block here)
	Sleep string          `json:"sleep"` // then sleep this long
	Exit  *int            `json:"exit"`  // then exit with this status
	Error string          `json:"error"` // or post an error of this type
	// PostThenExit posts the error, then exits 1, as aws-lambda-go does
	// after a panic.
	PostThenExit bool `json:"postThenExit"`
}

// reply is testfn's answer.
type reply struct {
	PID       int               `json:"pid"`
	Echo      json.RawMessage   `json:"echo,omitempty"`
	RequestID string            `json:"requestId"`
	Deadline  string            `json:"deadlineMs"`
	ARN       string            `json:"arn"`
	TraceID   string            `json:"traceId"`
	Env       map[string]string `json:"env"`
}

var api = "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/"

func main() {
	switch os.Getenv("TESTFN_INIT") {
	case "exit":
		fmt.Println("testfn: init fails by exiting")
		os.Exit(3)
	case "error":
		post("init/error", `{"errorMessage":"TESTFN_INIT asks for an init error","errorType":"Runtime.ConfigInvalid"}`, "Runtime.ConfigInvalid")
		os.Exit(1)
	case "hang":
		time.Sleep(time.Hour) // (an empty select would be a deadlock the runtime reports)
	}
	for {
		resp, err := http.Get(api + "invocation/next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "testfn: next:", err)
			os.Exit(1)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		handle(resp.Header, body)
	}
}

func handle(hdr http.Header, body []byte) {
	id := hdr.Get("Lambda-Runtime-Aws-Request-Id")
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil {
		post("invocation/"+id+"/error", `{"errorMessage":"bad event","errorType":"InvalidEvent"}`, "")
		return
	}
	if ev.Log != "" {
		fmt.Println(ev.Log)
		fmt.Fprintln(os.Stderr, ev.Log)
	}
	if ev.Get != "" {
		if resp, err := http.Get(ev.Get); err == nil {
			resp.Body.Close()
		}
	}
	if ev.Sleep != "" {
		d, _ := time.ParseDuration(ev.Sleep)
		time.Sleep(d)
	}
	if ev.Exit != nil {
		os.Exit(*ev.Exit)
	}
	if ev.Error != "" {
		doc, _ := json.Marshal(map[string]any{"errorMessage": "testfn fails as asked", "errorType": ev.Error, "stackTrace": []string{"main.handle"}})
		post("invocation/"+id+"/error", string(doc), "")
		if ev.PostThenExit {
			os.Exit(1)
		}
		return
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	out, _ := json.Marshal(reply{
		PID: os.Getpid(), Echo: ev.Echo, RequestID: id,
		Deadline: hdr.Get("Lambda-Runtime-Deadline-Ms"),
		ARN:      hdr.Get("Lambda-Runtime-Invoked-Function-Arn"),
		TraceID:  hdr.Get("Lambda-Runtime-Trace-Id"),
		Env:      env,
	})
	post("invocation/"+id+"/response", string(out), "")
}

func post(path, body, errorType string) {
	req, _ := http.NewRequest(http.MethodPost, api+path, bytes.NewBufferString(body))
	if errorType != "" {
		req.Header.Set("Lambda-Runtime-Function-Error-Type", errorType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testfn: post:", err)
		os.Exit(1)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		fmt.Fprintln(os.Stderr, "testfn: post", path, resp.Status)
	}
}
