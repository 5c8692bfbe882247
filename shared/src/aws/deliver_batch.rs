//! The deliver function's batch handling (in progress).
