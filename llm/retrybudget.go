package llm

import (
	"sync/atomic"
	"time"
)

// retryBudgetBuckets is the number of buckets the sliding window is cut
// into: the window slides in steps of a tenth of its length.
const retryBudgetBuckets = 10

// Each bucket is one atomic word: the bucket's epoch (which slice of time
// it counts) in the top 24 bits, then 20 bits of requests and 20 bits of
// retries. Packing them lets a bucket be reset and counted in one
// compare-and-swap, so no count is lost when the window slides, and no lock
// is taken on the hot path. Counts saturate at about a million per bucket:
// a saturated request count under-estimates traffic (fewer retries, the
// safe side) and a saturated retry count refuses further retries.
const (
	budgetCountBits = 20
	budgetCountMax  = 1<<budgetCountBits - 1
	budgetEpochBits = 24
	budgetEpochMask = 1<<budgetEpochBits - 1
)

func budgetPack(epoch, requests, retries uint64) uint64 {
	return (epoch&budgetEpochMask)<<(2*budgetCountBits) | requests<<budgetCountBits | retries
}

func budgetUnpack(w uint64) (epoch, requests, retries uint64) {
	return w >> (2 * budgetCountBits), w >> budgetCountBits & budgetCountMax, w & budgetCountMax
}

// RetryBudget caps retries as a share of traffic, so that an outage does not
// turn into a retry storm: a retry is allowed only while the retries made
// over a sliding window stay within ratio × the requests made in it, plus a
// small floor that lets low-traffic services retry at all.
//
// One budget may be shared by several Retry middlewares (for example one
// budget per provider, shared by the Retry of every model of that
// provider), and by any other component that retries (RecordRequest and
// AllowRetry). A RetryBudget is safe for concurrent use; its methods take no
// lock. The zero value is not usable: create one with NewRetryBudget.
type RetryBudget struct {
	ratio  float64
	floor  float64 // retries allowed per window regardless of traffic
	bucket time.Duration
	start  time.Time

	buckets [retryBudgetBuckets]atomic.Uint64
	denied  atomic.Int64
}

// RetryBudgetStats is a snapshot of a RetryBudget, for tests and telemetry.
type RetryBudgetStats struct {
	// Requests and Retries count the calls and the retries allowed over
	// the current window.
	Requests int64
	Retries  int64
	// Denied counts the retries refused since the budget was created.
	Denied int64
}

// NewRetryBudget returns a budget that allows retries while retries ≤
// ratio × requests + minPerSecond × window, both counted over a sliding
// window of the given length (10 buckets of a tenth of it). For example
// NewRetryBudget(0.1, 10*time.Second, 1) lets retries add at most 10% to
// the traffic, and always allows 10 retries per 10 seconds. A window ≤ 0
// means 10 seconds; a negative ratio or minPerSecond counts as 0.
func NewRetryBudget(ratio float64, window time.Duration, minPerSecond float64) *RetryBudget {
	if window <= 0 {
		window = 10 * time.Second
	}
	bucket := max(window/retryBudgetBuckets, 1)
	return &RetryBudget{
		ratio:  max(ratio, 0),
		floor:  max(minPerSecond, 0) * (bucket * retryBudgetBuckets).Seconds(),
		bucket: bucket,
		start:  time.Now(),
	}
}

// epoch returns the number of the current bucket since the budget was
// created, on the monotonic clock.
func (b *RetryBudget) epoch() uint64 {
	return uint64(time.Since(b.start) / b.bucket)
}

// RecordRequest counts one call (not a retry) in the window. Retry calls it
// once per call, before the first attempt. A nil budget ignores it.
func (b *RetryBudget) RecordRequest() {
	if b == nil {
		return
	}
	e := b.epoch()
	slot := &b.buckets[e%retryBudgetBuckets]
	for {
		old := slot.Load()
		ep, req, ret := budgetUnpack(old)
		if ep != e&budgetEpochMask {
			req, ret = 0, 0 // a bucket left over from an earlier window
		}
		if req == budgetCountMax {
			return
		}
		if slot.CompareAndSwap(old, budgetPack(e, req+1, ret)) {
			return
		}
	}
}

// AllowRetry reports whether one more retry fits in the budget, and if so
// counts it. Retry calls it before each retry; a refusal ends the call with
// the last attempt's error. A nil budget allows every retry.
//
// The check and the count are one atomic step on the current bucket, so
// concurrent callers cannot overdraw the budget within a bucket; at a
// bucket boundary a caller still counting into the previous bucket may let
// one extra retry through.
func (b *RetryBudget) AllowRetry() bool {
	if b == nil {
		return true
	}
	for {
		e := b.epoch()
		slot := &b.buckets[e%retryBudgetBuckets]
		old := slot.Load()
		ep, curReq, curRet := budgetUnpack(old)
		if ep != e&budgetEpochMask {
			curReq, curRet = 0, 0
		}
		req, ret := b.sumPast(e)
		req += curReq
		ret += curRet
		if curRet == budgetCountMax || float64(ret+1) > b.ratio*float64(req)+b.floor {
			b.denied.Add(1)
			return false
		}
		if slot.CompareAndSwap(old, budgetPack(e, curReq, curRet+1)) {
			return true
		}
	}
}

// sumPast adds up the buckets of the window before the current epoch e.
func (b *RetryBudget) sumPast(e uint64) (requests, retries uint64) {
	for i := uint64(1); i < retryBudgetBuckets && i <= e; i++ {
		want := e - i
		ep, req, ret := budgetUnpack(b.buckets[want%retryBudgetBuckets].Load())
		if ep == want&budgetEpochMask {
			requests += req
			retries += ret
		}
	}
	return requests, retries
}

// Stats returns the requests and retries counted over the current window
// and the retries refused so far. A nil budget returns zeros.
func (b *RetryBudget) Stats() RetryBudgetStats {
	if b == nil {
		return RetryBudgetStats{}
	}
	e := b.epoch()
	req, ret := b.sumPast(e)
	if ep, r, t := budgetUnpack(b.buckets[e%retryBudgetBuckets].Load()); ep == e&budgetEpochMask {
		req += r
		ret += t
	}
	return RetryBudgetStats{Requests: int64(req), Retries: int64(ret), Denied: b.denied.Load()}
}
