//! SOQL for the emulator's `/query`, `/queryAll` and Bulk 2.0 query jobs.
//!
//! Job: turn a SOQL string into a [`CompiledQuery`] once (resolving object and field names
//! against a [`Schema`], type-checking literals, folding case), then filter, order and page
//! stored records with it, and answer `columns=true`.
//!
//! Invariants:
//! - Records are `serde_json::Map`s keyed by canonical field names (see the module contract):
//!   datetimes `2026-01-01T00:00:00.000+0000`, dates `2026-01-01`, numbers, bools, strings;
//!   absent, JSON null and `""` are all null.
//! - Every bad query is a [`SoqlError`] carrying Salesforce's error code and message shape
//!   (caret diagram included); nothing here panics on any input.
//! - [`CompiledQuery::matches`] does not allocate: names and literals are resolved at compile
//!   time.
//! - Out of scope, refused with MALFORMED_QUERY: relationship paths (`Owner.Name`), subqueries,
//!   GROUP BY / HAVING, aggregate functions other than `COUNT()`, functions, WITH / FOR /
//!   USING SCOPE clauses, quarter and fiscal date literals, bind variables.
//! - Date literals (TODAY, LAST_N_DAYS:n, …) are evaluated in UTC with Sunday-start weeks,
//!   against the wall clock ([`compile`]) or a given day ([`compile_at`]).
//! - Semantics follow Salesforce rather than SQL: text `=`/`LIKE`/ordering ignore case, `''`
//!   is null, `!=` and `NOT IN` match nulls, AND and OR (and NOT) cannot be mixed without
//!   parentheses, ORDER BY defaults to ASC NULLS FIRST / DESC NULLS LAST, OFFSET ≤ 2000.

mod dates;
mod error;
mod eval;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value, json};

use eval::{Class, Lit, Op, OrderKey, Pred, Test};
use lexer::CmpOp;
use parser::{Cond, Operator, Path};

/// Salesforce caps OFFSET ("Considerations When Using OFFSET": the maximum offset is 2,000).
pub const MAX_OFFSET: usize = 2000;

/// What the SOQL compiler needs to know about the org's metadata.
pub trait Schema {
    /// Canonical name of an sObject type, case-insensitive lookup; None if unknown.
    fn object(&self, name: &str) -> Option<String>;
    /// Canonical name and kind of a field of `object` (canonical object name), case-insensitive.
    fn field(&self, object: &str, field: &str) -> Option<(String, FieldKind)>;
    /// The 3-character id prefix of `object` (e.g. `00Q` for Lead), for `columns=true`.
    fn key_prefix(&self, _object: &str) -> Option<String> {
        None
    }
}

/// The describe `type` of a field, as far as querying cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    Id,
    String,
    Boolean,
    Int,
    Double,
    Currency,
    Percent,
    Date,
    DateTime,
    Picklist,
    MultiPicklist,
    Email,
    Phone,
    Url,
    TextArea,
    Reference,
}

impl FieldKind {
    fn class(self) -> Class {
        match self {
            FieldKind::Id | FieldKind::Reference => Class::Id,
            FieldKind::Boolean => Class::Bool,
            FieldKind::Int | FieldKind::Double | FieldKind::Currency | FieldKind::Percent => {
                Class::Num
            }
            FieldKind::Date => Class::Date,
            FieldKind::DateTime => Class::DateTime,
            FieldKind::MultiPicklist => Class::Multi,
            FieldKind::String
            | FieldKind::Picklist
            | FieldKind::Email
            | FieldKind::Phone
            | FieldKind::Url
            | FieldKind::TextArea => Class::Text,
        }
    }

