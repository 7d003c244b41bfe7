//! I/O out: JSON lines (ECS), inventory files, the human summary.
//! TODO(helper): implement.
