//! A SOQL builder whose values can never change the statement's meaning.
//!
//! Invariants: every value reaches the statement through [`Literal`], which quotes and escapes
//! strings (SOQL reference, "Quoted String Escape Sequences": `\'`, `\"`, `\\`, `\n`, `\r`,
//! `\t`, `\b`, `\f`); field and object names are checked against SOQL's identifier grammar, so
//! nothing user-supplied is pasted raw. `o'brien@x.com` and `a'OR Email!=''@x.com` match
//! exactly those emails. IN-lists too long for one request are split by [`Soql::chunk_in`]
//! under both Salesforce's statement limit (100,000 characters) and the practical URL limit of a
//! GET (about 16,000 characters, HTTP 414 beyond).

use std::fmt::Write as _;

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

/// Salesforce's maximum SOQL statement length, in characters.
pub const MAX_SOQL_CHARS: usize = 100_000;
/// A safe ceiling for the whole request URL of a query GET.
pub const MAX_QUERY_URL_CHARS: usize = 16_000;

/// A statement could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoqlError {
    #[error("'{0}' is not a valid SOQL field or object name")]
    InvalidName(String),
    #[error("one IN-list value alone is too long for a query ({0} characters)")]
    ValueTooLong(usize),
    #[error("an IN-list needs at least one value")]
    EmptyInList,
}

/// A typed SOQL value. Strings are always quoted and escaped.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    Date(Date),
    DateTime(OffsetDateTime),
}

impl Literal {
    /// The literal as SOQL text.
    pub fn render(&self) -> String {
        match self {
            Self::Str(s) => quote(s),
            Self::Int(n) => n.to_string(),
            Self::Float(x) if x.is_finite() => format!("{x}"),
            Self::Float(_) => "null".to_owned(),
            Self::Bool(b) => b.to_string(),
            Self::Null => "null".to_owned(),
            Self::Date(d) => format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
            // Datetimes are unquoted ISO-8601; we always send UTC with `Z` so no `+` needs
            // URL-encoding care.
            Self::DateTime(t) => t
                .to_offset(UtcOffset::UTC)
                .replace_nanosecond(0)
                .unwrap_or(*t)
                .format(&Rfc3339)
                .unwrap_or_default(),
        }
    }
}

impl From<&str> for Literal {
    fn from(s: &str) -> Self {
        Self::Str(s.to_owned())
    }
}
impl From<String> for Literal {
    fn from(s: String) -> Self {
        Self::Str(s)
    }
}
impl From<&String> for Literal {
    fn from(s: &String) -> Self {
        Self::Str(s.clone())
    }
}
impl From<i64> for Literal {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}
impl From<bool> for Literal {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}
impl From<Date> for Literal {
    fn from(d: Date) -> Self {
        Self::Date(d)
    }
}
impl From<OffsetDateTime> for Literal {
    fn from(t: OffsetDateTime) -> Self {
        Self::DateTime(t)
    }
}

/// Quotes a string for SOQL.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Quotes `text` for a LIKE pattern in which `%` and `_` of `text` match only themselves
/// (`\%`, `\_`), optionally wrapped in `%` wildcards.
fn quote_like(text: &str, leading_any: bool, trailing_any: bool) -> String {
    let mut out = String::from("'");
    if leading_any {
        out.push('%');
    }
    let inner = quote(text);
    for c in inner[1..inner.len() - 1].chars() {
        match c {
            '%' => out.push_str("\\%"),
            '_' => out.push_str("\\_"),
            c => out.push(c),
        }
    }
    if trailing_any {
        out.push('%');
    }
    out.push('\'');
    out
}

/// Checks a field path (`Email`, `plezi_url__c`, `Owner.Name`, `ns__X__c`) or object name.
pub fn check_name(name: &str) -> Result<&str, SoqlError> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.split('.').all(|seg| {
            let mut chars = seg.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if ok {
        Ok(name)
    } else {
        Err(SoqlError::InvalidName(name.to_owned()))
    }
}

/// A WHERE condition. Built only from checked names and rendered literals.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    text: String,
    error: Option<SoqlError>,
}

