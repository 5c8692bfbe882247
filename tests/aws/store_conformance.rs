//! The storage ports' conformance suite, run on SQLite and on DynamoDB (in progress).
