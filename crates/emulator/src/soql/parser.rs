//! Recursive-descent parser from tokens to an unresolved syntax tree.
//!
//! Grammar (the subset the emulator speaks; anything else is refused with MALFORMED_QUERY):
//! ```text
//! query     := SELECT items FROM ident [alias] [WHERE cond] [ORDER BY order {, order}]
//!              [LIMIT int] [OFFSET int]
//! items     := COUNT() | path {, path}
//! cond      := NOT operand | operand {AND operand} | operand {OR operand}
//! operand   := ( cond ) | path op value | path [NOT] IN ( value {, value} )
//!              | path LIKE value | path INCLUDES|EXCLUDES ( value {, value} )
//! order     := path [ASC|DESC] [NULLS FIRST|LAST]
//! ```
//! SOQL has no precedence between AND and OR: "Parentheses are required whenever you mix
//! the operators" (Logical Operators), and that includes NOT. Mixing them without
//! parentheses is the same syntax error Salesforce gives.

use super::SoqlError;
use super::error::{self, malformed, unsupported};
use super::lexer::{CmpOp, LikeTok, Tok, Token};

#[derive(Debug, Clone)]
pub(crate) struct Path {
    /// Each segment's text and byte offset.
    pub parts: Vec<(String, usize)>,
}