    /// The type named in "value of filter criterion … must be of type X".
    fn criterion_type(self) -> &'static str {
        match self {
            FieldKind::Id | FieldKind::Reference => "id",
            FieldKind::Boolean => "boolean",
            FieldKind::Int => "integer",
            FieldKind::Double | FieldKind::Currency | FieldKind::Percent => "double",
            FieldKind::Date => "date",
            FieldKind::DateTime => "dateTime",
            _ => "string",
        }
    }

    /// The type named in "invalid operator on X field".
    fn operator_type(self) -> &'static str {
        match self {
            FieldKind::Id => "id",
            FieldKind::Reference => "reference",
            FieldKind::Boolean => "boolean",
            FieldKind::Int => "int",
            FieldKind::Double => "double",
            FieldKind::Currency => "currency",
            FieldKind::Percent => "percent",
            FieldKind::Date => "date",
            FieldKind::DateTime => "datetime",
            FieldKind::Picklist => "picklist",
            FieldKind::MultiPicklist => "multipicklist",
            FieldKind::String => "string",
            FieldKind::Email => "email",
            FieldKind::Phone => "phone",
            FieldKind::Url => "url",
            FieldKind::TextArea => "textarea",
        }
    }

    fn apex_type(self) -> &'static str {
        match self {
            FieldKind::Id | FieldKind::Reference => "Id",
            FieldKind::Boolean => "Boolean",
            FieldKind::Int => "Integer",
            FieldKind::Double | FieldKind::Percent => "Double",
            FieldKind::Currency => "Decimal",
            FieldKind::Date => "Date",
            FieldKind::DateTime => "Datetime",
            _ => "String",
        }
    }
}

/// A refused query: `error_code` is MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE,
/// INVALID_QUERY_FILTER_OPERATOR or NUMBER_OUTSIDE_VALID_RANGE; `message` is Salesforce's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_code}: {message}")]
pub struct SoqlError {
    pub error_code: &'static str,
    pub message: String,
}

/// A query resolved against a schema, ready to run over records.
#[derive(Debug, Clone)]
pub struct CompiledQuery {
    object: String,
    key_prefix: Option<String>,
    count: bool,
    fields: Vec<String>,
    kinds: Vec<FieldKind>,
    filter: Option<Pred>,
    order: Vec<OrderKey>,
    limit: Option<usize>,
    offset: usize,
}

/// Compiles `soql`, evaluating date literals against today's date in UTC.
pub fn compile(soql: &str, schema: &dyn Schema) -> Result<CompiledQuery, SoqlError> {
    compile_at(soql, schema, time::OffsetDateTime::now_utc().date())
}

/// Compiles `soql` with date literals (TODAY, LAST_N_DAYS:n, …) relative to `today`, for an
/// emulator running on a controlled clock.
pub fn compile_at(
    soql: &str,
    schema: &dyn Schema,
    today: time::Date,
) -> Result<CompiledQuery, SoqlError> {
    let tokens = lexer::tokenize(soql)?;
    let query = parser::Parser::new(soql, tokens).parse_query()?;
    let today = i64::from(today.to_julian_day()) - 2_440_588; // Julian day of 1970-01-01
    Resolver {
        src: soql,
        schema,
        today,
        object: String::new(),
        alias: query.alias.clone(),
    }
    .resolve(query)
}

struct Resolver<'a> {
    src: &'a str,
    schema: &'a dyn Schema,
    today: i64,
    object: String,
    alias: Option<String>,
}

