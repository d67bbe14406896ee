package main

import (
	"bytes"
	"context"
	"io"
	"testing"
)

func TestLocalUsage(t *testing.T) {
	for _, args := range [][]string{{"serve", "--nope"}, {"demo", "--repo", "/nonexistent"}, {"fly"}} {
		var stderr bytes.Buffer
		if code := commands.Run(context.Background(), args, io.Discard, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, stderr.String())
		}
	}
}
