//! Simulated machine.
