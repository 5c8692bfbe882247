//! Replaying the dead-letter queue (in progress).