impl Filter {
    fn cmp(field: &str, op: &str, value: Literal) -> Self {
        match check_name(field) {
            Ok(f) => Self {
                text: format!("{f} {op} {}", value.render()),
                error: None,
            },
            Err(e) => Self {
                text: String::new(),
                error: Some(e),
            },
        }
    }
    pub fn eq(field: &str, value: impl Into<Literal>) -> Self {
        Self::cmp(field, "=", value.into())
    }
    pub fn ne(field: &str, value: impl Into<Literal>) -> Self {
        Self::cmp(field, "!=", value.into())
    }
    pub fn lt(field: &str, value: impl Into<Literal>) -> Self {
        Self::cmp(field, "<", value.into())
    }
    pub fn le(field: &str, value: impl Into<Literal>) -> Self {
        Self::cmp(field, "<=", value.into())
    }
    pub fn gt(field: &str, value: impl Into<Literal>) -> Self {
        Self::cmp(field, ">", value.into())
    }
    pub fn ge(field: &str, value: impl Into<Literal>) -> Self {
        Self::cmp(field, ">=", value.into())
    }
    /// `field LIKE 'pattern'` where `%` and `_` in `pattern` are wildcards; everything else,
    /// quotes included, is escaped.
    pub fn like(field: &str, pattern: &str) -> Self {
        Self::cmp(field, "LIKE", Literal::Str(pattern.to_owned()))
    }
    /// `field LIKE '%text%'`, with `text` matched literally (its `%`/`_` escaped).
    pub fn contains(field: &str, text: &str) -> Self {
        Self::raw_cmp(field, "LIKE", quote_like(text, true, true))
    }
    /// `field LIKE 'text%'`, with `text` matched literally.
    pub fn starts_with(field: &str, text: &str) -> Self {
        Self::raw_cmp(field, "LIKE", quote_like(text, false, true))
    }
    fn raw_cmp(field: &str, op: &str, rendered: String) -> Self {
        match check_name(field) {
            Ok(f) => Self {
                text: format!("{f} {op} {rendered}"),
                error: None,
            },
            Err(e) => Self {
                text: String::new(),
                error: Some(e),
            },
        }
    }
    /// `field IN (…)`; an empty list is an error (SOQL rejects `IN ()`).
    pub fn is_in<L: Into<Literal>>(field: &str, values: impl IntoIterator<Item = L>) -> Self {
        Self::list(field, "IN", values)
    }
    pub fn not_in<L: Into<Literal>>(field: &str, values: impl IntoIterator<Item = L>) -> Self {
        Self::list(field, "NOT IN", values)
    }
    fn list<L: Into<Literal>>(field: &str, op: &str, values: impl IntoIterator<Item = L>) -> Self {
        let rendered: Vec<String> = values.into_iter().map(|v| v.into().render()).collect();
        if rendered.is_empty() {
            return Self {
                text: String::new(),
                error: Some(SoqlError::EmptyInList),
            };
        }
        match check_name(field) {
            Ok(f) => Self {
                text: format!("{f} {op} ({})", rendered.join(",")),
                error: None,
            },
            Err(e) => Self {
                text: String::new(),
                error: Some(e),
            },
        }
    }
    #[must_use]
    pub fn and(self, other: Filter) -> Self {
        Self::join(self, "AND", other)
    }
    #[must_use]
    pub fn or(self, other: Filter) -> Self {
        Self::join(self, "OR", other)
    }
    #[allow(clippy::should_implement_trait)]
    #[must_use]
    pub fn not(self) -> Self {
        Self {
            text: format!("NOT ({})", self.text),
            error: self.error,
        }
    }
    fn join(a: Filter, op: &str, b: Filter) -> Self {
        Self {
            text: format!("({}) {op} ({})", a.text, b.text),
            error: a.error.or(b.error),
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// `SELECT … FROM … [WHERE …] [ORDER BY …] [LIMIT …]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Soql {
    fields: Vec<String>,
    object: String,
    filter: Option<Filter>,
    order_by: Vec<(String, Order)>,
    limit: Option<u64>,
}

impl Soql {
    /// `SELECT fields FROM object`.
    pub fn select<S: AsRef<str>>(fields: &[S], object: &str) -> Self {
        Self {
            fields: fields.iter().map(|f| f.as_ref().to_owned()).collect(),
            object: object.to_owned(),
            filter: None,
            order_by: Vec::new(),
            limit: None,
        }
    }

    /// Adds a condition, AND-ed with any earlier one.
    #[must_use]
    pub fn filter(mut self, f: Filter) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(prev) => prev.and(f),
            None => f,
        });
        self
    }

    #[must_use]
    pub fn order_by(mut self, field: &str, order: Order) -> Self {
        self.order_by.push((field.to_owned(), order));
        self
    }

    #[must_use]
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// The statement text.
    pub fn build(&self) -> Result<String, SoqlError> {
        self.render(None)
    }

    fn render(&self, extra: Option<&str>) -> Result<String, SoqlError> {
        if self.fields.is_empty() {
            return Err(SoqlError::InvalidName(String::new()));
        }
        let mut out = String::from("SELECT ");
        for (i, f) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            // COUNT() is the one function the builder allows in the select list.
            if f.eq_ignore_ascii_case("COUNT()") {
                out.push_str("COUNT()");
            } else {
                out.push_str(check_name(f)?);
            }
        }
        let _ = write!(out, " FROM {}", check_name(&self.object)?);
        let filter = match (&self.filter, extra) {
            (Some(f), _) if f.error.is_some() => {
                return Err(f.error.clone().unwrap_or(SoqlError::EmptyInList));
            }
            (Some(f), Some(x)) => Some(format!("({}) AND {x}", f.text)),
            (Some(f), None) => Some(f.text.clone()),
            (None, Some(x)) => Some(x.to_owned()),
            (None, None) => None,
        };
        if let Some(w) = filter {
            let _ = write!(out, " WHERE {w}");
        }
        if !self.order_by.is_empty() {
            out.push_str(" ORDER BY ");
            for (i, (f, o)) in self.order_by.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(check_name(f)?);
                out.push_str(if *o == Order::Asc { " ASC" } else { " DESC" });
            }
        }
        if let Some(n) = self.limit {
            let _ = write!(out, " LIMIT {n}");
        }
        Ok(out)
    }

    /// Splits `field IN (values)` over as few statements as the limits allow, each statement
    /// being this query AND-ed with one chunk. Every statement stays under `limits`; a LIMIT
    /// clause applies per statement.
    pub fn chunk_in<L: Into<Literal>>(
        &self,
        field: &str,
        values: impl IntoIterator<Item = L>,
        limits: StatementLimits,
    ) -> Result<Vec<String>, SoqlError> {
        check_name(field)?;
        let rendered: Vec<String> = values.into_iter().map(|v| v.into().render()).collect();
        if rendered.is_empty() {
            return Err(SoqlError::EmptyInList);
        }
        // Measure the statement around one placeholder, then add values while both the raw
        // length and the URL-encoded length fit.
        const MARK: &str = "\u{1}";
        let shell = self.render(Some(&format!("{field} IN ({MARK})")))?;
        let shell_chars = shell.chars().count() - 1;
        let shell_url = encoded_len(&shell) - encoded_len(MARK);
        let url_budget = limits.max_url_chars.saturating_sub(limits.url_overhead);

        let mut out = Vec::new();
        let mut chunk: Vec<&str> = Vec::new();
        let (mut chars, mut url) = (shell_chars, shell_url);
        for v in &rendered {
            let (vc, vu) = (v.chars().count(), encoded_len(v));
            let sep = if chunk.is_empty() { (0, 0) } else { (1, 3) }; // ',' is %2C
            if !chunk.is_empty()
                && (chars + sep.0 + vc > limits.max_soql_chars || url + sep.1 + vu > url_budget)
            {
                out.push(shell.replacen(MARK, &chunk.join(","), 1));
                chunk.clear();
                chars = shell_chars;
                url = shell_url;
            }
            let sep = if chunk.is_empty() { (0, 0) } else { (1, 3) };
            if chars + sep.0 + vc > limits.max_soql_chars || url + sep.1 + vu > url_budget {
                return Err(SoqlError::ValueTooLong(vc));
            }
            chunk.push(v);
            chars += sep.0 + vc;
            url += sep.1 + vu;
        }
        out.push(shell.replacen(MARK, &chunk.join(","), 1));
        Ok(out)
    }
}

