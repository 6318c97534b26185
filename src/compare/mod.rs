//! Run comparison (in progress).
