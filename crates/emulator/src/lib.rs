//! placeholder
pub mod soql;
