//! SQLite's bulk statements (`queries.rs`: the contacts' and the change log's multi-row
//! inserts) pass their text values packed: every text of a statement is appended to one buffer,
//! bound once as a blob, and each value is bound as a number (where it starts and how long it
//! is) that the SQL turns back into the text with [`unpack_sql`].
//!
//! Why: through sqlx each bound text costs two allocations and a copy on our side, and another
//! allocation and copy when SQLite binds it, all freed after the statement — for a 1,000-row
//! insert of contacts, 12,000 of each, more work than the insert itself. A bound number costs
//! neither; SQLite slices the blob (`substr` on a blob counts bytes) and reads the slice as
//! UTF-8 text (`CAST … AS TEXT`, the database's encoding). The stored values are the same
//! texts, with the same type (`TEXT`), and NULL stays NULL.

use std::fmt::Write as _;

/// The texts of one statement (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct TextPack {
    bytes: Vec<u8>,
}

/// Bits of a packed value that hold its length (the rest holds its 1-based start).
const LEN_BITS: u32 = 32;

impl TextPack {
    pub(crate) fn with_capacity(bytes: usize) -> TextPack {
        TextPack {
            bytes: Vec::with_capacity(bytes),
        }
    }

    /// Appends `text`: the number to bind in its place (`None`, NULL, stays NULL).
    pub(crate) fn put(&mut self, text: Option<&str>) -> Option<i64> {
        text.map(|t| self.put_str(t))
    }

    /// [`TextPack::put`] of a value that is never NULL.
    pub(crate) fn put_str(&mut self, text: &str) -> i64 {
        // substr() counts from 1. A statement's texts are far below 2^31 bytes in all, and one
        // text far below 2^32 bytes: the packed number is positive and exact.
        let start = self.bytes.len() as i64 + 1;
        self.bytes.extend_from_slice(text.as_bytes());
        (start << LEN_BITS) | text.len() as i64
    }

    /// [`TextPack::put_str`] of `value`'s JSON text.
    pub(crate) fn put_json(&mut self, value: &impl serde::Serialize) -> i64 {
        let start = self.bytes.len();
        if serde_json::to_writer(&mut self.bytes, value).is_err() {
            // A map of strings always serialises; keep the column's default all the same.
            self.bytes.truncate(start);
            self.bytes.extend_from_slice(b"{}");
        }
        ((start as i64 + 1) << LEN_BITS) | (self.bytes.len() - start) as i64
    }

    /// The blob to bind (the texts, back to back).
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// SQL for the text packed as `value` (an expression, typically a column of a `VALUES` list)
/// in the blob bound as parameter `pack` (`$7`).
pub(crate) fn unpack_sql(out: &mut String, pack: &str, value: &str) {
    let mask = (1i64 << LEN_BITS) - 1;
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "CAST(substr({pack}, {value} >> {LEN_BITS}, {value} & {mask}) AS TEXT)"
    );
}

/// ` FROM (VALUES (?, …), …)`: `rows` rows of `columns` anonymous parameters, the first
/// parameters of the statement. Parameters named after them must be `$N` with N their
/// position: sqlx numbers the anonymous ones from 1 and finds a named one by its number, and
/// SQLite looks each `?NNN` of a statement up in a list (no `?NNN` for each value, then).
pub(crate) fn push_values_placeholders(sql: &mut String, rows: usize, columns: usize) {
    sql.push_str(" FROM (VALUES ");
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push('?');
        }
        sql.push(')');
    }
    sql.push(')');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What SQLite stores from packed texts: the same texts, typed TEXT, NULL as NULL.
    #[tokio::test]
    async fn sqlite_stores_unpacked_texts_as_text() {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (n BIGINT, a TEXT, b TEXT)")
            .execute(&mut conn)
            .await
            .unwrap();
        let rows: [(i64, Option<&str>, &str); 5] = [
            (1, Some("a@b.c"), "x,y"),
            (2, None, "\"quoted\", 'single'"),
            (3, Some("line\nbreak\r\n\ttab"), "Zoë 日本 😀"),
            (4, Some(""), "\\N \\. back\\slash"),
            (5, Some("{\"k\":\"v\"}"), "NULL"),
        ];
        let mut sql = String::from("INSERT INTO t (n, a, b) SELECT column1, ");
        unpack_sql(&mut sql, "$16", "column2");
        sql.push_str(", ");
        unpack_sql(&mut sql, "$16", "column3");
        push_values_placeholders(&mut sql, rows.len(), 3);
        let mut pack = TextPack::default();
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (n, a, b) in rows {
            query = query.bind(n).bind(pack.put(a)).bind(pack.put_str(b));
        }
        query
            .bind(pack.into_bytes())
            .execute(&mut conn)
            .await
            .unwrap();
        let stored: Vec<(i64, Option<String>, String, String, String)> =
            sqlx::query_as("SELECT n, a, b, typeof(a), typeof(b) FROM t ORDER BY rowid")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        let expected: Vec<_> = rows
            .iter()
            .map(|(n, a, b)| {
                let a_type = if a.is_some() { "text" } else { "null" };
                (
                    *n,
                    a.map(str::to_owned),
                    b.to_string(),
                    a_type.into(),
                    "text".into(),
                )
            })
            .collect();
        assert_eq!(stored, expected);
    }

    #[test]
    fn packed_numbers_locate_each_text() {
        let mut pack = TextPack::default();
        let texts = ["a@b.c", "", "Zoë, \"Z\"\n", "日本"];
        let mut packed: Vec<i64> = texts.iter().map(|t| pack.put_str(t)).collect();
        let custom: std::collections::BTreeMap<&str, &str> = [("a", "x\"y")].into();
        packed.push(pack.put_json(&custom));
        let texts = [texts.as_slice(), &[r#"{"a":"x\"y"}"#]].concat();
        assert_eq!(pack.put(None), None);
        let bytes = pack.into_bytes();
        for (t, p) in texts.iter().zip(packed) {
            let start = (p >> LEN_BITS) as usize - 1;
            let len = (p & ((1 << LEN_BITS) - 1)) as usize;
            assert_eq!(&bytes[start..start + len], t.as_bytes());
        }
        let mut sql = String::new();
        unpack_sql(&mut sql, "$3", "column2");
        assert_eq!(
            sql,
            "CAST(substr($3, column2 >> 32, column2 & 4294967295) AS TEXT)"
        );
    }
}
