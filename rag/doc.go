// Package rag is keel's retrieval-augmented generation toolkit: it splits
// documents into chunks that fit an embedding model's limits and retrieves
// them for a prompt. This file is a placeholder for the package overview.
package rag
