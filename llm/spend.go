package llm

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// SpendRecord is what one call cost and for whom, as the Budget
// middlewares report it to a SpendRecorder after every charged call.
type SpendRecord struct {
	// Time is when the call was charged. Stores that keep daily totals
	// count it on its calendar day in Time's location, which the Budget
	// middlewares set to BudgetOptions.Location.
	Time time.Time
	// Tenant, User and Feature come from the request; Model is the model
	// that answered (or, for a failed call, the one requested).
	Tenant  string
	User    string
	Feature string
	Model   string
	// Cost is what the call cost, failed attempts included.
	Cost NanoUSD
	// Estimated says part of Cost was estimated because the provider
	// reported no usage for it (see Budget).
	Estimated bool
	// Usage is the token usage the provider reported (zero when it
	// reported none).
	Usage Usage
}

// SpendRecorder receives a record of every call a Budget middleware
// charges: to keep daily totals (the built-in stores), or to attribute
// spend per user, write it to a warehouse, or log it. Implementations must
// be safe for concurrent use and return promptly.
type SpendRecorder interface {
	RecordSpend(ctx context.Context, rec SpendRecord) error
}

// SpendStore is a SpendRecorder that keeps totals per calendar day,
// tenant, feature and model, and reports them. MemoryBudgetStore and the
// Redis store of llm/redisstore implement it. User is not kept: the
// number of users would multiply the totals kept; a custom SpendRecorder
// can attribute per user.
type SpendStore interface {
	SpendRecorder
	// Spend returns the totals per tenant, feature and model (one
	// SpendTotal per combination seen, in any order) over the calendar
	// days in from's location from the day holding from up to, but not
	// including, the first day that starts at or after to. Days are in
	// from's location, which should be the location records are made in
	// (BudgetOptions.Location).
	Spend(ctx context.Context, from, to time.Time) ([]SpendTotal, error)
}

// SpendTotal sums the calls of one group of a spend report.
type SpendTotal struct {
	// Tenant, Feature and Model name the group; a dimension the report
	// is not grouped by is empty.
	Tenant  string
	Feature string
	Model   string
	// Cost is the total cost, exact to the nano-dollar.
	Cost NanoUSD
	// Calls counts the charged calls; EstimatedCalls those whose cost
	// was partly estimated.
	Calls          int64
	EstimatedCalls int64
	// Usage sums the reported token usage.
	Usage Usage
}

// Add returns the sum of s and o, keeping s's names.
func (s SpendTotal) Add(o SpendTotal) SpendTotal {
	s.Cost += o.Cost
	s.Calls += o.Calls
	s.EstimatedCalls += o.EstimatedCalls
	s.Usage = s.Usage.Add(o.Usage)
	return s
}

// SpendDimension is a dimension a spend report groups by.
type SpendDimension uint8

// The dimensions of a spend report.
const (
	ByTenant SpendDimension = iota + 1
	ByFeature
	ByModel
)

// SpendReport returns the spend recorded in s from from to to (see
// SpendStore.Spend for the days covered), summed by the given dimensions:
// SpendReport(ctx, s, from, to, ByTenant) gives one total per tenant,
// (ByTenant, ByFeature) one per tenant and feature, and no dimension one
// grand total (or none when nothing was spent). Totals are sorted by
// tenant, feature and model.
func SpendReport(ctx context.Context, s SpendStore, from, to time.Time, by ...SpendDimension) ([]SpendTotal, error) {
	rows, err := s.Spend(ctx, from, to)
	if err != nil {
		return nil, err
	}
	var keep [ByModel + 1]bool
	for _, d := range by {
		if d <= ByModel {
			keep[d] = true
		}
	}
	type group struct{ tenant, feature, model string }
	sums := make(map[group]SpendTotal)
	for _, r := range rows {
		var g group
		if keep[ByTenant] {
			g.tenant = r.Tenant
		}
		if keep[ByFeature] {
			g.feature = r.Feature
		}
		if keep[ByModel] {
			g.model = r.Model
		}
		t := sums[g]
		t.Tenant, t.Feature, t.Model = g.tenant, g.feature, g.model
		sums[g] = t.Add(r)
	}
	out := make([]SpendTotal, 0, len(sums))
	for _, t := range sums {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b SpendTotal) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Feature, b.Feature), cmp.Compare(a.Model, b.Model))
	})
	return out, nil
}

// SpendDays returns the calendar days a SpendStore.Spend call covers, as
// the midnights that start them, in from's location. Stores use it so that
// every implementation covers the same days.
func SpendDays(from, to time.Time) []time.Time {
	loc := from.Location()
	y, m, d := from.Date()
	var days []time.Time
	for day := time.Date(y, m, d, 0, 0, 0, 0, loc); day.Before(to); day = time.Date(y, m, d, 0, 0, 0, 0, loc) {
		days = append(days, day)
		d++
	}
	return days
}
