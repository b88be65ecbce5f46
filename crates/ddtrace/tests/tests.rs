//! Integration tests of the facade.

mod burst;
mod init;
mod logs;
mod quickstart;

/// Tests that install the global tracer provider take this lock: the globals are per process.
static GLOBALS: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
