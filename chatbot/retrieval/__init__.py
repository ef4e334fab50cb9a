"""Document chunking, embeddings, the pgvector store and hybrid search."""
