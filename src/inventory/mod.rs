//! Per-host aggregation of alerts: first/last seen, names, channels,
//! confidence. TODO(helper): implement.
