//! The queue port's conformance suite, run on the embedded queue and on SQS (in progress).