impl Resolver<'_> {
    fn resolve(mut self, query: parser::Query) -> Result<CompiledQuery, SoqlError> {
        let (name, at) = &query.object;
        self.object = self.schema.object(name).ok_or_else(|| {
            error::with_diagram(
                error::INVALID_TYPE,
                self.src,
                *at,
                &format!(
                    "sObject type '{name}' is not supported. If you are attempting to use a \
                     custom object, be sure to append the '__c' after the entity name. Please \
                     reference your WSDL or the describe call for the appropriate names."
                ),
            )
        })?;
        let mut fields: Vec<String> = Vec::new();
        let mut kinds = Vec::new();
        if let Some(paths) = &query.fields {
            for path in paths {
                let (canonical, kind) = self.field(path)?;
                if fields.contains(&canonical) {
                    return Err(error::plain(
                        error::MALFORMED_QUERY,
                        format!("duplicate field selected: {canonical}"),
                    ));
                }
                fields.push(canonical);
                kinds.push(kind);
            }
        }
        let filter = query.filter.as_ref().map(|c| self.cond(c)).transpose()?;
        let mut order = Vec::new();
        for item in &query.order {
            let (field, kind) = self.field(&item.path)?;
            if kind == FieldKind::MultiPicklist {
                return Err(error::with_diagram(
                    error::INVALID_FIELD,
                    self.src,
                    item.path.start(),
                    &format!("field '{field}' can not be sorted in a query call"),
                ));
            }
            order.push(OrderKey {
                field,
                class: kind.class(),
                descending: item.descending,
                // Salesforce defaults: ASC NULLS FIRST, DESC NULLS LAST.
                nulls_first: item.nulls_first.unwrap_or(!item.descending),
            });
        }
        let offset = match query.offset {
            Some((n, _)) if n > MAX_OFFSET => {
                return Err(error::plain(
                    error::NUMBER_OUTSIDE_VALID_RANGE,
                    format!(
                        "Maximum SOQL offset allowed for apiName {} is {MAX_OFFSET}",
                        self.object
                    ),
                ));
            }
            Some((n, _)) => n,
            None => 0,
        };
        Ok(CompiledQuery {
            key_prefix: self.schema.key_prefix(&self.object),
            object: self.object,
            count: query.fields.is_none(),
            fields,
            kinds,
            filter,
            order,
            limit: query.limit,
            offset,
        })
    }

    /// Resolves a field path; `Lead.Email` and `alias.Email` name the queried object's field.
    fn field(&self, path: &Path) -> Result<(String, FieldKind), SoqlError> {
        let (name, at) = match path.parts.as_slice() {
            [single] => single,
            [qualifier, field]
                if qualifier.0.eq_ignore_ascii_case(&self.object)
                    || self
                        .alias
                        .as_deref()
                        .is_some_and(|a| a.eq_ignore_ascii_case(&qualifier.0)) =>
            {
                field
            }
            _ => {
                return Err(error::unsupported(
                    self.src,
                    path.start(),
                    &format!("Relationship paths ({}) are", path.text()),
                ));
            }
        };
        if let Some(found) = self.schema.field(&self.object, name) {
            return Ok(found);
        }
        if name.eq_ignore_ascii_case("Id") {
            return Ok(("Id".to_owned(), FieldKind::Id));
        }
        Err(error::with_diagram(
            error::INVALID_FIELD,
            self.src,
            *at,
            &format!(
                "No such column '{name}' on entity '{}'. If you are attempting to use a custom \
                 field, be sure to append the '__c' after the custom field name. Please \
                 reference your WSDL or the describe call for the appropriate names.",
                self.object
            ),
        ))
    }

    fn cond(&self, cond: &Cond) -> Result<Pred, SoqlError> {
        Ok(match cond {
            Cond::And(all) => {
                Pred::And(all.iter().map(|c| self.cond(c)).collect::<Result<_, _>>()?)
            }
            Cond::Or(any) => Pred::Or(any.iter().map(|c| self.cond(c)).collect::<Result<_, _>>()?),
            Cond::Not(inner) => Pred::Not(Box::new(self.cond(inner)?)),
            Cond::Simple { path, op, values } => Pred::Test(self.test(path, *op, values)?),
        })
    }

    fn test(
        &self,
        path: &Path,
        op: Operator,
        values: &[(parser::Value, usize)],
    ) -> Result<Test, SoqlError> {
        let (field, kind) = self.field(path)?;
        let at = path.start();
        let bad_operator = || {
            error::with_diagram(
                error::INVALID_QUERY_FILTER_OPERATOR,
                self.src,
                at,
                &format!("invalid operator on {} field", kind.operator_type()),
            )
        };
        let op = match op {
            Operator::Cmp(CmpOp::Eq) => Op::Eq,
            Operator::Cmp(CmpOp::Ne) => Op::Ne,
            Operator::Cmp(c) => {
                if matches!(kind, FieldKind::Boolean | FieldKind::MultiPicklist) {
                    return Err(bad_operator());
                }
                match c {
                    CmpOp::Lt => Op::Lt,
                    CmpOp::Le => Op::Le,
                    CmpOp::Gt => Op::Gt,
                    _ => Op::Ge,
                }
            }
            Operator::In | Operator::NotIn if kind == FieldKind::MultiPicklist => {
                return Err(bad_operator());
            }
            Operator::In => Op::In,
            Operator::NotIn => Op::NotIn,
            Operator::Like => {
                if kind.class() != Class::Text {
                    return Err(bad_operator());
                }
                Op::Like
            }
            Operator::Includes | Operator::Excludes if kind != FieldKind::MultiPicklist => {
                return Err(bad_operator());
            }
            Operator::Includes => Op::Includes,
            Operator::Excludes => Op::Excludes,
        };
        let mut like = Vec::new();
        if op == Op::Like {
            match values.first() {
                Some((parser::Value::Str { like: pattern, .. }, _)) => like = pattern.clone(),
                Some((parser::Value::Null, _)) => {}
                _ => return Err(self.type_error(&field, kind, at)),
            }
        }
        let lits = values
            .iter()
            .map(|(v, _)| self.literal(v, &field, kind, at))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Test {
            field,
            class: kind.class(),
            op,
            lits,
            like,
        })
    }

    fn type_error(&self, field: &str, kind: FieldKind, at: usize) -> SoqlError {
        let quoting = if kind.class() == Class::Text
            || kind.class() == Class::Multi
            || kind.class() == Class::Id
        {
            "should be enclosed in quotes"
        } else {
            "should not be enclosed in quotes"
        };
        error::with_diagram(
            error::INVALID_FIELD,
            self.src,
            at,
            &format!(
                "value of filter criterion for field '{field}' must be of type {} and {quoting}",
                kind.criterion_type()
            ),
        )
    }

    fn literal(
        &self,
        value: &parser::Value,
        field: &str,
        kind: FieldKind,
        at: usize,
    ) -> Result<Lit, SoqlError> {
        use parser::Value as V;
        let class = kind.class();
        let lit = match (value, class) {
            (V::Null, _) => Lit::Null,
            // Salesforce stores no empty strings: '' means null.
            (V::Str { text, .. }, Class::Text | Class::Id | Class::Multi) if text.is_empty() => {
                Lit::Null
            }
            (V::Str { text, .. }, Class::Text) => {
                Lit::Text(text.chars().map(lexer::fold).collect())
            }
            (V::Str { text, .. }, Class::Id) => {
                let valid = (text.len() == 15 || text.len() == 18)
                    && text.bytes().all(|b| b.is_ascii_alphanumeric());
                if !valid {
                    return Err(error::plain(
                        error::INVALID_QUERY_FILTER_OPERATOR,
                        format!("invalid ID field: {text}"),
                    ));
                }
                Lit::Id(text.clone())
            }
            (V::Str { text, .. }, Class::Multi) => {
                let mut parts: Vec<String> = text
                    .split(';')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| p.chars().map(lexer::fold).collect())
                    .collect();
                parts.sort();
                parts.dedup();
                Lit::Multi(parts)
            }
            (V::Num(text), Class::Num) => match text.parse::<f64>() {
                Ok(n) if n.is_finite() => Lit::Num(n),
                _ => return Err(self.type_error(field, kind, at)),
            },
            (V::Bool(b), Class::Bool) => Lit::Bool(*b),
            (V::Date(days), Class::Date) => Lit::Range(*days, *days + 1),
            (V::DateTime(ms), Class::DateTime) => Lit::Range(*ms, *ms + 1),
            (V::DateLiteral { name, n }, Class::Date | Class::DateTime) => {
                let (start, end) = dates::date_literal_range(name, *n, self.today)
                    .ok_or_else(|| error::malformed(self.src, at, "invalid date literal"))?;
                if class == Class::Date {
                    Lit::Range(start, end)
                } else {
                    Lit::Range(start * dates::MS_PER_DAY, end * dates::MS_PER_DAY)
                }
            }
            _ => return Err(self.type_error(field, kind, at)),
        };
        Ok(lit)
    }
}

