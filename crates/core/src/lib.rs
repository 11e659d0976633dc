//! The sync core of leadbridge: mapping, identity, three-way merge and plans.
//!
//! **Architecture invariant:** pure. No tokio, no sqlx, no reqwest, no I/O, no clock: inputs are
//! snapshots (with their times), outputs are plans. Everything here is deterministic, so every
//! rule can be tested exhaustively (see `tests/it`).
//!
//! The flow: the runtime reads what changed on both sides into a [`SyncInput`], calls [`plan`]
//! with the [`Mapping`] and a [`PlanConfig`], shows or applies the [`Plan`], and stores for each
//! applied pair the link [`PairPlan::link_after`] returns. [`Snapshot::apply`] does the same on
//! in-memory snapshots (tests, previews of "after").
//!
//! Modules: [`contact`] (the email identity), [`model`] (input types; values are strings, see
//! there), [`mapping`] (entries, default mapping, hash), [`validate`] (against the org's
//! describe), [`plan`] (the planner and plan types), [`apply`] (the pure apply).

pub mod apply;
pub mod contact;
pub mod mapping;
pub mod model;
pub mod plan;
pub mod validate;

pub use apply::{NewIds, Snapshot};
pub use contact::{Email, EmailError};
pub use mapping::{
    AttrKind, AttributeDef, BlankPolicy, Catalog, ConflictPolicy, Direction, Mapping, MappingEntry,
    MappingError, ValueMap, ValuePair,
};
pub use model::{ContactId, FieldBase, OrgRecord, OurContact, RunId, SObject, SyncedLink, Value};
pub use plan::{
    BaseUpdate, Conflict, DuplicateGroup, DuplicateMode, Held, HoldReason, LinkChange, PairPlan,
    Plan, PlanConfig, Provenance, RecordWrite, RequiredField, Rule, SeedUpdate, Side, Skip,
    SkipReason, Summary, SyncInput, WriteOp, WrittenValue, plan,
};
pub use validate::{
    FieldType, OrgField, OrgSchema, Problem, ProblemKind, Severity, Validation, validate,
};
