package asl

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// Parallel and inline Map states (spec, "Parallel State" and "Map State";
// developer guide, state-parallel.html and state-map-inline.html).

// maxInlineMapConcurrency is the inline Map's ceiling when MaxConcurrency is
// 0 ("Inline mode ... supports up to 40 concurrent iterations",
// state-map-inline.html).
const maxInlineMapConcurrency = 40

// fanProgress is what a Parallel or Map state achieved before it stopped:
// the outputs of the children that succeeded, and where the others
// stopped. A redrive reruns only the others.
type fanProgress struct {
	done    []bool
	outputs []any
	cps     []*checkpoint // nil for a child that never started
}

// errSiblingFailed cancels the other children once one has failed ("If any
// branch fails ... all the branches are terminated").
var errSiblingFailed = errors.New("another branch or iteration failed")

type child struct {
	b     *branch
	input any
}

// fanOut runs children concurrently, at most limit at a time (0: no limit),
// in index order. mapName is set for a Map, which records MapIteration
// events. It returns the outputs in order, or the first failure, and the
// progress made.
func (r *runner) fanOut(ctx context.Context, children []child, limit int, mapName string, prev *fanProgress) ([]any, *fanProgress, *failure) {
	n := len(children)
	prog := &fanProgress{done: make([]bool, n), outputs: make([]any, n), cps: make([]*checkpoint, n)}
	if prev != nil && len(prev.done) == n {
		copy(prog.done, prev.done)
		copy(prog.outputs, prev.outputs)
		copy(prog.cps, prev.cps)
	}
	if limit <= 0 || limit > n {
		limit = n
	}
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// Draw the children's random seeds up front, in order, so that seeded
	// runs stay reproducible whatever order the goroutines run in.
	seeds := make([][2]uint64, n)
	for i := range seeds {
		seeds[i] = [2]uint64{r.rng.Uint64(), r.rng.Uint64()}
	}
	// With a limit, the k-th child started waits for the (k-limit)-th to
	// end and starts at its end time. Always pairing the same two children
	// (rather than taking whichever slot frees first) keeps virtual time
	// reproducible, and still never runs more than limit at once.
	var (
		mu       sync.Mutex
		first    *failure
		wg       sync.WaitGroup
		last     = r.prev
		launched []int
		ended    = make([]chan struct{}, n)
		endAt    = make([]time.Time, n)
	)
	startedID := r.prev
launch:
	for i := range n {
		if prog.done[i] {
			continue
		}
		free := r.clock.Now()
		if k := len(launched); k >= limit {
			j := launched[k-limit]
			select {
			case <-ended[j]:
				free = endAt[j]
			case <-fctx.Done():
				break launch
			}
		}
		launched = append(launched, i)
		ended[i] = make(chan struct{})
		wg.Add(1)
		go func(i int, free time.Time) {
			defer wg.Done()
			defer close(ended[i])
			clk := r.clock.Fork()
			if d := free.Sub(clk.Now()); d > 0 {
				_ = clk.Sleep(fctx, d)
			}
			cr := &runner{x: r.x, b: children[i].b, clock: clk, rng: rand.New(rand.NewPCG(seeds[i][0], seeds[i][1])), prev: startedID}
			if mapName != "" {
				cr.event(HistoryEvent{Type: EventMapIterationStarted, MapIterationStartedEventDetails: &MapIterationEventDetails{Name: mapName, Index: i}})
			}
			var f *failure
			if cp := prog.cps[i]; cp != nil {
				// Redrive: resume the child where it stopped.
				cr.cp, cr.scope = cp, cp.scope
				_, _, f = cr.resumeChild(fctx, i, prog)
			} else {
				cr.scope = &scope{parent: r.scope}
				cr.cp = &checkpoint{scope: cr.scope}
				var out any
				out, _, f = cr.run(fctx, children[i].b.startAt, children[i].input, "", nil)
				if f == nil {
					prog.done[i], prog.outputs[i] = true, out
				}
			}
			if mapName != "" {
				details := &MapIterationEventDetails{Name: mapName, Index: i}
				switch {
				case f == nil:
					cr.event(HistoryEvent{Type: EventMapIterationSucceeded, MapIterationSucceededEventDetails: details})
				case f.aborted:
					cr.event(HistoryEvent{Type: EventMapIterationAborted, MapIterationAbortedEventDetails: details})
				default:
					cr.event(HistoryEvent{Type: EventMapIterationFailed, MapIterationFailedEventDetails: details})
				}
			}
			endAt[i] = clk.Now()
			mu.Lock()
			defer mu.Unlock()
			if f != nil {
				prog.cps[i] = cr.cp
				if !f.aborted && first == nil {
					first = f
					cancel(errSiblingFailed)
				}
			}
			last = max(last, cr.prev)
		}(i, free)
	}
	wg.Wait()
	// The state ends when its last child does. (Not cancellable: the
	// children have already spent that time, even if cut short.)
	for _, i := range launched {
		if d := endAt[i].Sub(r.clock.Now()); d > 0 {
			_ = r.clock.Sleep(context.WithoutCancel(ctx), d)
		}
	}
	r.prev = last
	if err := ctx.Err(); err != nil {
		return nil, prog, &failure{aborted: true, Error: "States.Aborted", Cause: abortCause(ctx)}
	}
	if first != nil {
		return nil, prog, first
	}
	return prog.outputs, prog, nil
}