/// Standard fields the API never lets a client write, for `columns=true`.
const READ_ONLY_FIELDS: &[&str] = &[
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
    "LastActivityDate",
    "LastViewedDate",
    "LastReferencedDate",
];

/// The parts of a query an index can answer, for a caller holding secondary indexes
/// ([`CompiledQuery::index_hints`]). Every hint is implied by the WHERE clause: a record that
/// fails one cannot match, so rows taken from an index and then checked with
/// [`CompiledQuery::matches`] are exactly the full scan's hits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexHints {
    /// `field = 'x'` or `field IN ('x', …)` on a case-insensitive text field, ANDed with the
    /// rest: a hit's value, folded with [`fold_text`], is one of these (already folded).
    pub text_in: Vec<(String, Vec<String>)>,
    /// `field > t` or `field >= t` on a datetime field, ANDed with the rest: a hit's value, read
    /// with [`datetime_ms`], is at least this many ms since the epoch.
    pub datetime_from: Vec<(String, i64)>,
    /// The only ORDER BY key, when it is an ascending datetime field.
    pub ordered_by_datetime: Option<String>,
    /// OFFSET + LIMIT when a LIMIT is given: the first this many hits in order are enough.
    pub window: Option<usize>,
}

/// Folds text the way SOQL compares it (per character, case-insensitive): two values are `=`
/// in SOQL when their folds are equal.
pub fn fold_text(s: &str) -> String {
    s.chars().map(lexer::fold).collect()
}

