//! Work in progress (being written in this session).
