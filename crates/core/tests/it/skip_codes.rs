//! `SkipReason::code()`: one stable, distinct code per reason.

use std::collections::HashSet;

use lb_core::model::ContactId;
use lb_core::plan::SkipReason;

#[test]
fn every_skip_reason_has_its_own_snake_case_code() {
    let id = || ContactId("7".into());
    let all = [
        SkipReason::NoEmail,
        SkipReason::InvalidEmail("x".into()),
        SkipReason::ContactNotFlagged,
        SkipReason::ConvertedLead { contact_id: None },
        SkipReason::ConvertedContactLinkedElsewhere {
            contact_id: "003".into(),
            linked_to: id(),
        },
        SkipReason::DuplicateEmailHere { kept: id() },
        SkipReason::DuplicateInOrg {
            primary: "00Q".into(),
        },
        SkipReason::EmailLinkedElsewhere {
            org_id: "00Q".into(),
            contact_id: id(),
        },
        SkipReason::EmailIsUnflaggedContact {
            org_id: "003".into(),
        },
        SkipReason::MissingRequiredField {
            field: "Company".into(),
        },
        SkipReason::EmailTakenHere { contact_id: id() },
        SkipReason::ConflictingLink {
            other: "00Q".into(),
        },
    ];
    let mut seen = HashSet::new();
    for reason in &all {
        let code = reason.code();
        assert!(seen.insert(code), "{code} used twice");
        assert!(
            !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{code}"
        );
    }
    // The code does not depend on the reason's data.
    assert_eq!(
        SkipReason::InvalidEmail("a".into()).code(),
        SkipReason::InvalidEmail("b".into()).code()
    );
}
