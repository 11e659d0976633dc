//! `leadbridge runs [--json]` and `leadbridge runs show ID [--json]`: the run history
//! (R-SYNC-7): trigger, times, counts per side and object, API requests, and each failure with
//! the org's `errorCode`, message and record; what the org's deletions and merges did
//! (`counts.deletes`: the counts in plain words, each contact whose link changed).

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::base_settings::{GlobalArgs, runtime};
use crate::sync_cmd::open_base;

#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub action: Option<RunsAction>,
    /// How many runs to list, newest first (1–1000).
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RunsAction {
    /// One run with every failure.
    Show {
        /// The run's id (the first column of `leadbridge runs`).
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(global: &GlobalArgs, args: RunsArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let (store, _key) = open_base(global).await?;
        let sync = store.sync();
        let code = match args.action {
            None => {
                // The store clamps its page size: 0 would silently list one run.
                if !(1..=1000).contains(&args.limit) {
                    anyhow::bail!("--limit must be between 1 and 1000");
                }
                let runs = sync.runs(None, args.limit).await?;
                if args.json {
                    let list: Vec<serde_json::Value> =
                        runs.iter().map(lb_engine::runner::run_view).collect();
                    outln!("{}", serde_json::to_string_pretty(&list)?);
                } else if runs.is_empty() {
                    outln!("No sync run yet.");
                } else {
                    let rows: Vec<[String; 7]> = runs
                        .iter()
                        .map(|r| {
                            [
                                r.id.to_string(),
                                lb_store::rfc3339(r.started_at),
                                r.triggered_by.clone(),
                                r.scope.clone(),
                                r.status.name().to_owned(),
                                r.api_requests.to_string(),
                                summary(&r.counts),
                            ]
                        })
                        .collect();
                    let header = [
                        "id", "started", "trigger", "scope", "status", "requests", "summary",
                    ]
                    .map(str::to_owned);
                    for line in table(&header, &rows, &[0, 5]) {
                        outln!("{line}");
                    }
                }
                ExitCode::SUCCESS
            }
            Some(RunsAction::Show { id, json }) => match sync.run(id).await? {
                None => {
                    eprintln!("error: no run {id}");
                    ExitCode::from(1)
                }
                Some(r) => {
                    let failures = sync.run_failures(id).await?;
                    if json || args.json {
                        let mut v = lb_engine::runner::run_view(&r);
                        v["failures"] = serde_json::to_value(&failures)?;
                        outln!("{}", serde_json::to_string_pretty(&v)?);
                    } else {
                        outln!(
                            "run {} — {} ({} sync, triggered by {})",
                            r.id,
                            r.status.name(),
                            r.scope,
                            r.triggered_by
                        );
                        outln!(
                            "  started {}, finished {}",
                            lb_store::rfc3339(r.started_at),
                            r.finished_at
                                .map(lb_store::rfc3339)
                                .unwrap_or_else(|| "—".into())
                        );
                        outln!("  API requests: {}", r.api_requests);
                        for line in counts_text(&r.counts) {
                            outln!("  {line}");
                        }
                        if let Some(m) = &r.message {
                            outln!("  {}", m.replace('\n', "\n  "));
                        }
                        outln!("  failures: {}", failures.len());
                        for f in &failures {
                            outln!(
                                "    {:?} {} {}{}: {} {}{}",
                                f.side,
                                f.object.as_deref().unwrap_or(""),
                                f.record.as_deref().unwrap_or(""),
                                f.email
                                    .as_deref()
                                    .map(|e| format!(" <{e}>"))
                                    .unwrap_or_default(),
                                f.error_code,
                                f.message,
                                if f.fields.is_empty() {
                                    String::new()
                                } else {
                                    format!(" [{}]", f.fields.join(", "))
                                }
                            );
                        }
                    }
                    ExitCode::SUCCESS
                }
            },
        };
        store.close().await;
        Ok(code)
    })
}

