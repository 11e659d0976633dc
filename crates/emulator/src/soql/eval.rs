//! Evaluation of a compiled WHERE clause and ORDER BY against stored records.
//!
//! Invariant: nothing here allocates per record. Field names are canonical keys resolved at
//! compile time, literals are pre-folded / pre-parsed, and record values are decoded into a
//! borrowed [`Val`] on the fly (datetimes parsed from their string form without allocation).
//!
//! Null semantics follow Salesforce, not SQL: an absent, JSON-null or empty-string value is
//! null; `= null` matches it, `!= 'x'` and `NOT IN (…)` match it, ranges and LIKE never do.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::dates;
use super::lexer::{LikeTok, fold};

/// How a field's values are compared; derived from its `FieldKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Case-insensitive text (string, email, phone, url, textarea, picklist).
    Text,
    /// Record ids: case-sensitive, a 15-character id equals its 18-character form.
    Id,
    Num,
    Bool,
    /// Days since the epoch.
    Date,
    /// Milliseconds since the epoch.
    DateTime,
    /// `;`-separated multi-select picklist values, compared as sets.
    Multi,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Null,
    /// Case-folded text.
    Text(String),
    Id(String),
    Num(f64),
    Bool(bool),
    /// Half-open `[start, end)` in the field's time unit (a date is one day, a datetime one ms).
    Range(i64, i64),
    /// Folded, sorted, deduplicated picklist values.
    Multi(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Like,
    Includes,
    Excludes,
}

#[derive(Debug, Clone)]
pub(crate) struct Test {
    pub field: String,
    pub class: Class,
    pub op: Op,
    pub lits: Vec<Lit>,
    pub like: Vec<LikeTok>,
}

#[derive(Debug, Clone)]
pub(crate) enum Pred {
    And(Vec<Pred>),
    Or(Vec<Pred>),
    Not(Box<Pred>),
    Test(Test),
}

#[derive(Debug, Clone)]
pub(crate) struct OrderKey {
    pub field: String,
    pub class: Class,
    pub descending: bool,
    pub nulls_first: bool,
}

/// A record value decoded for comparison, borrowing from the record.
#[derive(Debug, Clone, Copy)]
enum Val<'a> {
    Null,
    Text(&'a str),
    Num(f64),
    Bool(bool),
    Time(i64),
}

fn extract(value: Option<&Value>, class: Class) -> Val<'_> {
    match (value, class) {
        (Some(Value::String(s)), Class::Text | Class::Id | Class::Multi) if !s.is_empty() => {
            Val::Text(s)
        }
        (Some(Value::Number(n)), Class::Num) => n.as_f64().map_or(Val::Null, Val::Num),
        (Some(Value::Bool(b)), Class::Bool) => Val::Bool(*b),
        (Some(Value::String(s)), Class::Date) => {
            dates::parse_stored_date(s).map_or(Val::Null, Val::Time)
        }
        (Some(Value::String(s)), Class::DateTime) => {
            dates::parse_datetime(s).map_or(Val::Null, Val::Time)
        }
        _ => Val::Null,
    }
}

impl Pred {
    pub(crate) fn eval(&self, rec: &Map<String, Value>) -> bool {
        match self {
            Pred::And(all) => all.iter().all(|p| p.eval(rec)),
            Pred::Or(any) => any.iter().any(|p| p.eval(rec)),
            Pred::Not(p) => !p.eval(rec),
            Pred::Test(t) => t.eval(rec),
        }
    }
}

impl Test {
    fn eval(&self, rec: &Map<String, Value>) -> bool {
        let v = extract(rec.get(&self.field), self.class);
        match self.op {
            Op::Eq => self.lits.first().is_some_and(|l| equals(v, l)),
            Op::Ne => !self.lits.first().is_some_and(|l| equals(v, l)),
            Op::In => self.lits.iter().any(|l| equals(v, l)),
            Op::NotIn => !self.lits.iter().any(|l| equals(v, l)),
            Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                self.lits.first().is_some_and(|l| range_test(v, self.op, l))
            }
            Op::Like => match v {
                Val::Text(s) => like_match(&self.like, s),
                _ => false,
            },
            Op::Includes => match v {
                Val::Text(s) => self.lits.iter().any(|l| includes(s, l)),
                _ => false,
            },
            Op::Excludes => match v {
                Val::Text(s) => !self.lits.iter().any(|l| includes(s, l)),
                _ => true,
            },
        }
    }
}

fn text_eq(s: &str, folded: &str) -> bool {
    // Fast path: equal bytes up to ASCII case are equal under `fold` too.
    if s.len() == folded.len() && s.eq_ignore_ascii_case(folded) {
        return true;
    }
    if s.is_ascii() && folded.is_ascii() {
        return false;
    }
    s.chars().map(fold).eq(folded.chars())
}

fn text_cmp(s: &str, folded: &str) -> Ordering {
    s.chars().map(fold).cmp(folded.chars())
}

/// Salesforce ids: the first 15 characters are the case-sensitive key; the 3-character
/// suffix of the 18-character form only encodes their case.
fn id_key(s: &str) -> &str {
    if s.len() == 18 && s.is_ascii() {
        &s[..15]
    } else {
        s
    }
}

fn picklist_parts(s: &str) -> impl Iterator<Item = &str> {
    s.split(';').map(str::trim).filter(|p| !p.is_empty())
}

fn contains_folded(set: &[String], part: &str) -> bool {
    set.iter().any(|x| text_eq(part, x))
}

/// Multi-select `=`: the same set of values, in any order.
fn multi_eq(s: &str, set: &[String]) -> bool {
    picklist_parts(s).all(|p| contains_folded(set, p))
        && set.iter().all(|x| picklist_parts(s).any(|p| text_eq(p, x)))
}

