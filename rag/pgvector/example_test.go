package pgvector_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/rag"
	"github.com/keel-go/keel/rag/pgvector"
)

// A store on a PostgreSQL server with pgvector: open, migrate at
// start-up, write a document, search it for a principal. It needs a
// server, so it is compiled, not run.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := pgvector.New(ctx, pool, pgvector.Options{Schema: "rag", Dim: 3})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	text := "Refunds are paid within five days."
	info := rag.DocumentInfo{ID: "refunds", Tenant: "acme", ACL: rag.ACL{Groups: []string{"support"}}, Title: "Refund policy"}
	chunks := []rag.Chunk{{Index: 0, Start: 0, End: len(text), Text: text, Vector: []float32{0.1, 0.9, 0.2}}}
	if err := store.Replace(ctx, info, chunks); err != nil {
		log.Fatal(err)
	}

	alice := llm.Principal{Tenant: "acme", User: "alice", Groups: []string{"support"}}
	hits, err := store.VectorSearch(ctx, rag.VectorQuery{Query: rag.Query{Principal: alice, K: 5}, Vector: []float32{0.1, 0.8, 0.3}})
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hits {
		fmt.Printf("%s %.2f %s\n", h.Chunk.ID(), h.Score, h.Chunk.Title)
	}
	words, err := store.KeywordSearch(ctx, rag.KeywordQuery{Query: rag.Query{Principal: alice, K: 5}, Text: "refund time"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(words), "keyword hits")
}
