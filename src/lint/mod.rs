//! Manifest linting (being written).
