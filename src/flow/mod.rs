//! Symmetric flow keys, the bounded per-worker flow table, and the in-order
//! reassembly of the first bytes of each TCP client stream.
