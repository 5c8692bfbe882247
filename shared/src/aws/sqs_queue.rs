//! The SQS adapter of the queue port (in progress).
