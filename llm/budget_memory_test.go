package llm_test

import (
	"slices"
	"testing"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest/budgetstoretest"
)

func TestMemoryBudgetStoreContract(t *testing.T) {
	budgetstoretest.Run(t, func(t *testing.T, n int) []budgetstoretest.Store {
		s := llm.NewMemoryBudgetStore()
		return slices.Repeat([]budgetstoretest.Store{s}, n)
	})
}
