package llm

// contentGate holds back the events of one upstream stream that come
// before its first content event (text, reasoning, refusal or tool-call
// delta; see isContentEvent): EventStart and anything else that carries
// no content. Retry, Fallback and Hedge use it to decide whether a stream
// has reached the caller: a provider may send EventStart long before any
// token (OpenAI sends it on the first chunk, and Azure's first chunk
// carries only prompt-filter results), so a stream that stalls or fails
// after EventStart has given the caller nothing, and may still be retried,
// fall back or lose a hedge race. The held events of such an attempt are
// dropped; those of the attempt that serves the caller are released in
// order together with its first content event, or at the end of a stream
// that has none.
//
// The first held event lives in the gate itself, so the usual stream
// (one start event, then content) holds back without allocating. The zero
// value is an open-for-holding, empty gate.
type contentGate struct {
	open  bool    // a content event has passed: nothing is held any more
	n     int     // number of held events
	first Event   // the first held event, when n > 0
	rest  []Event // the held events after the first
}

// hold keeps ev back, and reports true, while no content event has passed
// and ev carries no content. Otherwise it reports false (ev is to be
// passed on, after the held events): the first content event opens the
// gate.
func (g *contentGate) hold(ev Event) bool {
	if g.open {
		return false
	}
	if isContentEvent(ev.Kind) {
		g.open = true
		return false
	}
	if g.n == 0 {
		g.first = ev
	} else {
		g.rest = append(g.rest, ev)
	}
	g.n++
	return true
}

// head returns the event the caller will see first when ev comes next:
// the first held event, or ev when none is held. Middlewares annotate it
// (Target, Attempts) as "the first event".
func (g *contentGate) head(ev *Event) *Event {
	if g.n > 0 {
		return &g.first
	}
	return ev
}

// release passes the held events to yield in order and forgets them. It
// reports false as soon as yield does. It leaves the gate open or closed
// as it was.
func (g *contentGate) release(yield func(Event, error) bool) bool {
	if g.n == 0 {
		return true
	}
	first, rest := g.first, g.rest
	g.n, g.first, g.rest = 0, Event{}, nil
	if !yield(first, nil) {
		return false
	}
	for _, ev := range rest {
		if !yield(ev, nil) {
			return false
		}
	}
	return true
}

// reset forgets the held events and closes the gate, as for an attempt
// that failed before its first content event: the gate can then serve
// another attempt.
func (g *contentGate) reset() {
	*g = contentGate{}
}
