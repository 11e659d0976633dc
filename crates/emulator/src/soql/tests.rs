//! Behaviour of the SOQL module, through `check` (query → matching ids) and `check_err`
//! (query → error code and message).

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;

struct LeadSchema;

const LEAD_FIELDS: &[(&str, FieldKind)] = &[
    ("Id", FieldKind::Id),
    ("FirstName", FieldKind::String),
    ("LastName", FieldKind::String),
    ("Email", FieldKind::Email),
    ("Company", FieldKind::String),
    ("Status", FieldKind::Picklist),
    ("NumberOfEmployees", FieldKind::Int),
    ("AnnualRevenue", FieldKind::Currency),
    ("IsConverted", FieldKind::Boolean),
    ("CreatedDate", FieldKind::DateTime),
    ("ConvertedDate", FieldKind::Date),
    ("OwnerId", FieldKind::Reference),
    ("Phone", FieldKind::Phone),
    ("Description", FieldKind::TextArea),
    ("Interests__c", FieldKind::MultiPicklist),
    ("plezi_url__c", FieldKind::Url),
];

impl Schema for LeadSchema {
    fn object(&self, name: &str) -> Option<String> {
        ["Lead", "Contact"]
            .iter()
            .find(|o| o.eq_ignore_ascii_case(name))
            .map(|o| (*o).to_owned())
    }
    fn field(&self, object: &str, field: &str) -> Option<(String, FieldKind)> {
        if object != "Lead" {
            return None;
        }
        LEAD_FIELDS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(field))
            .map(|(n, k)| ((*n).to_owned(), *k))
    }
    fn key_prefix(&self, object: &str) -> Option<String> {
        (object == "Lead").then(|| "00Q".to_owned())
    }
}

/// 2026-03-18 is a Wednesday.
fn today() -> time::Date {
    time::Date::from_calendar_date(2026, time::Month::March, 18).expect("valid date")
}