/// A stored datetime as SOQL reads it, in ms since the epoch; None where SOQL sees null.
pub fn datetime_ms(s: &str) -> Option<i64> {
    dates::parse_datetime(s)
}

fn collect_hints(pred: &Pred, hints: &mut IndexHints) {
    match pred {
        Pred::And(all) => all.iter().for_each(|p| collect_hints(p, hints)),
        Pred::Test(t)
            if t.class == Class::Text && matches!(t.op, Op::Eq | Op::In) && !t.lits.is_empty() =>
        {
            let texts: Option<Vec<String>> = t
                .lits
                .iter()
                .map(|l| {
                    if let Lit::Text(s) = l {
                        Some(s.clone())
                    } else {
                        None
                    }
                })
                .collect();
            if let Some(texts) = texts {
                hints.text_in.push((t.field.clone(), texts));
            }
        }
        Pred::Test(t) if t.class == Class::DateTime => {
            // A range literal splits time in three (see `range_test`): `> t` is `≥ end of t`.
            let from = match (t.op, t.lits.first()) {
                (Op::Gt, Some(Lit::Range(_, hi))) => *hi,
                (Op::Ge, Some(Lit::Range(lo, _))) => *lo,
                _ => return,
            };
            hints.datetime_from.push((t.field.clone(), from));
        }
        // OR, NOT and other tests narrow nothing an index can use.
        _ => {}
    }
}

impl CompiledQuery {
    /// Canonical sObject name.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// `SELECT COUNT() FROM …`: the answer is `totalSize` with no records.
    pub fn is_count(&self) -> bool {
        self.count
    }

    /// Canonical select list, in query order (empty for `COUNT()`).
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Whether `rec` passes the WHERE clause.
    pub fn matches(&self, rec: &Map<String, Value>) -> bool {
        self.filter.as_ref().is_none_or(|p| p.eval(rec))
    }

    /// What secondary indexes could answer (pure: derived from the compiled query alone).
    pub fn index_hints(&self) -> IndexHints {
        let mut hints = IndexHints::default();
        if let Some(filter) = &self.filter {
            collect_hints(filter, &mut hints);
        }
        if let [key] = self.order.as_slice()
            && key.class == Class::DateTime
            && !key.descending
        {
            hints.ordered_by_datetime = Some(key.field.clone());
        }
        hints.window = self.limit.map(|l| self.offset.saturating_add(l));
        hints
    }

    /// Filter, then ORDER BY (stable: ties keep input order), then OFFSET, then LIMIT.
    pub fn run<'a>(
        &self,
        recs: impl Iterator<Item = &'a Map<String, Value>>,
    ) -> Vec<&'a Map<String, Value>> {
        let limit = self.limit.unwrap_or(usize::MAX);
        let hits = recs.filter(|r| self.matches(r));
        if self.order.is_empty() {
            return hits.skip(self.offset).take(limit).collect();
        }
        eval::order_page(&self.order, hits.collect(), self.offset, limit)
    }

    /// The selected fields of `rec` (absent ones as null). serde_json's `Map` here sorts its
    /// keys; callers that care about column order should walk [`Self::fields`].
    pub fn project(&self, rec: &Map<String, Value>) -> Map<String, Value> {
        self.fields
            .iter()
            .map(|f| (f.clone(), rec.get(f).cloned().unwrap_or(Value::Null)))
            .collect()
    }

    /// The body of `GET …/query?q=…&columns=true` (salesforce-api.md §4.1).
    pub fn columns(&self) -> Value {
        let columns: Vec<Value> = self
            .fields
            .iter()
            .zip(&self.kinds)
            .map(|(name, kind)| {
                let writable = !READ_ONLY_FIELDS.contains(&name.as_str());
                json!({
                    "aggregate": false,
                    "apexType": kind.apex_type(),
                    "booleanType": *kind == FieldKind::Boolean,
                    "columnName": name,
                    "custom": name.ends_with("__c"),
                    "displayName": name,
                    "foreignKeyName": null,
                    "insertable": writable,
                    "joinColumns": [],
                    "numberType": kind.class() == Class::Num,
                    "textType": matches!(kind.class(), Class::Text | Class::Multi),
                    "updatable": writable,
                })
            })
            .collect();
        json!({
            "columnMetadata": columns,
            "entityName": self.object,
            "groupBy": false,
            "idSelected": self.fields.iter().any(|f| f == "Id"),
            "keyPrefix": self.key_prefix,
        })
    }
}
