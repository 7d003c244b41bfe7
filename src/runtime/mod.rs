//! Threads, queues, the worker loop and shutdown.
