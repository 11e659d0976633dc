//! Integration tests of the sync core: one module per area, one test per rule.
mod helpers;
mod identity;
mod mapping;
mod merge;
mod props;
mod skip_codes;