fn summary(counts: &serde_json::Value) -> String {
    let n = |path: &[&str]| {
        let mut v = counts;
        for p in path {
            v = &v[*p];
        }
        v.as_u64().unwrap_or(0)
    };
    format!(
        "org +{} ~{} | here +{} ~{} | skipped {} | failed {}",
        n(&["crm", "Lead", "created"]),
        n(&["crm", "Lead", "updated"]),
        n(&["marketing", "Lead", "created"]) + n(&["marketing", "Contact", "created"]),
        n(&["marketing", "Lead", "updated"]) + n(&["marketing", "Contact", "updated"]),
        n(&["skipped"]),
        n(&["failed"])
    )
}

/// Lines of a plain-text table, columns as wide as their widest cell; `right` are the columns
/// aligned right (numbers). The last column, when aligned left, is not padded.
fn table<const N: usize>(
    header: &[String; N],
    rows: &[[String; N]],
    right: &[usize],
) -> Vec<String> {
    let mut widths = [0usize; N];
    for row in std::iter::once(header).chain(rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    std::iter::once(header)
        .chain(rows)
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(i, cell)| match i {
                    _ if right.contains(&i) => format!("{cell:>w$}", w = widths[i]),
                    _ if i + 1 == N => cell.clone(),
                    _ => format!("{cell:<w$}", w = widths[i]),
                })
                .collect();
            cells.join("  ")
        })
        .collect()
}

