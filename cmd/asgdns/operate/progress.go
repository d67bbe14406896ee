package operate

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// progress draws a one-line bar on a terminal ("planning [=====     ] 5/10").
// When stderr is not a terminal it draws nothing: a bar redrawn with \r is
// garbage in a CI log.
type progress struct {
	w       io.Writer
	enabled bool

	mu    sync.Mutex
	label string
	total int
	done  int
}

const barWidth = 30

func newProgress(w io.Writer, enabled bool) *progress {
	return &progress{w: w, enabled: enabled}
}

// start begins a phase of total steps.
func (p *progress) start(label string, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label, p.total, p.done = label, total, 0
	p.draw()
}

// step records one step done; safe from several goroutines.
func (p *progress) step() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.draw()
}

// finish clears the bar so the report that follows starts on a clean line.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.enabled && p.total > 0 {
		fmt.Fprint(p.w, "\r\033[K")
	}
	p.total = 0
}

func (p *progress) draw() {
	if !p.enabled || p.total <= 0 {
		return
	}
	filled := barWidth * p.done / p.total
	fmt.Fprintf(p.w, "\r%-9s [%s%s] %d/%d", p.label,
		strings.Repeat("=", filled), strings.Repeat(" ", barWidth-filled), p.done, p.total)
}
