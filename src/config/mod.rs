//! Config loading (in progress).