/// INCLUDES: every value of one `'a;b'` group is selected in the record.
fn includes(s: &str, lit: &Lit) -> bool {
    match lit {
        Lit::Multi(set) => set.iter().all(|x| picklist_parts(s).any(|p| text_eq(p, x))),
        _ => false,
    }
}

fn equals(v: Val<'_>, lit: &Lit) -> bool {
    match (v, lit) {
        (Val::Null, Lit::Null) => true,
        (Val::Null, _) | (_, Lit::Null) => false,
        (Val::Text(s), Lit::Text(t)) => text_eq(s, t),
        (Val::Text(s), Lit::Id(t)) => id_key(s) == id_key(t),
        (Val::Text(s), Lit::Multi(set)) => multi_eq(s, set),
        (Val::Num(a), Lit::Num(b)) => a == *b,
        (Val::Bool(a), Lit::Bool(b)) => a == *b,
        (Val::Time(t), Lit::Range(lo, hi)) => *lo <= t && t < *hi,
        _ => false,
    }
}

fn range_test(v: Val<'_>, op: Op, lit: &Lit) -> bool {
    if let (Val::Time(t), Lit::Range(lo, hi)) = (v, lit) {
        // A range literal (TODAY, a date, a datetime) splits time in three: before, in, after.
        return match op {
            Op::Lt => t < *lo,
            Op::Le => t < *hi,
            Op::Gt => t >= *hi,
            Op::Ge => t >= *lo,
            _ => false,
        };
    }
    let ord = match (v, lit) {
        (Val::Text(s), Lit::Text(t)) => Some(text_cmp(s, t)),
        (Val::Text(s), Lit::Id(t)) => Some(id_key(s).cmp(id_key(t))),
        (Val::Num(a), Lit::Num(b)) => a.partial_cmp(b),
        _ => None,
    };
    ord.is_some_and(|o| match op {
        Op::Lt => o == Ordering::Less,
        Op::Le => o != Ordering::Greater,
        Op::Gt => o == Ordering::Greater,
        Op::Ge => o != Ordering::Less,
        _ => false,
    })
}

/// LIKE over the whole value, case-insensitive, `%` = any run, `_` = one character.
/// Greedy matching with a single backtrack point: linear in practice, no allocation.
pub(crate) fn like_match(pattern: &[LikeTok], s: &str) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(c) = s[i..].chars().next() {
            let next = i + c.len_utf8();
            let step = match pattern.get(p) {
                Some(LikeTok::Any) => {
                    star = Some((p, i));
                    p += 1;
                    continue;
                }
                Some(LikeTok::One) => true,
                Some(LikeTok::Ch(x)) => *x == fold(c),
                None => false,
            };
            if step {
                p += 1;
                i = next;
                continue;
            }
            match star {
                Some((sp, si)) => {
                    let skipped = s[si..].chars().next().map_or(1, char::len_utf8);
                    star = Some((sp, si + skipped));
                    p = sp + 1;
                    i = si + skipped;
                }
                None => return false,
            }
        } else {
            return pattern[p.min(pattern.len())..]
                .iter()
                .all(|t| *t == LikeTok::Any);
        }
    }
}

fn compare_vals(a: Val<'_>, b: Val<'_>, class: Class) -> Ordering {
    match (a, b) {
        (Val::Text(x), Val::Text(y)) if class == Class::Id => x.cmp(y),
        (Val::Text(x), Val::Text(y)) => x.chars().map(fold).cmp(y.chars().map(fold)),
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (Val::Bool(x), Val::Bool(y)) => x.cmp(&y),
        (Val::Time(x), Val::Time(y)) => x.cmp(&y),
        _ => Ordering::Equal,
    }
}

fn compare_keys(keys: &[OrderKey], a: &[Val<'_>], b: &[Val<'_>]) -> Ordering {
    for ((key, va), vb) in keys.iter().zip(a).zip(b) {
        let nulls = if key.nulls_first {
            Ordering::Less
        } else {
            Ordering::Greater
        };
        let ord = match (va, vb) {
            (Val::Null, Val::Null) => Ordering::Equal,
            (Val::Null, _) => nulls,
            (_, Val::Null) => nulls.reverse(),
            _ => {
                let o = compare_vals(*va, *vb, key.class);
                if key.descending { o.reverse() } else { o }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// ORDER BY, then OFFSET and LIMIT. Sort keys are decoded once per record (datetimes are
/// not re-parsed per comparison), ties are broken by input position so the order is stable,
/// and only the first `offset + limit` records are fully sorted.
pub(crate) fn order_page<'a>(
    keys: &[OrderKey],
    hits: Vec<&'a Map<String, Value>>,
    offset: usize,
    limit: usize,
) -> Vec<&'a Map<String, Value>> {
    let width = keys.len();
    let decoded: Vec<Val<'a>> = hits
        .iter()
        .flat_map(|rec| {
            keys.iter()
                .map(move |k| extract(rec.get(&k.field), k.class))
        })
        .collect();
    let row = |i: usize| &decoded[i * width..(i + 1) * width];
    let cmp = |a: &usize, b: &usize| compare_keys(keys, row(*a), row(*b)).then(a.cmp(b));
    let mut order: Vec<usize> = (0..hits.len()).collect();
    let wanted = offset.saturating_add(limit);
    if wanted < order.len() {
        order.select_nth_unstable_by(wanted, cmp);
        order.truncate(wanted);
    }
    order.sort_unstable_by(cmp);
    order
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|i| hits[i])
        .collect()
}
