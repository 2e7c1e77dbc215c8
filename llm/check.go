package llm

import "context"

// Check returns a Middleware that runs check before every call and refuses
// the call with check's error, before anything below it runs, when that
// error is not nil. It suits cheap preconditions: a tenant is required, a
// feature is switched off, a request is too large. For streams the check
// runs when the caller starts ranging and its error is the stream's only
// pair.
//
// Return an *Error with a Kind (usually KindPolicyDenied or
// KindInvalidRequest) so that the middlewares above act on it correctly.
func Check(check func(ctx context.Context, req *Request) error) Middleware {
	return func(next Model) Model {
		return ModelFuncs{
			GenerateFunc: func(ctx context.Context, req *Request) (*Response, error) {
				if err := check(ctx, req); err != nil {
					return nil, err
				}
				return next.Generate(ctx, req)
			},
			StreamFunc: func(ctx context.Context, req *Request) Stream {
				return func(yield func(Event, error) bool) {
					if err := check(ctx, req); err != nil {
						yield(Event{}, err)
						return
					}
					next.Stream(ctx, req)(yield)
				}
			},
		}
	}
}