/// Length limits for [`Soql::chunk_in`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementLimits {
    pub max_soql_chars: usize,
    pub max_url_chars: usize,
    /// Characters of the URL outside the `q=` value (scheme, host, path).
    pub url_overhead: usize,
}

impl Default for StatementLimits {
    fn default() -> Self {
        Self {
            max_soql_chars: MAX_SOQL_CHARS,
            max_url_chars: MAX_QUERY_URL_CHARS,
            url_overhead: 256,
        }
    }
}

/// Length of `s` once form-URL-encoded (as reqwest encodes the `q` parameter).
pub(crate) fn encoded_len(s: &str) -> usize {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .map(str::len)
        .sum()
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    fn check(q: &Soql, expected: &str) {
        assert_eq!(q.build().unwrap(), expected);
    }

    #[test]
    fn quotes_in_emails_are_escaped_not_interpreted() {
        check(
            &Soql::select(&["Id"], "Lead").filter(Filter::eq("Email", "o'brien@x.com")),
            r"SELECT Id FROM Lead WHERE Email = 'o\'brien@x.com'",
        );
        check(
            &Soql::select(&["Id"], "Lead").filter(Filter::eq("Email", "a'OR Email!=''@x.com")),
            r"SELECT Id FROM Lead WHERE Email = 'a\'OR Email!=\'\'@x.com'",
        );
    }

    #[test]
    fn backslashes_and_control_characters_are_escaped() {
        assert_eq!(quote("a\\'b"), r"'a\\\'b'");
        assert_eq!(quote("x\ny\tz\"q"), r#"'x\ny\tz\"q'"#);
        // A trailing backslash must not escape the closing quote.
        assert_eq!(quote("evil\\"), r"'evil\\'");
    }

    #[test]
    fn literals_of_each_type_render_as_soql_expects() {
        assert_eq!(Literal::Int(-3).render(), "-3");
        assert_eq!(Literal::Bool(true).render(), "true");
        assert_eq!(Literal::Null.render(), "null");
        assert_eq!(Literal::Date(date!(2026 - 01 - 05)).render(), "2026-01-05");
        assert_eq!(
            Literal::DateTime(datetime!(2026-01-05 10:30:15.123 +02:00)).render(),
            "2026-01-05T08:30:15Z"
        );
    }

    #[test]
    fn names_outside_soql_grammar_are_refused() {
        for bad in ["Email OR Id != null", "Email;", "", "1abc", "a..b", "Name'"] {
            let q = Soql::select(&["Id"], "Lead").filter(Filter::eq(bad, "x"));
            assert_eq!(
                q.build(),
                Err(SoqlError::InvalidName(bad.to_owned())),
                "{bad}"
            );
        }
        assert!(Soql::select(&["Id; DELETE"], "Lead").build().is_err());
        assert!(
            Soql::select(&["Owner.Name", "ns__plezi_url__c"], "Lead")
                .build()
                .is_ok()
        );
    }

    #[test]
    fn filters_combine_with_parentheses_order_and_limit() {
        let q = Soql::select(&["Id", "Email"], "Lead")
            .filter(Filter::gt("SystemModstamp", datetime!(2026-01-01 0:00 UTC)))
            .filter(Filter::eq("IsConverted", false).or(Filter::ne("Email", Literal::Null)))
            .order_by("SystemModstamp", Order::Asc)
            .order_by("Id", Order::Asc)
            .limit(10);
        check(
            &q,
            "SELECT Id, Email FROM Lead WHERE (SystemModstamp > 2026-01-01T00:00:00Z) AND \
             ((IsConverted = false) OR (Email != null)) ORDER BY SystemModstamp ASC, Id ASC LIMIT 10",
        );
    }

    #[test]
    fn in_lists_escape_each_value_and_reject_empty_lists() {
        check(
            &Soql::select(&["Id"], "Lead").filter(Filter::is_in("Email", ["a@x.com", "o'b@x.com"])),
            r"SELECT Id FROM Lead WHERE Email IN ('a@x.com','o\'b@x.com')",
        );
        let empty: [&str; 0] = [];
        assert_eq!(
            Soql::select(&["Id"], "Lead")
                .filter(Filter::is_in("Email", empty))
                .build(),
            Err(SoqlError::EmptyInList)
        );
    }

    #[test]
    fn long_in_lists_are_chunked_under_the_url_limit() {
        let emails: Vec<String> = (0..5_000)
            .map(|i| format!("person.{i:05}+tag@example-company.com"))
            .collect();
        let base = Soql::select(&["Id", "Email"], "Lead").filter(Filter::eq("IsConverted", false));
        let limits = StatementLimits::default();
        let chunks = base.chunk_in("Email", &emails, limits).unwrap();
        assert!(chunks.len() > 1);
        let mut seen = 0;
        for q in &chunks {
            assert!(
                encoded_len(q) + limits.url_overhead <= MAX_QUERY_URL_CHARS,
                "{}",
                encoded_len(q)
            );
            assert!(q.starts_with(
                "SELECT Id, Email FROM Lead WHERE (IsConverted = false) AND Email IN ('"
            ));
            seen += q.matches("@example-company.com").count();
        }
        assert_eq!(seen, 5_000, "every value lands in exactly one chunk");
        // Chunks are full: the minimum count for this budget, give or take one.
        let per_value = encoded_len(&quote(&emails[0])) + 3;
        let min = 5_000 * per_value / (MAX_QUERY_URL_CHARS - limits.url_overhead);
        assert!(
            chunks.len() <= min + 2,
            "{} chunks, minimum about {min}",
            chunks.len()
        );
    }

    #[test]
    fn statement_limit_applies_when_the_url_limit_is_lifted() {
        let ids: Vec<String> = (0..20_000).map(|i| format!("00Q{i:015}")).collect();
        let limits = StatementLimits {
            max_url_chars: usize::MAX,
            ..StatementLimits::default()
        };
        let chunks = Soql::select(&["Id"], "Lead")
            .chunk_in("Id", &ids, limits)
            .unwrap();
        assert!(chunks.iter().all(|q| q.chars().count() <= MAX_SOQL_CHARS));
        assert_eq!(chunks.len(), 5); // 20,000 × 21 chars ≈ 420,000 characters.
    }

    #[test]
    fn like_helpers_match_their_text_literally() {
        check(
            &Soql::select(&["Id"], "Lead").filter(Filter::contains("Company", "50%_o'k")),
            r"SELECT Id FROM Lead WHERE Company LIKE '%50\%\_o\'k%'",
        );
        check(
            &Soql::select(&["Id"], "Lead").filter(Filter::starts_with("Email", "a\\b")),
            r"SELECT Id FROM Lead WHERE Email LIKE 'a\\b%'",
        );
        check(
            &Soql::select(&["Id"], "Lead").filter(Filter::like("Email", "%@x.com")),
            "SELECT Id FROM Lead WHERE Email LIKE '%@x.com'",
        );
    }
}
