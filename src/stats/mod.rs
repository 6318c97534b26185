//! Statistics over samples (pure: no clock, no IO).