impl Path {
    pub fn start(&self) -> usize {
        self.parts.first().map_or(0, |p| p.1)
    }
    pub fn text(&self) -> String {
        self.parts
            .iter()
            .map(|p| p.0.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    Str { text: String, like: Vec<LikeTok> },
    Num(String),
    Bool(bool),
    Null,
    Date(i64),
    DateTime(i64),
    DateLiteral { name: String, n: Option<i64> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operator {
    Cmp(CmpOp),
    In,
    NotIn,
    Like,
    Includes,
    Excludes,
}

#[derive(Debug, Clone)]
pub(crate) enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Simple {
        path: Path,
        op: Operator,
        values: Vec<(Value, usize)>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct OrderItem {
    pub path: Path,
    pub descending: bool,
    pub nulls_first: Option<bool>,
}

#[derive(Debug, Clone)]
pub(crate) struct Query {
    /// `None` for `SELECT COUNT()`.
    pub fields: Option<Vec<Path>>,
    pub object: (String, usize),
    pub alias: Option<String>,
    pub filter: Option<Cond>,
    pub order: Vec<OrderItem>,
    pub limit: Option<usize>,
    pub offset: Option<(usize, usize)>,
}

/// Words that end a clause, so they cannot be an alias or a value.
const CLAUSE_WORDS: &[&str] = &[
    "WHERE", "ORDER", "LIMIT", "OFFSET", "GROUP", "HAVING", "WITH", "FOR", "USING", "UPDATE",
];

/// Parentheses deeper than this are refused, so a hostile query cannot exhaust the stack of
/// this recursive parser (or of the evaluator walking the result).
const MAX_NESTING: usize = 64;

pub(crate) struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    pub fn new(src: &'a str, tokens: Vec<Token>) -> Self {
        Parser {
            src,
            tokens,
            pos: 0,
            depth: 0,
        }
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        &self.tokens[(self.pos + ahead).min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn text(&self, t: &Token) -> &'a str {
        &self.src[t.start..t.end]
    }

    fn is_word(&self, t: &Token, word: &str) -> bool {
        t.kind == Tok::Ident && self.text(t).eq_ignore_ascii_case(word)
    }

    fn at_word(&self, word: &str) -> bool {
        self.is_word(self.peek(), word)
    }

    fn display(&self, t: &Token) -> String {
        if t.kind == Tok::Eof {
            "<EOF>".to_owned()
        } else {
            self.text(t).to_owned()
        }
    }

    fn unexpected(&self, t: &Token) -> SoqlError {
        malformed(
            self.src,
            t.start,
            &format!("unexpected token: '{}'", self.display(t)),
        )
    }

    fn expect_word(&mut self, word: &str) -> Result<Token, SoqlError> {
        if self.at_word(word) {
            Ok(self.bump())
        } else {
            Err(self.unexpected(self.peek()))
        }
    }

    fn expect(&mut self, kind: &Tok, what: &str) -> Result<Token, SoqlError> {
        if &self.peek().kind == kind {
            Ok(self.bump())
        } else {
            let t = self.peek();
            Err(malformed(
                self.src,
                t.start,
                &format!("expecting a {what}, found '{}'", self.display(t)),
            ))
        }
    }

    pub fn parse_query(mut self) -> Result<Query, SoqlError> {
        self.expect_word("SELECT")?;
        let fields = self.select_list()?;
        self.expect_word("FROM")?;
        let obj = self.bump();
        if obj.kind != Tok::Ident || CLAUSE_WORDS.iter().any(|w| self.is_word(&obj, w)) {
            return Err(self.unexpected(&obj));
        }
        let object = (self.text(&obj).to_owned(), obj.start);
        let mut alias = None;
        let next = self.peek().clone();
        if next.kind == Tok::Ident && !CLAUSE_WORDS.iter().any(|w| self.is_word(&next, w)) {
            self.bump();
            alias = Some(self.text(&next).to_owned());
        }
        if self.peek().kind == Tok::Comma {
            return Err(unsupported(
                self.src,
                self.peek().start,
                "Several objects in FROM are",
            ));
        }
        let mut filter = None;
        if self.at_word("WHERE") {
            self.bump();
            filter = Some(self.condition(false)?);
        }
        for word in ["WITH", "GROUP", "HAVING"] {
            if self.at_word(word) {
                return Err(unsupported(
                    self.src,
                    self.peek().start,
                    &format!("{word} clauses are"),
                ));
            }
        }
        let mut order = Vec::new();
        if self.at_word("ORDER") {
            self.bump();
            self.expect_word("BY")?;
            loop {
                order.push(self.order_item()?);
                if self.peek().kind != Tok::Comma {
                    break;
                }
                self.bump();
            }
        }
        let mut limit = None;
        if self.at_word("LIMIT") {
            self.bump();
            limit = Some(self.integer()?.0);
        }
        let mut offset = None;
        if self.at_word("OFFSET") {
            self.bump();
            offset = Some(self.integer()?);
        }
        if self.at_word("FOR") || self.at_word("UPDATE") || self.at_word("USING") {
            return Err(unsupported(
                self.src,
                self.peek().start,
                &format!("{} clauses are", self.text(self.peek()).to_uppercase()),
            ));
        }
        let end = self.peek().clone();
        if end.kind != Tok::Eof {
            return Err(self.unexpected(&end));
        }
        Ok(Query {
            fields,
            object,
            alias,
            filter,
            order,
            limit,
            offset,
        })
    }

    fn integer(&mut self) -> Result<(usize, usize), SoqlError> {
        let t = self.bump();
        let text = self.text(&t);
        if t.kind == Tok::Num && text.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = text.parse::<usize>() {
                return Ok((n, t.start));
            }
            return Err(error::with_diagram(
                error::NUMBER_OUTSIDE_VALID_RANGE,
                self.src,
                t.start,
                &format!("number out of range: {text}"),
            ));
        }
        Err(self.unexpected(&t))
    }

    fn select_list(&mut self) -> Result<Option<Vec<Path>>, SoqlError> {
        let first = self.peek().clone();
        if self.is_word(&first, "COUNT") && self.peek_at(1).kind == Tok::LParen {
            if self.peek_at(2).kind == Tok::RParen {
                self.pos += 3;
                if self.peek().kind == Tok::Comma {
                    return Err(self.unexpected(&self.peek().clone()));
                }
                return Ok(None);
            }
            return Err(unsupported(
                self.src,
                first.start,
                "Aggregate functions other than COUNT() are",
            ));
        }
        let mut fields = Vec::new();
        loop {
            fields.push(self.select_item()?);
            if self.peek().kind != Tok::Comma {
                break;
            }
            self.bump();
        }
        Ok(Some(fields))
    }

    fn select_item(&mut self) -> Result<Path, SoqlError> {
        let t = self.peek().clone();
        match t.kind {
            Tok::LParen => Err(unsupported(self.src, t.start, "Subqueries are")),
            Tok::Ident if self.is_word(&t, "TYPEOF") => {
                Err(unsupported(self.src, t.start, "TYPEOF is"))
            }
            Tok::Ident if self.peek_at(1).kind == Tok::LParen => Err(unsupported(
                self.src,
                t.start,
                &format!(
                    "Functions in SELECT ({}()) are",
                    self.text(&t).to_uppercase()
                ),
            )),
            Tok::Ident if self.is_word(&t, "FROM") => Err(self.unexpected(&t)),
            _ => {
                let path = self.path()?;
                let next = self.peek().clone();
                // `SELECT Name n FROM` — field aliases exist only in aggregate queries.
                if next.kind == Tok::Ident && !self.is_word(&next, "FROM") {
                    return Err(self.unexpected(&next));
                }
                Ok(path)
            }
        }
    }

    fn path(&mut self) -> Result<Path, SoqlError> {
        let mut parts = Vec::new();
        loop {
            let t = self.bump();
            if t.kind != Tok::Ident {
                return Err(self.unexpected(&t));
            }
            parts.push((self.text(&t).to_owned(), t.start));
            if self.peek().kind != Tok::Dot {
                break;
            }
            self.bump();
        }
        Ok(Path { parts })
    }

    fn order_item(&mut self) -> Result<OrderItem, SoqlError> {
        let t = self.peek().clone();
        if t.kind == Tok::Ident && self.peek_at(1).kind == Tok::LParen {
            return Err(unsupported(self.src, t.start, "Functions in ORDER BY are"));
        }
        let path = self.path()?;
        let mut descending = false;
        if self.at_word("ASC") {
            self.bump();
        } else if self.at_word("DESC") {
            self.bump();
            descending = true;
        }
        let mut nulls_first = None;
        if self.at_word("NULLS") {
            self.bump();
            if self.at_word("FIRST") {
                self.bump();
                nulls_first = Some(true);
            } else if self.at_word("LAST") {
                self.bump();
                nulls_first = Some(false);
            } else {
                return Err(self.unexpected(&self.peek().clone()));
            }
        }
        Ok(OrderItem {
            path,
            descending,
            nulls_first,
        })
    }

    /// A condition; `nested` says whether a `)` closes it (for the error wording).
    fn condition(&mut self, nested: bool) -> Result<Cond, SoqlError> {
        if self.at_word("NOT") {
            self.bump();
            let operand = self.operand()?;
            self.end_of_condition(nested)?;
            return Ok(Cond::Not(Box::new(operand)));
        }
        let first = self.operand()?;
        let joiner = if self.at_word("AND") {
            "AND"
        } else if self.at_word("OR") {
            "OR"
        } else {
            self.end_of_condition(nested)?;
            return Ok(first);
        };
        let mut all = vec![first];
        while self.at_word(joiner) {
            self.bump();
            all.push(self.operand()?);
        }
        self.end_of_condition(nested)?;
        Ok(if joiner == "AND" {
            Cond::And(all)
        } else {
            Cond::Or(all)
        })
    }

    /// After a complete condition only `)` (nested) or the next clause may follow; an
    /// AND/OR here means operators were mixed without parentheses.
    fn end_of_condition(&self, nested: bool) -> Result<(), SoqlError> {
        let t = self.peek();
        let ok = if nested {
            t.kind == Tok::RParen
        } else {
            t.kind == Tok::Eof || CLAUSE_WORDS.iter().any(|w| self.is_word(t, w))
        };
        if ok {
            Ok(())
        } else if nested {
            Err(malformed(
                self.src,
                t.start,
                &format!("expecting a right parentheses, found '{}'", self.display(t)),
            ))
        } else {
            Err(self.unexpected(t))
        }
    }

    fn operand(&mut self) -> Result<Cond, SoqlError> {
        let t = self.peek().clone();
        if t.kind == Tok::LParen {
            if self.depth >= MAX_NESTING {
                return Err(malformed(
                    self.src,
                    t.start,
                    &format!("parentheses nested more than {MAX_NESTING} levels deep"),
                ));
            }
            self.bump();
            self.depth += 1;
            let inner = self.condition(true)?;
            self.depth -= 1;
            self.expect(&Tok::RParen, "right parentheses")?;
            return Ok(inner);
        }
        if t.kind == Tok::Ident && self.peek_at(1).kind == Tok::LParen {
            return Err(unsupported(
                self.src,
                t.start,
                &format!(
                    "Functions in WHERE ({}()) are",
                    self.text(&t).to_uppercase()
                ),
            ));
        }
        if self.at_word("NOT") || self.at_word("AND") || self.at_word("OR") {
            // NOT inside an AND/OR chain needs its own parentheses in SOQL.
            return Err(self.unexpected(self.peek()));
        }
        let path = self.path()?;
        let op_tok = self.bump();
        let op = match &op_tok.kind {
            Tok::Cmp(c) => Operator::Cmp(*c),
            Tok::Ident if self.is_word(&op_tok, "IN") => Operator::In,
            Tok::Ident if self.is_word(&op_tok, "LIKE") => Operator::Like,
            Tok::Ident if self.is_word(&op_tok, "INCLUDES") => Operator::Includes,
            Tok::Ident if self.is_word(&op_tok, "EXCLUDES") => Operator::Excludes,
            Tok::Ident if self.is_word(&op_tok, "NOT") && self.at_word("IN") => {
                self.bump();
                Operator::NotIn
            }
            _ => return Err(self.unexpected(&op_tok)),
        };
        let values = match op {
            Operator::In | Operator::NotIn | Operator::Includes | Operator::Excludes => {
                self.value_list()?
            }
            _ => vec![self.value()?],
        };
        Ok(Cond::Simple { path, op, values })
    }

    fn value_list(&mut self) -> Result<Vec<(Value, usize)>, SoqlError> {
        self.expect(&Tok::LParen, "left parentheses")?;
        if self.at_word("SELECT") {
            return Err(unsupported(
                self.src,
                self.peek().start,
                "Semi-join subqueries are",
            ));
        }
        let mut values = vec![self.value()?];
        while self.peek().kind == Tok::Comma {
            self.bump();
            values.push(self.value()?);
        }
        self.expect(&Tok::RParen, "right parentheses")?;
        Ok(values)
    }

    fn value(&mut self) -> Result<(Value, usize), SoqlError> {
        let t = self.bump();
        let v = match &t.kind {
            Tok::Str { text, like } => Value::Str {
                text: text.clone(),
                like: like.clone(),
            },
            Tok::Num => Value::Num(self.text(&t).to_owned()),
            Tok::Date(d) => Value::Date(*d),
            Tok::DateTime(ms) => Value::DateTime(*ms),
            Tok::Colon => {
                return Err(malformed(
                    self.src,
                    t.start,
                    "Bind variables only allowed in Apex code",
                ));
            }
            Tok::Ident => {
                let word = self.text(&t).to_ascii_uppercase();
                match word.as_str() {
                    "TRUE" => Value::Bool(true),
                    "FALSE" => Value::Bool(false),
                    "NULL" => Value::Null,
                    _ if super::dates::literal_takes_n(&word) => {
                        self.expect(&Tok::Colon, "colon")?;
                        let n = self.bump();
                        let text = self.text(&n);
                        let parsed = (n.kind == Tok::Num)
                            .then(|| text.parse::<i64>().ok())
                            .flatten()
                            .filter(|n| (0..=100_000).contains(n));
                        match parsed {
                            Some(n) => Value::DateLiteral {
                                name: word,
                                n: Some(n),
                            },
                            None => return Err(self.unexpected(&n)),
                        }
                    }
                    _ if super::dates::is_unsupported_literal(&word) => {
                        return Err(unsupported(
                            self.src,
                            t.start,
                            &format!("Date literal {word} is"),
                        ));
                    }
                    _ if super::dates::date_literal_range(&word, None, 0).is_some() => {
                        Value::DateLiteral {
                            name: word,
                            n: None,
                        }
                    }
                    _ => return Err(self.unexpected(&t)),
                }
            }
            _ => return Err(self.unexpected(&t)),
        };
        Ok((v, t.start))
    }
}
