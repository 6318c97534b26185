//! Quality checks (in progress).
