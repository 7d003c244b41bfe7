//! Counters and latency histograms.