// resumeChild continues a child from its checkpoint and records its output.
func (cr *runner) resumeChild(ctx context.Context, i int, prog *fanProgress) (any, string, *failure) {
	out, outJSON, f := cr.resume(ctx)
	if f == nil {
		prog.done[i], prog.outputs[i], prog.cps[i] = true, out, nil
	}
	return out, outJSON, f
}

// saveProgress keeps a stopped Parallel or Map's progress for a redrive,
// except after States.DataLimitExceeded, which reruns the whole state
// (redrive-executions.html).
func (r *runner) saveProgress(prog *fanProgress, f *failure) {
	if prog != nil && f.Error != ErrDataLimitExceeded {
		r.cp.fan = prog
	}
}

// parallel runs one attempt of a Parallel state.
func (r *runner) parallel(ctx context.Context, st *state, raw any, retryCount int, prev *fanProgress) (any, *assignment, *failure) {
	e := r.newEnv(st, raw, retryCount)
	eff, f := r.effectiveInput(e, st, raw)
	if f != nil {
		return nil, nil, f
	}
	r.event(HistoryEvent{Type: EventParallelStateStarted})
	children := make([]child, len(st.branches))
	for i, b := range st.branches {
		children[i] = child{b: b, input: eff}
	}
	results, prog, f := r.fanOut(ctx, children, 0, "", prev)
	if f != nil {
		r.saveProgress(prog, f)
		if !f.aborted {
			r.event(HistoryEvent{Type: EventParallelStateFailed})
		}
		return nil, nil, f
	}
	r.event(HistoryEvent{Type: EventParallelStateSucceeded})
	return r.finishFan(e, st, raw, results)
}

// finishFan applies ResultSelector, Assign, ResultPath and OutputPath to
// the array of results.
func (r *runner) finishFan(e *env, st *state, raw any, results []any) (any, *assignment, *failure) {
	var result any = results
	if st.resultSelect != nil {
		e.input = result
		var f *failure
		if result, f = st.resultSelect.eval(e); f != nil {
			return nil, nil, f
		}
	}
	a, f := r.evalAssign(st.assign, e, result)
	if f != nil {
		return nil, nil, f
	}
	out, f := r.output(st, raw, result)
	return out, a, f
}

// mapState runs one attempt of an inline Map state.
func (r *runner) mapState(ctx context.Context, st *state, raw any, retryCount int, prev *fanProgress) (any, *assignment, *failure) {
	e := r.newEnv(st, raw, retryCount)
	eff, f := r.applyInputPath(e, st, raw)
	if f != nil {
		return nil, nil, f
	}
	e.input = eff
	itemsValue := eff
	if st.itemsPath != nil {
		if itemsValue, f = e.resolve(st.itemsPath, "ItemsPath"); f != nil {
			return nil, nil, f
		}
	}
	items, ok := itemsValue.([]any)
	if !ok {
		return nil, nil, runtimeError("The items of Map state '%s' must be an array, not a %s", st.name, typeName(itemsValue))
	}
	limit := st.maxConcurrency
	if st.maxConcPath != nil {
		v, f := e.resolve(st.maxConcPath, "MaxConcurrencyPath")
		if f != nil {
			return nil, nil, f
		}
		n, ok := integer(v)
		if !ok || n < 0 {
			return nil, nil, runtimeError("The MaxConcurrencyPath '%s' of state '%s' selected %s; it must select a non-negative integer", st.maxConcPath.src, st.name, toJSON(v))
		}
		limit = int(min(n, 1<<31-1))
	}
	if limit == 0 {
		limit = maxInlineMapConcurrency
	}
	children := make([]child, len(items))
	for i, item := range items {
		input := item
		if st.itemSelector != nil {
			// ItemSelector sees the Map's effective input as $ and the
			// item as $$.Map.Item.Value (spec, "Processing Items").
			ie := r.newEnv(st, eff, retryCount)
			ie.mapItem = map[string]any{"Index": jsonNumber(int64(i)), "Value": item}
			if input, f = st.itemSelector.eval(ie); f != nil {
				return nil, nil, f
			}
		}
		children[i] = child{b: st.processor, input: input}
	}
	r.event(HistoryEvent{Type: EventMapStateStarted, MapStateStartedEventDetails: &MapStateStartedEventDetails{Length: len(items)}})
	results, prog, f := r.fanOut(ctx, children, limit, st.name, prev)
	if f != nil {
		r.saveProgress(prog, f)
		if !f.aborted {
			r.event(HistoryEvent{Type: EventMapStateFailed})
		}
		return nil, nil, f
	}
	r.event(HistoryEvent{Type: EventMapStateSucceeded})
	return r.finishFan(e, st, raw, results)
}
