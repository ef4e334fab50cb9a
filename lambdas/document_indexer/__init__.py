"""The S3-triggered document indexer (S3 -> SQS -> Lambda), on the same code as UI uploads."""