/// A run's counts (its stored JSON) as readable lines: writes per side and object in a table,
/// then what was read, skipped and linked, then each skip and duplicate group.
fn counts_text(counts: &serde_json::Value) -> Vec<String> {
    let n = |path: &[&str]| {
        let mut v = counts;
        for p in path {
            v = &v[*p];
        }
        v.as_u64().unwrap_or(0)
    };
    let header = ["writes", "created", "updated", "failed"].map(str::to_owned);
    let rows: Vec<[String; 4]> = [
        ("org Leads", "crm", "Lead"),
        ("org Contacts", "crm", "Contact"),
        ("here, from Leads", "marketing", "Lead"),
        ("here, from Contacts", "marketing", "Contact"),
    ]
    .into_iter()
    .map(|(label, side, object)| {
        [
            label.to_owned(),
            n(&[side, object, "created"]).to_string(),
            n(&[side, object, "updated"]).to_string(),
            n(&[side, object, "failed"]).to_string(),
        ]
    })
    .collect();
    let mut lines = table(&header, &rows, &[1, 2, 3]);
    lines.push(format!(
        "read: {} org Leads, {} org Contacts, {} contacts here",
        n(&["read_org_leads"]),
        n(&["read_org_contacts"]),
        n(&["read_contacts"])
    ));
    lines.push(format!(
        "skipped: {}, conflicts: {}, duplicate groups: {}, links matched: {}, links followed: {}",
        n(&["skipped"]),
        n(&["conflicts"]),
        n(&["duplicate_groups"]),
        n(&["links_matched"]),
        n(&["links_followed"])
    ));
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
    // The engine records the first 500 of each list; say so when the totals are larger.
    let listed = |key: &str| counts[key].as_array().map_or(0, Vec::len) as u64;
    for (key, total, what) in [
        ("skips", n(&["skipped"]), "skips"),
        ("duplicates", n(&["duplicate_groups"]), "duplicate groups"),
    ] {
        if listed(key) < total && listed(key) > 0 {
            lines.push(format!(
                "  (the first {} of {total} {what} are listed)",
                listed(key)
            ));
        }
    }
    for skip in counts["skips"].as_array().into_iter().flatten() {
        let object = skip["object"]
            .as_str()
            .map(|o| format!(" {o}"))
            .unwrap_or_default();
        lines.push(format!(
            "  skipped {}{object} {}: {}",
            text(&skip["side"]),
            text(&skip["id"]),
            text(&skip["reason"])
        ));
    }
    for group in counts["duplicates"].as_array().into_iter().flatten() {
        let records: Vec<String> = group["records"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        lines.push(format!(
            "  duplicates of {}: {} (synced: {})",
            text(&group["email"]),
            records.join(", "),
            text(&group["synced"])
        ));
    }
    lines.extend(deletes_text(&counts["deletes"]));
    lines
}

/// What the org's deletions and merges did (`counts.deletes`, recorded when the run read any):
/// the counts in plain words, then each contact whose link changed.
fn deletes_text(deletes: &serde_json::Value) -> Vec<String> {
    let n = |key: &str| deletes[key].as_u64().unwrap_or(0);
    if n("read") == 0 {
        return Vec::new();
    }
    let counted =
        |n: u64, one: &str, other: &str| format!("{n} {}", if n == 1 { one } else { other });
    let parts: Vec<String> = [
        (
            n("tombstoned"),
            "contact no longer synced (its Salesforce record was deleted)",
            "contacts no longer synced (their Salesforce record was deleted)",
        ),
        (
            n("relinked"),
            "contact relinked to the record it was merged into",
            "contacts relinked to the record theirs was merged into",
        ),
        (
            n("duplicates"),
            "contact no longer synced (its record was merged into one linked to another contact)",
            "contacts no longer synced (their record was merged into one linked to another contact)",
        ),
        (
            n("unlinked"),
            "not linked to any contact (nothing to do)",
            "not linked to any contact (nothing to do)",
        ),
        (
            n("stale"),
            "left alone (its link changed during the run)",
            "left alone (their link changed during the run)",
        ),
    ]
    .into_iter()
    .filter(|(n, _, _)| *n > 0)
    .map(|(n, one, other)| counted(n, one, other))
    .collect();
    let head = counted(
        n("read"),
        "record deleted or merged away in Salesforce",
        "records deleted or merged away in Salesforce",
    );
    let mut lines = vec![if parts.is_empty() {
        format!("{head}.")
    } else {
        format!("{head}: {}.", parts.join(", "))
    }];
    let reports = deletes["reports"].as_array().map_or(&[][..], Vec::as_slice);
    let changed = n("tombstoned") + n("relinked") + n("duplicates");
    if !reports.is_empty() && (reports.len() as u64) < changed {
        lines.push(format!(
            "  (the first {} of {changed} deletions are listed)",
            reports.len()
        ));
    }
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
    for r in reports {
        let contact = r["contact_id"]
            .as_i64()
            .map_or_else(|| "?".to_owned(), |id| id.to_string());
        let record = format!("{} {}", text(&r["object"]), text(&r["org_id"]));
        let master = text(&r["master_id"]);
        let what = match r["outcome"].as_str().unwrap_or("") {
            "tombstoned" => format!("{record} deleted in Salesforce: no longer synced"),
            "relinked" => format!("{record} merged into {master}: now linked to it"),
            "duplicate" => format!(
                "{record} merged into {master}, linked to contact {}: no longer synced",
                r["other_contact"]
                    .as_i64()
                    .map_or_else(|| "?".to_owned(), |id| id.to_string())
            ),
            other => format!("{record}: {other}"),
        };
        lines.push(format!("  contact {contact}: {what}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_runs_counts_read_as_a_table_and_lines_not_json() {
        let counts = json!({
            "read_org_leads": 4, "read_org_contacts": 1, "read_contacts": 2,
            "crm": {"Lead": {"created": 1, "updated": 12, "failed": 0}, "Contact": {"created": 0, "updated": 0, "failed": 0}},
            "marketing": {"Lead": {"created": 3, "updated": 0, "failed": 1}, "Contact": {"created": 0, "updated": 0, "failed": 0}},
            "skipped": 1, "conflicts": 0, "duplicate_groups": 1, "links_matched": 0, "links_followed": 0,
            "skips": [{"side": "marketing", "id": "2", "object": null, "reason": "no LastName"}],
            "duplicates": [{"email": "a@x.com", "records": ["00Q1", "00Q2"], "synced": "00Q1"}]
        });
        assert_eq!(
            super::counts_text(&counts),
            [
                "writes               created  updated  failed",
                "org Leads                  1       12       0",
                "org Contacts               0        0       0",
                "here, from Leads           3        0       1",
                "here, from Contacts        0        0       0",
                "read: 4 org Leads, 1 org Contacts, 2 contacts here",
                "skipped: 1, conflicts: 0, duplicate groups: 1, links matched: 0, links followed: 0",
                "  skipped marketing 2: no LastName",
                "  duplicates of a@x.com: 00Q1, 00Q2 (synced: 00Q1)",
            ]
        );
    }

    #[test]
    fn a_run_with_more_skips_than_recorded_says_only_the_first_are_listed() {
        let counts = json!({
            "skipped": 612, "duplicate_groups": 1,
            "skips": [{"side": "crm", "id": "00Q1", "object": "Lead", "reason": "no email"}],
            "duplicates": [{"email": "a@x.com", "records": ["00Q2", "00Q3"], "synced": "00Q2"}]
        });
        let lines = super::counts_text(&counts);
        assert!(lines.contains(&"  (the first 1 of 612 skips are listed)".to_owned()));
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("duplicate groups are listed"))
        );
        assert!(lines.contains(&"  skipped crm Lead 00Q1: no email".to_owned()));
    }

    #[test]
    fn a_runs_deletes_read_as_plain_words_then_one_line_per_contact() {
        let counts = json!({
            "skipped": 1,
            "deletes": {
                "read": 4, "unlinked": 1, "tombstoned": 1, "relinked": 1, "duplicates": 1, "stale": 0,
                "reports": [
                    {"contact_id": 3, "object": "Lead", "org_id": "00Q3", "outcome": "tombstoned"},
                    {"contact_id": 4, "object": "Lead", "org_id": "00Q4", "outcome": "relinked", "master_id": "00Q9"},
                    {"contact_id": 5, "object": "Contact", "org_id": "0035", "outcome": "duplicate", "master_id": "0036", "other_contact": 6}
                ]
            }
        });
        let lines = super::counts_text(&counts);
        let at = lines
            .iter()
            .position(|l| l.starts_with("4 records"))
            .unwrap_or_else(|| panic!("{lines:#?}"));
        assert_eq!(
            lines[at..],
            [
                "4 records deleted or merged away in Salesforce: 1 contact no longer synced (its Salesforce record was deleted), 1 contact relinked to the record it was merged into, 1 contact no longer synced (its record was merged into one linked to another contact), 1 not linked to any contact (nothing to do).",
                "  contact 3: Lead 00Q3 deleted in Salesforce: no longer synced",
                "  contact 4: Lead 00Q4 merged into 00Q9: now linked to it",
                "  contact 5: Contact 0035 merged into 0036, linked to contact 6: no longer synced",
            ]
        );
        // More changes than listed: said so. No deletion read: nothing said.
        let many = json!({"deletes": {"read": 900, "tombstoned": 900, "reports": [
            {"contact_id": 3, "object": "Lead", "org_id": "00Q3", "outcome": "tombstoned"}]}});
        assert!(
            super::counts_text(&many)
                .contains(&"  (the first 1 of 900 deletions are listed)".to_owned())
        );
        let none = super::counts_text(&json!({"skipped": 0}));
        assert!(!none.iter().any(|l| l.contains("Salesforce")), "{none:#?}");
    }

    #[test]
    fn table_columns_are_as_wide_as_their_widest_cell() {
        let header = ["id", "started", "note"].map(str::to_owned);
        let rows = [["12", "2026-11-29T05:40:57.048743Z", "x"].map(str::to_owned)];
        assert_eq!(
            super::table(&header, &rows, &[0]),
            [
                "id  started                      note",
                "12  2026-11-29T05:40:57.048743Z  x"
            ]
        );
    }
}
