//! The sync core of leadbridge: mapping, identity, three-way merge and plans.
//!
//! **Architecture invariant:** pure. No tokio, no sqlx, no reqwest, no I/O, no clock: inputs are
//! snapshots (with their times), outputs are plans. Everything here is deterministic, so every
//! rule can be tested exhaustively (see `tests/it`).
//!
//! The flow: the runtime reads what changed on both sides into a [`SyncInput`], calls [`plan()`]
//! with the [`Mapping`] and a [`PlanConfig`], shows or applies the [`Plan`], and stores for each
//! applied pair the link [`PairPlan::link_after`] returns. [`Snapshot::apply`] does the same on
//! in-memory snapshots (tests, previews of "after").
//!
//! ```
//! use lb_core::*;
//! use std::collections::BTreeMap;
//! use time::macros::datetime;
//!
//! // A contact here, unlinked, and nothing in the org yet: the plan creates its Lead.
//! let mut jane = OurContact::new("c1", "Jane@Example.com");
//! jane.values.insert("last_name".into(), "Doe".into());
//! jane.values.insert("company".into(), "Acme".into());
//! let input = SyncInput { contacts: vec![jane], records: vec![], links: vec![] };
//! let mapping = Mapping::default_mapping();
//! let first = plan(&mapping, &PlanConfig::default(), &input, &RunId::from("run-1"));
//! assert_eq!(first.summary().crm_creates, 1);
//! let pair = &first.pairs[0];
//! let lead = pair.crm.as_ref().unwrap();
//! assert_eq!(lead.values[0].field, "Email");
//! assert_eq!(lead.values[0].value.as_deref(), Some("jane@example.com"));
//!
//! // The runtime sends the create; once Salesforce answers with the new Id, it stores the link.
//! let link = pair.link_after(None, "c1".into(), "00Q000000000001".into(), true, true).unwrap();
//! assert_eq!(link.base["company"].theirs.as_deref(), Some("Acme"));
//!
//! // Next run: the Lead comes back (our own write, new SystemModstamp): nothing to do.
//! let at = datetime!(2026-01-01 0:00 UTC);
//! let fields: BTreeMap<String, String> = lead.values.iter()
//!     .map(|v| (v.field.clone(), v.value.clone().unwrap())).collect();
//! let record = OrgRecord { id: link.org_id.clone(), object: SObject::Lead, fields,
//!     last_modified: at, system_modstamp: at, created: at,
//!     is_converted: false, converted_contact_id: None };
//! let again = SyncInput { contacts: input.contacts.clone(), records: vec![record], links: vec![link] };
//! assert!(plan(&mapping, &PlanConfig::default(), &again, &RunId::from("run-2")).is_empty());
//! ```
//!
//! Modules: [`contact`] (the email identity), [`model`] (input types; values are strings, see
//! there), [`mapping`] (entries, default mapping, hash), [`mod@validate`] (against the org's
//! describe), [`mod@plan`] (the planner and plan types), [`apply`] (the pure apply).

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
    DescribeError, FieldType, OrgField, OrgSchema, Problem, ProblemKind, Severity, Validation,
    validate,
};
