//! The DynamoDB adapter of the storage ports (in progress).