fn rec(id: &str, fields: Value) -> Map<String, Value> {
    let mut map = match fields {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    map.insert("Id".into(), json!(id));
    map
}

fn leads() -> Vec<Map<String, Value>> {
    vec![
        rec(
            "1",
            json!({"LastName": "Martin", "Email": "o'brien@x.com", "Company": "Acme", "Status": "Open - Not Contacted",
                   "NumberOfEmployees": 10, "AnnualRevenue": 1500.5, "IsConverted": false,
                   "CreatedDate": "2026-03-18T09:00:00.000+0000", "Interests__c": "Rust;Go"}),
        ),
        rec(
            "2",
            json!({"LastName": "durand", "Email": "a'OR Email!=''@x.com", "Company": "Globex", "Status": "Working - Contacted",
                   "NumberOfEmployees": 250, "AnnualRevenue": null, "IsConverted": true,
                   "CreatedDate": "2026-03-17T23:59:59.999+0000", "ConvertedDate": "2026-03-17", "Interests__c": "Go"}),
        ),
        rec(
            "3",
            json!({"LastName": "Élodie", "Email": null, "Company": "acme", "Status": "Closed - Converted",
                   "NumberOfEmployees": 5, "AnnualRevenue": 99, "IsConverted": false,
                   "CreatedDate": "2026-01-01T00:00:00.000+0000", "ConvertedDate": "2026-01-01", "Phone": "+33 1 23"}),
        ),
        rec(
            "4",
            json!({"LastName": "Zed", "Email": "", "Company": "100% Pure_Co", "Status": "Open - Not Contacted",
                   "IsConverted": false, "CreatedDate": "2025-12-31T23:00:00.000+0000", "Interests__c": "Python;Rust;Go"}),
        ),
        rec(
            "5",
            json!({"LastName": "back\\slash", "Email": "BOB@EXAMPLE.COM", "Company": "Line\nBreak",
                   "NumberOfEmployees": 10, "IsConverted": false, "CreatedDate": "2026-03-10T12:00:00.000+0000"}),
        ),
    ]
}

fn compiled(query: &str) -> CompiledQuery {
    compile_at(query, &LeadSchema, today())
        .unwrap_or_else(|e| panic!("{query} should compile: {e}"))
}

#[track_caller]
fn check(query: &str, expected_ids: &[&str]) {
    let records = leads();
    let q = compiled(query);
    let got: Vec<&str> = q
        .run(records.iter())
        .into_iter()
        .map(|r| r["Id"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(got, expected_ids, "{query}");
}

#[track_caller]
fn check_err(query: &str, code: &str, message: &str) {
    match compile_at(query, &LeadSchema, today()) {
        Ok(_) => panic!("{query} should be refused"),
        Err(e) => {
            assert_eq!(e.error_code, code, "{query}: {}", e.message);
            assert_eq!(e.message, message, "{query}");
        }
    }
}

/// Asserts only the code and the last line (the sentence after the caret diagram).
#[track_caller]
fn check_err_sentence(query: &str, code: &str, sentence: &str) {
    match compile_at(query, &LeadSchema, today()) {
        Ok(_) => panic!("{query} should be refused"),
        Err(e) => {
            assert_eq!(e.error_code, code, "{query}: {}", e.message);
            assert_eq!(
                e.message.lines().last(),
                Some(sentence),
                "{query}: {}",
                e.message
            );
        }
    }
}

// ---- select list -------------------------------------------------------------------------

#[test]
fn field_names_resolve_case_insensitively_to_canonical_names() {
    let q = compiled("select id, EMAIL, lastname, PLEZI_URL__C from lead");
    assert_eq!(q.object(), "Lead");
    assert_eq!(q.fields(), ["Id", "Email", "LastName", "plezi_url__c"]);
    assert!(!q.is_count());
}

#[test]
fn id_is_always_selectable_even_if_the_schema_omits_it() {
    let q = compiled("SELECT Id FROM Contact");
    assert_eq!(q.fields(), ["Id"]);
    assert_eq!(q.object(), "Contact");
}

#[test]
fn object_qualified_and_aliased_fields_name_the_queried_object() {
    let q = compiled("SELECT Lead.Email, l.LastName FROM Lead l WHERE l.Company = 'Acme'");
    assert_eq!(q.fields(), ["Email", "LastName"]);
    check("SELECT Id FROM Lead l WHERE l.Company = 'globex'", &["2"]);
}

#[test]
fn duplicate_fields_are_refused_like_salesforce() {
    check_err(
        "SELECT Id, Email, email FROM Lead",
        "MALFORMED_QUERY",
        "duplicate field selected: Email",
    );
    check_err(
        "SELECT id, Id FROM Lead",
        "MALFORMED_QUERY",
        "duplicate field selected: Id",
    );
}

#[test]
fn count_query_is_flagged_and_counts_matches_with_limit() {
    let q = compiled("SELECT COUNT() FROM Lead WHERE IsConverted = false");
    assert!(q.is_count());
    assert!(q.fields().is_empty());
    let records = leads();
    assert_eq!(q.run(records.iter()).len(), 4);
    let limited = compiled("SELECT count() FROM Lead LIMIT 2");
    assert_eq!(limited.run(records.iter()).len(), 2);
}

#[test]
fn project_keeps_selected_fields_only_with_nulls_for_absent_ones() {
    let q = compiled("SELECT Email, Phone FROM Lead");
    let records = leads();
    let projected = q.project(&records[0]);
    assert_eq!(
        Value::Object(projected),
        json!({"Email": "o'brien@x.com", "Phone": null})
    );
}

// ---- comparison operators ----------------------------------------------------------------

#[test]
fn string_equality_is_case_insensitive() {
    check("SELECT Id FROM Lead WHERE Company = 'ACME'", &["1", "3"]);
    check("SELECT Id FROM Lead WHERE LastName = 'élodie'", &["3"]);
    check(
        "SELECT Id FROM Lead WHERE Email = 'bob@example.com'",
        &["5"],
    );
}

#[test]
fn not_equal_in_both_spellings_includes_nulls() {
    check(
        "SELECT Id FROM Lead WHERE Company != 'acme'",
        &["2", "4", "5"],
    );
    check(
        "SELECT Id FROM Lead WHERE Company <> 'acme'",
        &["2", "4", "5"],
    );
    check(
        "SELECT Id FROM Lead WHERE Email != 'BOB@example.com'",
        &["1", "2", "3", "4"],
    );
}

#[test]
fn null_comparisons_treat_absent_json_null_and_empty_string_as_null() {
    check("SELECT Id FROM Lead WHERE Email = null", &["3", "4"]);
    check("SELECT Id FROM Lead WHERE Email != null", &["1", "2", "5"]);
    check("SELECT Id FROM Lead WHERE Email = ''", &["3", "4"]);
    check(
        "SELECT Id FROM Lead WHERE AnnualRevenue = NULL",
        &["2", "4", "5"],
    );
    check(
        "SELECT Id FROM Lead WHERE ConvertedDate != null",
        &["2", "3"],
    );
}

#[test]
fn numeric_ranges_compare_numbers() {
    check("SELECT Id FROM Lead WHERE NumberOfEmployees > 10", &["2"]);
    check(
        "SELECT Id FROM Lead WHERE NumberOfEmployees >= 10",
        &["1", "2", "5"],
    );
    check("SELECT Id FROM Lead WHERE NumberOfEmployees < 10", &["3"]);
    check(
        "SELECT Id FROM Lead WHERE NumberOfEmployees <= 10",
        &["1", "3", "5"],
    );
    check("SELECT Id FROM Lead WHERE AnnualRevenue > 100.25", &["1"]);
    check("SELECT Id FROM Lead WHERE AnnualRevenue > -1", &["1", "3"]);
    check("SELECT Id FROM Lead WHERE NumberOfEmployees = 250", &["2"]);
}

#[test]
fn string_ranges_compare_case_insensitively() {
    check("SELECT Id FROM Lead WHERE LastName < 'E'", &["2", "5"]);
    check("SELECT Id FROM Lead WHERE LastName >= 'zed'", &["3", "4"]);
}

#[test]
fn booleans_compare_with_unquoted_true_false() {
    check("SELECT Id FROM Lead WHERE IsConverted = TRUE", &["2"]);
    check(
        "SELECT Id FROM Lead WHERE IsConverted != true",
        &["1", "3", "4", "5"],
    );
    check(
        "SELECT Id FROM Lead WHERE IsConverted = False",
        &["1", "3", "4", "5"],
    );
}

#[test]
fn in_and_not_in_match_any_listed_value() {
    check(
        "SELECT Id FROM Lead WHERE Company IN ('acme', 'GLOBEX')",
        &["1", "2", "3"],
    );
    check(
        "SELECT Id FROM Lead WHERE Company NOT IN ('acme', 'GLOBEX')",
        &["4", "5"],
    );
    check(
        "SELECT Id FROM Lead WHERE NumberOfEmployees IN (5, 250)",
        &["2", "3"],
    );
    check(
        "SELECT Id FROM Lead WHERE Email IN (null, 'BOB@example.com')",
        &["3", "4", "5"],
    );
    check(
        "SELECT Id FROM Lead WHERE Email NOT IN ('bob@example.com')",
        &["1", "2", "3", "4"],
    );
}

#[test]
fn like_matches_whole_value_case_insensitively_with_wildcards() {
    check("SELECT Id FROM Lead WHERE Company LIKE 'ac%'", &["1", "3"]);
    check("SELECT Id FROM Lead WHERE Company LIKE '%o%'", &["2", "4"]);
    check("SELECT Id FROM Lead WHERE LastName LIKE '_ed'", &["4"]);
    check("SELECT Id FROM Lead WHERE LastName LIKE 'z_'", &[]);
    check(
        "SELECT Id FROM Lead WHERE Email LIKE '%@X.COM'",
        &["1", "2"],
    );
    check("SELECT Id FROM Lead WHERE LastName LIKE 'É%'", &["3"]);
    check("SELECT Id FROM Lead WHERE Status LIKE 'Open%'", &["1", "4"]);
    check(
        "SELECT Id FROM Lead WHERE Company LIKE '%%%'",
        &["1", "2", "3", "4", "5"],
    );
}

#[test]
fn like_escapes_make_wildcards_literal() {
    check(r"SELECT Id FROM Lead WHERE Company LIKE '100\%%'", &["4"]);
    check(r"SELECT Id FROM Lead WHERE Company LIKE '1000%'", &[]);
    check(r"SELECT Id FROM Lead WHERE Company LIKE '%\_co'", &["4"]);
    check(r"SELECT Id FROM Lead WHERE Company LIKE '%e\_co'", &["4"]);
    check(r"SELECT Id FROM Lead WHERE Company LIKE '%ee\_co'", &[]);
}

#[test]
fn multi_picklist_equality_is_set_equality_and_includes_excludes_work() {
    check("SELECT Id FROM Lead WHERE Interests__c = 'go;rust'", &["1"]);
    check(
        "SELECT Id FROM Lead WHERE Interests__c != 'Go;Rust'",
        &["2", "3", "4", "5"],
    );
    check(
        "SELECT Id FROM Lead WHERE Interests__c INCLUDES ('Rust')",
        &["1", "4"],
    );
    check(
        "SELECT Id FROM Lead WHERE Interests__c INCLUDES ('python;go', 'nothing')",
        &["4"],
    );
    check(
        "SELECT Id FROM Lead WHERE Interests__c EXCLUDES ('Rust')",
        &["2", "3", "5"],
    );
}

#[test]
fn ids_compare_case_sensitively_and_fifteen_char_ids_match_eighteen_char_ones() {
    let records = [
        rec("00Q5g00000AbCdEAAV", json!({})),
        rec("00Q5g00000abcdeAAV", json!({})),
    ];
    let q = compiled("SELECT Id FROM Lead WHERE Id = '00Q5g00000AbCdE'");
    let hits: Vec<_> = q
        .run(records.iter())
        .into_iter()
        .map(|r| &r["Id"])
        .collect();
    assert_eq!(hits, [&json!("00Q5g00000AbCdEAAV")]);
    let q = compiled("SELECT Id FROM Lead WHERE Id IN ('00Q5g00000abcdeAAV')");
    assert_eq!(q.run(records.iter()).len(), 1);
    let q = compiled("SELECT Id FROM Lead WHERE OwnerId = null");
    assert_eq!(q.run(records.iter()).len(), 2);
}

// ---- logic and precedence ----------------------------------------------------------------

#[test]
fn and_or_not_combine_conditions() {
    check(
        "SELECT Id FROM Lead WHERE Company = 'acme' AND NumberOfEmployees > 5",
        &["1"],
    );
    check(
        "SELECT Id FROM Lead WHERE Company = 'globex' OR NumberOfEmployees = 5 OR LastName = 'Zed'",
        &["2", "3", "4"],
    );
    check(
        "SELECT Id FROM Lead WHERE NOT Company = 'acme'",
        &["2", "4", "5"],
    );
    check(
        "SELECT Id FROM Lead WHERE NOT (Company = 'acme' OR IsConverted = true)",
        &["4", "5"],
    );
}

#[test]
fn parentheses_decide_grouping() {
    check(
        "SELECT Id FROM Lead WHERE Company = 'acme' AND (NumberOfEmployees = 5 OR LastName = 'Martin')",
        &["1", "3"],
    );
    check(
        "SELECT Id FROM Lead WHERE (Company = 'acme' AND NumberOfEmployees = 5) OR LastName = 'Zed'",
        &["3", "4"],
    );
    check(
        "SELECT Id FROM Lead WHERE ((Company = 'acme')) AND (NOT (IsConverted = true))",
        &["1", "3"],
    );
    check(
        "SELECT Id FROM Lead WHERE Company = 'Acme' AND (NOT LastName = 'martin')",
        &["3"],
    );
}

#[test]
fn mixing_and_with_or_without_parentheses_is_a_syntax_error() {
    check_err_sentence(
        "SELECT Id FROM Lead WHERE Company = 'a' AND LastName = 'b' OR Email = 'c'",
        "MALFORMED_QUERY",
        "unexpected token: 'OR'",
    );
    check_err_sentence(
        "SELECT Id FROM Lead WHERE (Company = 'a' OR LastName = 'b' AND Email = 'c')",
        "MALFORMED_QUERY",
        "expecting a right parentheses, found 'AND'",
    );
    check_err_sentence(
        "SELECT Id FROM Lead WHERE NOT Company = 'a' AND LastName = 'b'",
        "MALFORMED_QUERY",
        "unexpected token: 'AND'",
    );
    check_err_sentence(
        "SELECT Id FROM Lead WHERE Company = 'a' AND NOT LastName = 'b'",
        "MALFORMED_QUERY",
        "unexpected token: 'NOT'",
    );
}

// ---- string escapes ------------------------------------------------------------------------

#[test]
fn escaped_quotes_match_exactly_those_emails() {
    check(
        r"SELECT Id FROM Lead WHERE Email = 'o\'brien@x.com'",
        &["1"],
    );
    check(
        r"SELECT Id FROM Lead WHERE Email = 'a\'OR Email!=\'\'@x.com'",
        &["2"],
    );
}

#[test]
fn backslash_escapes_decode_as_salesforce_defines_them() {
    check(
        r"SELECT Id FROM Lead WHERE LastName = 'back\\slash'",
        &["5"],
    );
    check(r"SELECT Id FROM Lead WHERE Company = 'Line\nBreak'", &["5"]);
    check(r"SELECT Id FROM Lead WHERE Company = 'line\NBREAK'", &["5"]);
    check(
        r"SELECT Id FROM Lead WHERE LastName = '\u00c9lodie'",
        &["3"],
    );
    check(r#"SELECT Id FROM Lead WHERE LastName = 'say \"hi\"'"#, &[]);
}

#[test]
fn unknown_escape_and_unterminated_string_are_malformed() {
    check_err(
        r"SELECT Id FROM Lead WHERE LastName = 'a\qb'",
        "MALFORMED_QUERY",
        "\n FROM Lead WHERE LastName = 'a\\qb'\n                              ^\nERROR at Row:1:Column:40\nline 1:40 Invalid string literal. Illegal character sequence '\\q' in string literal.",
    );
    check_err_sentence(
        "SELECT Id FROM Lead WHERE LastName = 'abc",
        "MALFORMED_QUERY",
        "line 1:42 mismatched character '<EOF>' expecting '''",
    );
}

// ---- dates ---------------------------------------------------------------------------------

#[test]
fn datetime_literals_with_zones_and_fractions_compare_as_instants() {
    check(
        "SELECT Id FROM Lead WHERE CreatedDate >= 2026-03-18T00:00:00Z",
        &["1"],
    );
    check(
        "SELECT Id FROM Lead WHERE CreatedDate > 2026-03-18T01:00:00+02:00",
        &["1", "2"],
    );
    check(
        "SELECT Id FROM Lead WHERE CreatedDate = 2026-03-17T23:59:59.999Z",
        &["2"],
    );
    check(
        "SELECT Id FROM Lead WHERE CreatedDate = 2026-03-18T00:59:59.999+0100",
        &["2"],
    );
    check(
        "SELECT Id FROM Lead WHERE CreatedDate < 2026-01-01T00:00:00.000-00:30",
        &["3", "4"],
    );
}

#[test]
fn date_literals_compare_on_date_fields() {
    check(
        "SELECT Id FROM Lead WHERE ConvertedDate = 2026-03-17",
        &["2"],
    );
    check(
        "SELECT Id FROM Lead WHERE ConvertedDate < 2026-03-17",
        &["3"],
    );
    check(
        "SELECT Id FROM Lead WHERE ConvertedDate >= 2026-01-01",
        &["2", "3"],
    );
}

#[test]
fn relative_date_literals_are_ranges_around_today() {
    check("SELECT Id FROM Lead WHERE CreatedDate = TODAY", &["1"]);
    check("SELECT Id FROM Lead WHERE CreatedDate = YESTERDAY", &["2"]);
    check(
        "SELECT Id FROM Lead WHERE CreatedDate < TODAY",
        &["2", "3", "4", "5"],
    );
    check("SELECT Id FROM Lead WHERE CreatedDate > YESTERDAY", &["1"]);
    check(
        "SELECT Id FROM Lead WHERE CreatedDate <= YESTERDAY",
        &["2", "3", "4", "5"],
    );
    check(
        "SELECT Id FROM Lead WHERE CreatedDate = LAST_N_DAYS:1",
        &["1", "2"],
    );
    check(
        "SELECT Id FROM Lead WHERE CreatedDate = LAST_N_DAYS:8",
        &["1", "2", "5"],
    );
    check("SELECT Id FROM Lead WHERE CreatedDate > NEXT_N_DAYS:3", &[]);
    check(
        "SELECT Id FROM Lead WHERE CreatedDate < NEXT_N_DAYS:3",
        &["1", "2", "3", "4", "5"],
    );
    check(
        "SELECT Id FROM Lead WHERE ConvertedDate = LAST_N_DAYS:90",
        &["2", "3"],
    );
    check(
        "SELECT Id FROM Lead WHERE CreatedDate = THIS_YEAR",
        &["1", "2", "3", "5"],
    );
    check("SELECT Id FROM Lead WHERE CreatedDate = LAST_YEAR", &["4"]);
    check(
        "SELECT Id FROM Lead WHERE CreatedDate = THIS_MONTH",
        &["1", "2", "5"],
    );
    // The week of Wednesday 2026-03-18 runs Sunday 15th to Saturday 21st.
    check(
        "SELECT Id FROM Lead WHERE CreatedDate = THIS_WEEK",
        &["1", "2"],
    );
    check("SELECT Id FROM Lead WHERE CreatedDate = LAST_WEEK", &["5"]);
    check(
        "SELECT Id FROM Lead WHERE CreatedDate != TODAY",
        &["2", "3", "4", "5"],
    );
}

#[test]
fn next_n_days_starts_tomorrow() {
    let records = [
        rec("today", json!({"ConvertedDate": "2026-03-18"})),
        rec("tomorrow", json!({"ConvertedDate": "2026-03-19"})),
        rec("in3", json!({"ConvertedDate": "2026-03-21"})),
        rec("in4", json!({"ConvertedDate": "2026-03-22"})),
    ];
    let q = compiled("SELECT Id FROM Lead WHERE ConvertedDate = NEXT_N_DAYS:3");
    let hits: Vec<_> = q
        .run(records.iter())
        .into_iter()
        .map(|r| &r["Id"])
        .collect();
    assert_eq!(hits, [&json!("tomorrow"), &json!("in3")]);
}

// ---- ORDER BY, LIMIT, OFFSET ---------------------------------------------------------------

#[test]
fn order_by_defaults_to_ascending_nulls_first() {
    check(
        "SELECT Id FROM Lead ORDER BY NumberOfEmployees",
        &["4", "3", "1", "5", "2"],
    );
    check(
        "SELECT Id FROM Lead ORDER BY AnnualRevenue ASC",
        &["2", "4", "5", "3", "1"],
    );
}

#[test]
fn order_by_desc_defaults_to_nulls_last() {
    check(
        "SELECT Id FROM Lead ORDER BY NumberOfEmployees DESC",
        &["2", "1", "5", "3", "4"],
    );
}

#[test]
fn order_by_honours_explicit_nulls_placement() {
    check(
        "SELECT Id FROM Lead ORDER BY NumberOfEmployees ASC NULLS LAST",
        &["3", "1", "5", "2", "4"],
    );
    check(
        "SELECT Id FROM Lead ORDER BY NumberOfEmployees DESC NULLS FIRST",
        &["4", "2", "1", "5", "3"],
    );
}

#[test]
fn order_by_several_keys_and_text_case_insensitively() {
    check(
        "SELECT Id FROM Lead ORDER BY NumberOfEmployees DESC, LastName DESC",
        &["2", "1", "5", "3", "4"],
    );
    check(
        "SELECT Id FROM Lead ORDER BY Company, CreatedDate DESC",
        &["4", "1", "3", "2", "5"],
    );
    check(
        "SELECT Id FROM Lead ORDER BY LastName",
        &["5", "2", "1", "4", "3"],
    );
    check(
        "SELECT Id FROM Lead ORDER BY CreatedDate",
        &["4", "3", "5", "2", "1"],
    );
    check(
        "SELECT Id FROM Lead ORDER BY IsConverted DESC, Id DESC",
        &["2", "5", "4", "3", "1"],
    );
}

#[test]
fn order_by_is_stable_for_ties() {
    check(
        "SELECT Id FROM Lead ORDER BY IsConverted",
        &["1", "3", "4", "5", "2"],
    );
    // Also when only the first page is selected rather than everything sorted.
    check(
        "SELECT Id FROM Lead ORDER BY IsConverted LIMIT 3",
        &["1", "3", "4"],
    );
    check(
        "SELECT Id FROM Lead ORDER BY IsConverted DESC LIMIT 2 OFFSET 1",
        &["1", "3"],
    );
}

#[test]
fn limit_and_offset_page_after_ordering() {
    check(
        "SELECT Id FROM Lead ORDER BY CreatedDate LIMIT 2",
        &["4", "3"],
    );
    check(
        "SELECT Id FROM Lead ORDER BY CreatedDate LIMIT 2 OFFSET 2",
        &["5", "2"],
    );
    check("SELECT Id FROM Lead OFFSET 3", &["4", "5"]);
    check("SELECT Id FROM Lead LIMIT 0", &[]);
    check("SELECT Id FROM Lead OFFSET 2000", &[]);
}

#[test]
fn offset_above_two_thousand_is_refused() {
    check_err(
        "SELECT Id FROM Lead OFFSET 2001",
        "NUMBER_OUTSIDE_VALID_RANGE",
        "Maximum SOQL offset allowed for apiName Lead is 2000",
    );
}

#[test]
fn clauses_out_of_order_are_syntax_errors() {
    check_err_sentence(
        "SELECT Id FROM Lead OFFSET 1 LIMIT 2",
        "MALFORMED_QUERY",
        "unexpected token: 'LIMIT'",
    );
    check_err_sentence(
        "SELECT Id FROM Lead LIMIT 2 ORDER BY Id",
        "MALFORMED_QUERY",
        "unexpected token: 'ORDER'",
    );
    check_err_sentence(
        "SELECT Id FROM Lead LIMIT -1",
        "MALFORMED_QUERY",
        "unexpected token: '-1'",
    );
    check_err_sentence(
        "SELECT Id FROM Lead LIMIT 1.5",
        "MALFORMED_QUERY",
        "unexpected token: '1.5'",
    );
}

#[test]
fn keywords_are_case_insensitive() {
    check(
        "select Id from lead where company = 'acme' and email != null order by id desc limit 1",
        &["1"],
    );
}

// ---- errors --------------------------------------------------------------------------------

#[test]
fn unknown_field_is_invalid_field_with_caret_diagram() {
    check_err(
        "SELECT Foo FROM Lead",
        "INVALID_FIELD",
        "\nSELECT Foo FROM Lead\n       ^\nERROR at Row:1:Column:8\nNo such column 'Foo' on entity 'Lead'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
    );
}

#[test]
fn unknown_field_in_where_points_at_it_on_its_row() {
    check_err(
        "SELECT Id\nFROM Lead\nWHERE Nope__c = 1",
        "INVALID_FIELD",
        "\nWHERE Nope__c = 1\n      ^\nERROR at Row:3:Column:7\nNo such column 'Nope__c' on entity 'Lead'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
    );
}

#[test]
fn long_lines_are_excerpted_around_the_error_like_salesforce() {
    // Same layout as a captured Salesforce response: the excerpt starts at the word lying
    // 30 characters before the error and ends about 30 characters after it.
    check_err(
        "SELECT Interests__c, LastName FROM Lead l WHERE Interests__c LIKE 'Getty%'",
        "INVALID_QUERY_FILTER_OPERATOR",
        "\nInterests__c, LastName FROM Lead l WHERE Interests__c LIKE 'Getty%'\n                                         ^\nERROR at Row:1:Column:49\ninvalid operator on multipicklist field",
    );
    check_err(
        "SELECT Name, Access_Key__c, Interests__c FROM Lead WHERE Interests__c LIKE 'Getty%'",
        "INVALID_FIELD",
        "\nSELECT Name, Access_Key__c, Interests__c\n       ^\nERROR at Row:1:Column:8\nNo such column 'Name' on entity 'Lead'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
    );
}

#[test]
fn unknown_object_is_invalid_type() {
    check_err(
        "SELECT Id FROM Leed",
        "INVALID_TYPE",
        "\nSELECT Id FROM Leed\n               ^\nERROR at Row:1:Column:16\nsObject type 'Leed' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
    );
}

#[test]
fn literal_of_the_wrong_type_is_invalid_field() {
    let cases = [
        (
            "Email = 5",
            "Email",
            "string and should be enclosed in quotes",
        ),
        (
            "LastName = true",
            "LastName",
            "string and should be enclosed in quotes",
        ),
        (
            "IsConverted = 'true'",
            "IsConverted",
            "boolean and should not be enclosed in quotes",
        ),
        (
            "NumberOfEmployees = '5'",
            "NumberOfEmployees",
            "integer and should not be enclosed in quotes",
        ),
        (
            "AnnualRevenue > TODAY",
            "AnnualRevenue",
            "double and should not be enclosed in quotes",
        ),
        (
            "CreatedDate > 2026-01-01",
            "CreatedDate",
            "dateTime and should not be enclosed in quotes",
        ),
        (
            "CreatedDate > '2026-01-01T00:00:00Z'",
            "CreatedDate",
            "dateTime and should not be enclosed in quotes",
        ),
        (
            "ConvertedDate = 2026-01-01T00:00:00Z",
            "ConvertedDate",
            "date and should not be enclosed in quotes",
        ),
        (
            "OwnerId = 5",
            "OwnerId",
            "id and should be enclosed in quotes",
        ),
        (
            "Email LIKE 5",
            "Email",
            "string and should be enclosed in quotes",
        ),
        (
            "Company IN ('a', 5)",
            "Company",
            "string and should be enclosed in quotes",
        ),
    ];
    for (filter, field, tail) in cases {
        check_err_sentence(
            &format!("SELECT Id FROM Lead WHERE {filter}"),
            "INVALID_FIELD",
            &format!("value of filter criterion for field '{field}' must be of type {tail}"),
        );
    }
    // The caret points at the field, as in Salesforce's responses.
    check_err(
        "SELECT Id FROM Lead WHERE IsConverted = 'TRUE'",
        "INVALID_FIELD",
        "\nSELECT Id FROM Lead WHERE IsConverted = 'TRUE'\n                          ^\nERROR at Row:1:Column:27\nvalue of filter criterion for field 'IsConverted' must be of type boolean and should not be enclosed in quotes",
    );
}

#[test]
fn operators_a_field_type_does_not_support_are_refused() {
    let cases = [
        ("IsConverted > false", "boolean"),
        ("Id LIKE '00Q%'", "id"),
        ("OwnerId LIKE '005%'", "reference"),
        ("NumberOfEmployees LIKE '1%'", "int"),
        ("CreatedDate LIKE '2026%'", "datetime"),
        ("Interests__c LIKE 'Go%'", "multipicklist"),
        ("Interests__c IN ('Go')", "multipicklist"),
        ("Interests__c < 'Go'", "multipicklist"),
        ("Company INCLUDES ('Go')", "string"),
    ];
    for (filter, kind) in cases {
        check_err_sentence(
            &format!("SELECT Id FROM Lead WHERE {filter}"),
            "INVALID_QUERY_FILTER_OPERATOR",
            &format!("invalid operator on {kind} field"),
        );
    }
}

#[test]
fn malformed_id_literal_is_refused() {
    check_err(
        "SELECT Id FROM Lead WHERE Id = 'abc'",
        "INVALID_QUERY_FILTER_OPERATOR",
        "invalid ID field: abc",
    );
}

#[test]
fn syntax_errors_name_the_unexpected_token() {
    let cases = [
        ("", "unexpected token: '<EOF>'"),
        ("SELECT", "unexpected token: '<EOF>'"),
        ("SELECT Id", "unexpected token: '<EOF>'"),
        ("SELECT Id FROM", "unexpected token: '<EOF>'"),
        ("SELECT FROM Lead", "unexpected token: 'FROM'"),
        ("SELECT Id, FROM Lead", "unexpected token: 'FROM'"),
        ("SELECT Id FROM Lead WHERE", "unexpected token: '<EOF>'"),
        (
            "SELECT Id FROM Lead WHERE Email",
            "unexpected token: '<EOF>'",
        ),
        (
            "SELECT Id FROM Lead WHERE Email =",
            "unexpected token: '<EOF>'",
        ),
        (
            "SELECT Id FROM Lead WHERE Email = 'a' 'b'",
            "unexpected token: ''b''",
        ),
        (
            "SELECT Id FROM Lead WHERE Email IS NULL",
            "unexpected token: 'IS'",
        ),
        (
            "SELECT Id FROM Lead WHERE Email NOT LIKE 'a'",
            "unexpected token: 'NOT'",
        ),
        (
            "SELECT Id FROM Lead WHERE Email IN 'a'",
            "expecting a left parentheses, found ''a''",
        ),
        (
            "SELECT Id FROM Lead WHERE Email IN ()",
            "unexpected token: ')'",
        ),
        (
            "SELECT Id FROM Lead WHERE Email IN ('a'",
            "expecting a right parentheses, found '<EOF>'",
        ),
        (
            "SELECT Id FROM Lead WHERE (Email = 'a'",
            "expecting a right parentheses, found '<EOF>'",
        ),
        (
            "SELECT Id FROM Lead WHERE Email = FOO",
            "unexpected token: 'FOO'",
        ),
        (
            "SELECT Id FROM Lead WHERE CreatedDate = LAST_N_DAYS",
            "expecting a colon, found '<EOF>'",
        ),
        (
            "SELECT Id FROM Lead WHERE CreatedDate = LAST_N_DAYS:x",
            "unexpected token: 'x'",
        ),
        ("SELECT Id FROM Lead ORDER Id", "unexpected token: 'Id'"),
        (
            "SELECT Id FROM Lead ORDER BY Id NULLS",
            "unexpected token: '<EOF>'",
        ),
        (
            "SELECT Id FROM Lead;",
            "line 1:20 no viable alternative at character ';'",
        ),
        (
            "SELECT Id FROM Lead WHERE Email = \"a\"",
            "line 1:35 no viable alternative at character '\"'",
        ),
        ("SELECT Id Name FROM Lead", "unexpected token: 'Name'"),
        ("SELECT COUNT(), Id FROM Lead", "unexpected token: ','"),
        (
            "SELECT Id FROM Lead WHERE CreatedDate > 2026-13-01",
            "unexpected token: '2026-13-01'",
        ),
        (
            "SELECT Id FROM Lead WHERE CreatedDate > 2026-01-01T00:00:00",
            "unexpected token: '2026-01-01T00:00:00'",
        ),
        // A `+` sent unencoded in a URL arrives as a space.
        (
            "SELECT Id FROM Lead WHERE CreatedDate > 2026-01-01T00:00:00 02:00",
            "unexpected token: '2026-01-01T00:00:00'",
        ),
        (
            "SELECT Id FROM Lead WHERE Email = :email",
            "Bind variables only allowed in Apex code",
        ),
    ];
    for (query, sentence) in cases {
        check_err_sentence(query, "MALFORMED_QUERY", sentence);
    }
}

#[test]
fn out_of_scope_features_are_refused_clearly() {
    let cases = [
        (
            "SELECT Owner.Name FROM Lead",
            "Relationship paths (Owner.Name) are",
        ),
        (
            "SELECT Id FROM Lead WHERE Owner.Name = 'x'",
            "Relationship paths (Owner.Name) are",
        ),
        (
            "SELECT Id, (SELECT Id FROM Tasks) FROM Lead",
            "Subqueries are",
        ),
        (
            "SELECT COUNT(Id) FROM Lead",
            "Aggregate functions other than COUNT() are",
        ),
        (
            "SELECT MAX(NumberOfEmployees) FROM Lead",
            "Functions in SELECT (MAX()) are",
        ),
        (
            "SELECT toLabel(Status) FROM Lead",
            "Functions in SELECT (TOLABEL()) are",
        ),
        ("SELECT Id FROM Lead GROUP BY Status", "GROUP clauses are"),
        (
            "SELECT Id FROM Lead WITH SECURITY_ENFORCED",
            "WITH clauses are",
        ),
        ("SELECT Id FROM Lead FOR UPDATE", "FOR clauses are"),
        (
            "SELECT Id FROM Lead, Contact",
            "Several objects in FROM are",
        ),
        (
            "SELECT Id FROM Lead WHERE Id IN (SELECT LeadId FROM Task)",
            "Semi-join subqueries are",
        ),
        (
            "SELECT Id FROM Lead WHERE CALENDAR_YEAR(CreatedDate) = 2026",
            "Functions in WHERE (CALENDAR_YEAR()) are",
        ),
        (
            "SELECT Id FROM Lead WHERE CreatedDate = THIS_QUARTER",
            "Date literal THIS_QUARTER is",
        ),
        (
            "SELECT Id FROM Lead ORDER BY MAX(Id)",
            "Functions in ORDER BY are",
        ),
        (
            "SELECT TYPEOF What WHEN Account THEN Name END FROM Lead",
            "TYPEOF is",
        ),
    ];
    for (query, what) in cases {
        check_err_sentence(
            query,
            "MALFORMED_QUERY",
            &format!("{what} not supported by the leadbridge Salesforce emulator"),
        );
    }
}

#[test]
fn multi_picklist_cannot_be_sorted() {
    check_err_sentence(
        "SELECT Id FROM Lead ORDER BY Interests__c",
        "INVALID_FIELD",
        "field 'Interests__c' can not be sorted in a query call",
    );
}

#[test]
fn deep_nesting_is_refused_instead_of_overflowing_the_stack() {
    let deep = format!(
        "SELECT Id FROM Lead WHERE {}Email = 'a'{}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let e = compile_at(&deep, &LeadSchema, today()).err();
    assert_eq!(e.map(|e| e.error_code), Some("MALFORMED_QUERY"));
    let ok = format!(
        "SELECT Id FROM Lead WHERE {}Company = 'acme'{}",
        "(".repeat(64),
        ")".repeat(64)
    );
    check(&ok, &["1", "3"]);
}

// ---- columns=true --------------------------------------------------------------------------

#[test]
fn columns_describe_the_select_list() {
    let q = compiled("SELECT Id, email, NumberOfEmployees, plezi_url__c FROM Lead");
    let columns = q.columns();
    assert_eq!(columns["entityName"], "Lead");
    assert_eq!(columns["keyPrefix"], "00Q");
    assert_eq!(columns["idSelected"], true);
    assert_eq!(columns["groupBy"], false);
    let meta = columns["columnMetadata"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<_> = meta.iter().map(|c| c["columnName"].clone()).collect();
    assert_eq!(
        names,
        [
            json!("Id"),
            json!("Email"),
            json!("NumberOfEmployees"),
            json!("plezi_url__c")
        ]
    );
    assert_eq!(
        meta[0],
        json!({"aggregate": false, "apexType": "Id", "booleanType": false, "columnName": "Id",
               "custom": false, "displayName": "Id", "foreignKeyName": null, "insertable": false,
               "joinColumns": [], "numberType": false, "textType": false, "updatable": false})
    );
    assert_eq!(meta[2]["numberType"], true);
    assert_eq!(meta[2]["apexType"], "Integer");
    assert_eq!(meta[3]["custom"], true);
    assert_eq!(meta[3]["textType"], true);
    assert_eq!(meta[3]["insertable"], true);
}

#[test]
fn columns_of_a_count_query_are_empty() {
    let columns = compiled("SELECT COUNT() FROM Lead").columns();
    assert_eq!(columns["columnMetadata"], json!([]));
    assert_eq!(columns["idSelected"], false);
}

// ---- robustness ----------------------------------------------------------------------------

fn soqlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("SELECT".to_owned()),
        Just("FROM".to_owned()),
        Just("Lead".to_owned()),
        Just("WHERE".to_owned()),
        Just("AND".to_owned()),
        Just("OR".to_owned()),
        Just("NOT".to_owned()),
        Just("IN".to_owned()),
        Just("LIKE".to_owned()),
        Just("INCLUDES".to_owned()),
        Just("ORDER BY".to_owned()),
        Just("NULLS LAST".to_owned()),
        Just("DESC".to_owned()),
        Just("LIMIT".to_owned()),
        Just("OFFSET".to_owned()),
        Just("COUNT()".to_owned()),
        Just("TODAY".to_owned()),
        Just("LAST_N_DAYS:".to_owned()),
        Just("Id".to_owned()),
        Just("Email".to_owned()),
        Just("CreatedDate".to_owned()),
        Just("ConvertedDate".to_owned()),
        Just("Interests__c".to_owned()),
        Just("NumberOfEmployees".to_owned()),
        Just("IsConverted".to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("2026-01-01".to_owned()),
        Just("2026-01-01T00:00:00Z".to_owned()),
        Just("'a%_\\''".to_owned()),
        Just("'\\u00e9'".to_owned()),
        "[-+]?[0-9]{1,25}(\\.[0-9]{1,5})?",
        "'[^'\\\\]{0,8}'",
        "[(),.:=<>!;'\\\\%_ ]",
        "\\PC{0,3}",
    ];
    prop::collection::vec(token, 0..16).prop_map(|t| t.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_input_never_panics(query in "\\PC{0,80}") {
        let _ = compile_at(&query, &LeadSchema, today());
    }

    #[test]
    fn soql_shaped_input_never_panics_and_valid_queries_run(query in soqlish()) {
        let query = format!("SELECT Id FROM Lead WHERE {query}");
        if let Ok(q) = compile_at(&query, &LeadSchema, today()) {
            let records = leads();
            let hits = q.run(records.iter());
            prop_assert!(hits.len() <= records.len());
            let _ = q.columns();
        }
    }

    #[test]
    fn free_soql_shaped_input_never_panics(query in soqlish()) {
        if let Ok(q) = compile_at(&query, &LeadSchema, today()) {
            let records = leads();
            let _ = q.run(records.iter());
        }
    }

    #[test]
    fn like_without_wildcards_is_case_insensitive_equality(s in "[a-zA-Zé0-9 ]{0,12}", t in "[a-zA-Zé0-9 ]{0,12}") {
        let escaped = |x: &str| x.to_owned();
        let q = compile_at(
            &format!("SELECT Id FROM Lead WHERE LastName LIKE '{}'", escaped(&t)),
            &LeadSchema,
            today(),
        );
        let record = rec("1", json!({"LastName": s}));
        if let Ok(q) = q {
            let expect = !s.is_empty() && s.to_lowercase() == t.to_lowercase();
            prop_assert_eq!(q.matches(&record), expect);
        }
    }

    #[test]
    fn like_agrees_with_a_reference_matcher(pattern in "[abAB%_]{0,8}", value in "[abAB]{1,8}") {
        // Reference: dynamic programming over (pattern prefix, value prefix).
        let p: Vec<char> = pattern.to_lowercase().chars().collect();
        let v: Vec<char> = value.to_lowercase().chars().collect();
        let mut dp = vec![vec![false; v.len() + 1]; p.len() + 1];
        dp[0][0] = true;
        for i in 1..=p.len() {
            for j in 0..=v.len() {
                dp[i][j] = match p[i - 1] {
                    '%' => dp[i - 1][j] || (j > 0 && dp[i][j - 1]),
                    '_' => j > 0 && dp[i - 1][j - 1],
                    c => j > 0 && dp[i - 1][j - 1] && v[j - 1] == c,
                };
            }
        }
        let q = compiled(&format!("SELECT Id FROM Lead WHERE LastName LIKE '{pattern}'"));
        prop_assert_eq!(q.matches(&rec("1", json!({"LastName": value}))), dp[p.len()][v.len()]);
    }

    #[test]
    fn order_by_returns_the_matches_sorted(
        values in prop::collection::vec(prop::option::of(0i64..5), 0..40),
        descending in any::<bool>(),
        limit in 0usize..50,
    ) {
        let records: Vec<_> = values
            .iter()
            .enumerate()
            .map(|(i, v)| rec(&format!("{i:02}"), json!({"NumberOfEmployees": v})))
            .collect();
        let direction = if descending { "DESC" } else { "ASC" };
        let q = compiled(&format!(
            "SELECT Id FROM Lead WHERE NumberOfEmployees != 3 ORDER BY NumberOfEmployees {direction} LIMIT {limit}"
        ));
        let got: Vec<String> = q
            .run(records.iter())
            .into_iter()
            .map(|r| r["Id"].as_str().unwrap_or("?").to_owned())
            .collect();
        // Model: stable sort of the matches; nulls first ascending, last descending.
        let mut model: Vec<(usize, Option<i64>)> = values
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, v)| *v != Some(3))
            .collect();
        model.sort_by(|a, b| {
            let ord = match (a.1, b.1) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Less,
                (Some(_), None) => std::cmp::Ordering::Greater,
                (Some(x), Some(y)) => x.cmp(&y),
            };
            if descending { ord.reverse() } else { ord }
        });
        let expected: Vec<String> = model.iter().take(limit).map(|(i, _)| format!("{i:02}")).collect();
        prop_assert_eq!(got, expected);
    }
}

#[test]
fn index_hints_name_only_predicates_every_hit_satisfies() {
    let hints = compiled(
        "SELECT Id FROM Lead WHERE (Email = 'A@X.io' AND LastName != 'x') AND Email IN ('B@x.io', 'c@X.IO') \
         AND CreatedDate > 2026-01-01T00:00:00Z AND CreatedDate >= 2026-02-01T00:00:00.5Z \
         ORDER BY CreatedDate LIMIT 10 OFFSET 5",
    )
    .index_hints();
    assert_eq!(
        hints,
        IndexHints {
            text_in: vec![
                ("Email".into(), vec!["a@x.io".into()]),
                ("Email".into(), vec!["b@x.io".into(), "c@x.io".into()]),
            ],
            // `> t` starts one millisecond after t; `>= t` at t.
            datetime_from: vec![
                ("CreatedDate".into(), 1_767_225_600_001),
                ("CreatedDate".into(), 1_769_904_000_500)
            ],
            ordered_by_datetime: Some("CreatedDate".into()),
            window: Some(15),
        }
    );
    // OR, NOT, `!=`, `= null`, `<` and a descending order narrow nothing.
    for q in [
        "SELECT Id FROM Lead WHERE Email = 'a@x.io' OR LastName = 'x' ORDER BY CreatedDate DESC",
        "SELECT Id FROM Lead WHERE NOT Email = 'a@x.io'",
        "SELECT Id FROM Lead WHERE Email != 'a@x.io' AND Email = null AND CreatedDate < 2026-01-01T00:00:00Z",
        "SELECT Id FROM Lead WHERE Email IN ('a@x.io', null)",
    ] {
        assert_eq!(compiled(q).index_hints(), IndexHints::default(), "{q}");
    }
}
