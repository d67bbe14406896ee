package lambdahost

import (
	"bytes"
	"io"
	"sync"
)

// syncWriter serialises writes to a function's log writer: several
// sandboxes, and the host, write to it at once.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) write(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.w.Write(p) // a failing log writer must not fail invocations
}

// maxLine bounds what a lineWriter holds back waiting for a newline.
const maxLine = 64 << 10

// lineWriter passes one sandbox's output on in whole lines, so the lines of
// a function's concurrent sandboxes never interleave mid-line.
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	dst *syncWriter
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	end := bytes.LastIndexByte(l.buf, '\n') + 1
	if end == 0 && len(l.buf) >= maxLine {
		end = len(l.buf)
	}
	if end > 0 {
		l.dst.write(l.buf[:end])
		l.buf = l.buf[:copy(l.buf, l.buf[end:])]
	}
	return len(p), nil
}

// flush passes on a last line that has no newline.
func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.dst.write(append(l.buf, '\n'))
		l.buf = nil
	}
}
