//! Tokens of a SOQL string, each with its byte span so errors can point at it.
//!
//! String literals are unescaped here, following "Quoted String Escape Sequences": the
//! decoded text (for `=`, `IN`, …) and the LIKE pattern (where `\%` and `\_` are literal and
//! bare `%` / `_` are wildcards) are both kept, because the lexer does not know the operator.

use super::SoqlError;
use super::dates;
use super::error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One element of a compiled LIKE pattern; characters are case-folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LikeTok {
    Any,
    One,
    Ch(char),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident,
    Str { text: String, like: Vec<LikeTok> },
    Num,
    Date(i64),
    DateTime(i64),
    LParen,
    RParen,
    Comma,
    Dot,
    Colon,
    Cmp(CmpOp),
    Eof,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

/// Case folding used for every case-insensitive comparison (one char in, one char out, so
/// comparisons can walk two strings in step without allocating).
pub(crate) fn fold(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, SoqlError> {
    let bytes = src.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let kind = match c {
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b'.' => {
                i += 1;
                Tok::Dot
            }
            b':' => {
                i += 1;
                Tok::Colon
            }
            b'=' => {
                i += 1;
                Tok::Cmp(CmpOp::Eq)
            }
            b'!' if bytes.get(i + 1) == Some(&b'=') => {
                i += 2;
                Tok::Cmp(CmpOp::Ne)
            }
            b'<' => match bytes.get(i + 1) {
                Some(b'>') => {
                    i += 2;
                    Tok::Cmp(CmpOp::Ne)
                }
                Some(b'=') => {
                    i += 2;
                    Tok::Cmp(CmpOp::Le)
                }
                _ => {
                    i += 1;
                    Tok::Cmp(CmpOp::Lt)
                }
            },
            b'>' => {
                if bytes.get(i + 1) == Some(&b'=') {
                    i += 2;
                    Tok::Cmp(CmpOp::Ge)
                } else {
                    i += 1;
                    Tok::Cmp(CmpOp::Gt)
                }
            }
            b'\'' => {
                let (kind, end) = string_literal(src, i)?;
                i = end;
                kind
            }
            b'0'..=b'9' | b'-' | b'+' => {
                let (kind, end) = number_or_date(src, i)?;
                i = end;
                kind
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                Tok::Ident
            }
            _ => return Err(no_viable(src, i)),
        };
        tokens.push(Token {
            kind,
            start,
            end: i,
        });
    }
    tokens.push(Token {
        kind: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(tokens)
}

fn no_viable(src: &str, at: usize) -> SoqlError {
    let ch = src[at..].chars().next().unwrap_or(' ');
    let (row, col) = error::row_col(src, at);
    error::malformed(
        src,
        at,
        &format!("line {row}:{col} no viable alternative at character '{ch}'"),
    )
}

/// Scans `'…'` starting at the quote; returns the token and the index after the closing quote.
fn string_literal(src: &str, open: usize) -> Result<(Tok, usize), SoqlError> {
    let mut text = String::new();
    let mut like = Vec::new();
    let mut chars = src[open + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        let at = open + 1 + off;
        match c {
            '\'' => return Ok((Tok::Str { text, like }, at + 1)),
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                let (plain, pattern) = match e {
                    'n' | 'N' => ('\n', LikeTok::Ch('\n')),
                    'r' | 'R' => ('\r', LikeTok::Ch('\r')),
                    't' | 'T' => ('\t', LikeTok::Ch('\t')),
                    'b' | 'B' => ('\u{7}', LikeTok::Ch('\u{7}')),
                    'f' | 'F' => ('\u{c}', LikeTok::Ch('\u{c}')),
                    '"' => ('"', LikeTok::Ch('"')),
                    '\'' => ('\'', LikeTok::Ch('\'')),
                    '\\' => ('\\', LikeTok::Ch('\\')),
                    '%' => ('%', LikeTok::Ch('%')),
                    '_' => ('_', LikeTok::Ch('_')),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).map(|(_, h)| h).collect();
                        let decoded = (hex.len() == 4)
                            .then(|| u32::from_str_radix(&hex, 16).ok())
                            .flatten()
                            .and_then(char::from_u32);
                        match decoded {
                            Some(u) => (u, LikeTok::Ch(fold(u))),
                            None => return Err(bad_escape(src, at, &format!("\\u{hex}"))),
                        }
                    }
                    other => return Err(bad_escape(src, at, &format!("\\{other}"))),
                };
                text.push(plain);
                like.push(match pattern {
                    LikeTok::Ch(p) => LikeTok::Ch(fold(p)),
                    other => other,
                });
            }
            '%' => {
                text.push('%');
                like.push(LikeTok::Any);
            }
            '_' => {
                text.push('_');
                like.push(LikeTok::One);
            }
            other => {
                text.push(other);
                like.push(LikeTok::Ch(fold(other)));
            }
        }
    }
    let (row, col) = error::row_col(src, src.len());
    Err(error::malformed(
        src,
        src.len(),
        &format!("line {row}:{col} mismatched character '<EOF>' expecting '''"),
    ))
}

fn bad_escape(src: &str, at: usize, seq: &str) -> SoqlError {
    let (row, col) = error::row_col(src, at);
    error::malformed(
        src,
        at,
        &format!(
            "line {row}:{col} Invalid string literal. Illegal character sequence '{seq}' in string literal."
        ),
    )
}

/// Numbers (`42`, `-3.5`, `+1`), dates (`2026-01-01`) and datetimes
/// (`2026-01-01T10:00:00.000+02:00`), all unquoted in SOQL.
fn number_or_date(src: &str, start: usize) -> Result<(Tok, usize), SoqlError> {
    let b = src.as_bytes();
    let mut i = start;
    if b[i] == b'-' || b[i] == b'+' {
        i += 1;
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return Err(no_viable(src, start));
        }
    }
    let digits_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let is_date_shape = digits_start == start && i - start == 4 && b.get(i) == Some(&b'-');
    if is_date_shape {
        // Take the whole run of date/time characters, then validate it as one literal.
        let mut end = i;
        while end < b.len()
            && (b[end].is_ascii_alphanumeric() || matches!(b[end], b'-' | b'+' | b':' | b'.'))
        {
            end += 1;
        }
        let text = &src[start..end];
        if text.len() == 10 {
            if let Some(days) = dates::parse_date(text) {
                return Ok((Tok::Date(days), end));
            }
        } else if let Some(ms) = dates::parse_datetime(text) {
            return Ok((Tok::DateTime(ms), end));
        }
        return Err(error::malformed(
            src,
            start,
            &format!("unexpected token: '{text}'"),
        ));
    }
    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if b.get(i)
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    {
        // `12abc` is no number and no identifier.
        return Err(no_viable(src, i));
    }
    Ok((Tok::Num, i))
}
