//! Resource monitor (in progress).
