//! chainsaw's expression language: JMESPath as JMESPath Community speaks it
//! (what kyverno-json and chainsaw evaluate), on the `jmespath` crate.
//!
//! The `jmespath` crate is the better kept of the two Rust implementations
//! (the jmespath organisation's, several maintainers, the official compliance
//! suite, a hand-written parser); `jmespath_community` 0.1 has the dialect but
//! only 19 of the standard functions, an Earley parser that takes over a
//! millisecond for `a.b`, and panics in its parser. What the `jmespath` crate
//! lacks is the Community syntax chainsaw relies on: `$name` variables
//! (bindings), `$` (the root) and arithmetic (`$index + \`1\``). So this file
//! parses the dialect itself, into the crate's own `Ast`: a variable becomes a
//! literal of its bound value, arithmetic a call of one of the `__` functions
//! registered in `functions.rs`, and the crate's interpreter and functions do
//! the rest. The grammar and binding powers follow the JMESPath specification
//! and JMESPath Community's additions; `let` expressions are not supported.

use jmespath::ast::{Ast, Comparator};
use jmespath::{Context, Rcvar, Variable};
use serde_json::Value;
use std::sync::Arc;

/// Named values visible to expressions as `$name`, inherited and shadowed:
/// a later binding of a name hides an earlier one. Cloning is cheap.
#[derive(Clone, Default)]
pub struct Bindings(Option<Arc<Frame>>);

struct Frame {
    name: String,
    value: Rcvar,
    parent: Option<Arc<Frame>>,
}

impl std::fmt::Debug for Bindings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Bindings {
    pub fn new() -> Bindings {
        Bindings(None)
    }

    /// These bindings with `name` (without the `$`) bound to `value`.
    pub fn with(&self, name: &str, value: Value) -> Bindings {
        self.with_var(name, to_var(&value))
    }

    pub fn with_var(&self, name: &str, value: Rcvar) -> Bindings {
        Bindings(Some(Arc::new(Frame { name: name.to_string(), value, parent: self.0.clone() })))
    }

    pub fn get_var(&self, name: &str) -> Option<Rcvar> {
        let mut f = self.0.as_deref();
        while let Some(frame) = f {
            if frame.name == name {
                return Some(frame.value.clone());
            }
            f = frame.parent.as_deref();
        }
        None
    }

    pub fn get(&self, name: &str) -> Option<Value> {
        self.get_var(name).map(|v| from_var(&v))
    }

    /// The names bound, innermost first, each once.
    pub fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut f = self.0.as_deref();
        while let Some(frame) = f {
            if !out.contains(&frame.name) {
                out.push(frame.name.clone());
            }
            f = frame.parent.as_deref();
        }
        out
    }
}

/// A JSON value as the interpreter's value.
pub fn to_var(v: &Value) -> Rcvar {
    Rcvar::new(match v {
        Value::Null => Variable::Null,
        Value::Bool(b) => Variable::Bool(*b),
        Value::Number(n) => Variable::Number(n.clone()),
        Value::String(s) => Variable::String(s.clone()),
        Value::Array(a) => Variable::Array(a.iter().map(to_var).collect()),
        Value::Object(o) => Variable::Object(o.iter().map(|(k, v)| (k.clone(), to_var(v))).collect()),
    })
}

/// The interpreter's value as JSON (an expression reference becomes null).
pub fn from_var(v: &Variable) -> Value {
    match v {
        Variable::Null | Variable::Expref(_) => Value::Null,
        Variable::Bool(b) => Value::Bool(*b),
        Variable::Number(n) => Value::Number(n.clone()),
        Variable::String(s) => Value::String(s.clone()),
        Variable::Array(a) => Value::Array(a.iter().map(|v| from_var(v)).collect()),
        Variable::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), from_var(v))).collect()),
    }
}

/// Evaluates `expr` with `data` as the current node (`@`) and the root (`$`).
pub fn eval(expr: &str, data: &Value, bindings: &Bindings) -> Result<Value, String> {
    eval_var(expr, &to_var(data), bindings).map(|v| from_var(&v))
}

pub fn eval_var(expr: &str, data: &Rcvar, bindings: &Bindings) -> Result<Rcvar, String> {
    let ast = parse(expr, bindings, data)?;
    let runtime = crate::chainsaw::functions::runtime();
    let mut ctx = Context::new(expr, runtime);
    jmespath::interpret(data, &ast, &mut ctx).map_err(|e| runtime_message(&e))
}

/// Checks the syntax of `expr` alone (variables need not be bound).
pub fn check_syntax(expr: &str) -> Result<(), String> {
    let mut p = Parser::new(expr, None, &Rcvar::new(Variable::Null))?;
    p.parse_all().map(|_| ())
}

/// The crate's runtime error without its caret drawing: one line that names the problem.
fn runtime_message(e: &jmespath::JmespathError) -> String {
    match &e.reason {
        jmespath::ErrorReason::Runtime(r) => r.to_string(),
        jmespath::ErrorReason::Parse(p) => p.clone(),
    }
}

/// Parses `expr`, resolving `$name` against `bindings` and `$` to `root`.
pub fn parse(expr: &str, bindings: &Bindings, root: &Rcvar) -> Result<Ast, String> {
    let mut p = Parser::new(expr, Some(bindings), root)?;
    p.parse_all()
}

/// The key syntax of assertion trees and templates (kyverno-json's
/// `expression.Parse`): `~name.` iterates (binding the index or key to
/// `$name`), `->name` binds the projected value, `\…\` escapes, and
/// `(…)` or `(compiler; …)` is an expression.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Key {
    pub foreach: bool,
    pub foreach_name: Option<String>,
    pub binding: Option<String>,
    /// `Some` when the key is an expression: the compiler named (`""` for the default).
    pub compiler: Option<String>,
    pub statement: String,
}

impl Key {
    pub fn parse(input: &str) -> Key {
        let mut k = Key::default();
        let mut s = input;
        if let Some(rest) = s.strip_prefix('~') {
            let word: String = rest.chars().take_while(|c| is_word(*c)).collect();
            if let Some(after) = rest[word.len()..].strip_prefix('.') {
                k.foreach = true;
                k.foreach_name = (!word.is_empty()).then_some(word);
                s = after;
            }
        }
        // `(.*)\s*->\s*(\w+)$`: the binding name is the last word after `->`.
        if let Some(i) = s.rfind("->") {
            let name = s[i + 2..].trim_start();
            if !name.is_empty() && name.chars().all(is_word) {
                k.binding = Some(name.to_string());
                s = &s[..i];
            }
        }
        if s.len() >= 3 && s.starts_with('\\') && s.ends_with('\\') {
            k.statement = s[1..s.len() - 1].to_string();
            return k;
        }
        if let Some((compiler, stmt)) = expression_body(s) {
            k.compiler = Some(compiler);
            k.statement = stmt;
        } else {
            k.statement = s.to_string();
        }
        k
    }
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `(stmt)` or `(compiler; stmt)`: the compiler (`""` when none is named) and the statement.
pub fn expression_body(s: &str) -> Option<(String, String)> {
    let inner = s.strip_prefix('(')?.strip_suffix(')')?;
    if inner.is_empty() {
        return None;
    }
    let word: String = inner.chars().take_while(|c| is_word(*c)).collect();
    if !word.is_empty() {
        if let Some(rest) = inner[word.len()..].strip_prefix(';') {
            if !rest.is_empty() {
                return Some((word, rest.to_string()));
            }
        }
    }
    Some((String::new(), inner.to_string()))
}

/// A string value as chainsaw reads it (`expressions.Parse`): `\…\` is the
/// text between the backslashes, `(…)` an expression, anything else itself.
pub enum Text<'a> {
    Plain(std::borrow::Cow<'a, str>),
    Expr { compiler: String, statement: String },
}

pub fn text(s: &str) -> Text<'_> {
    if s.len() >= 3 && s.starts_with('\\') && s.ends_with('\\') {
        return Text::Plain(std::borrow::Cow::Owned(s[1..s.len() - 1].to_string()));
    }
    match expression_body(s) {
        Some((compiler, statement)) => Text::Expr { compiler, statement },
        None => Text::Plain(std::borrow::Cow::Borrowed(s)),
    }
}

/// Evaluates a statement with a compiler: JMESPath (the default, `jp`), or
/// CEL, which podproof does not implement.
pub fn eval_with(compiler: &str, statement: &str, data: &Value, bindings: &Bindings) -> Result<Value, String> {
    match compiler {
        "" | "jp" | "default" => eval(statement, data, bindings),
        "cel" => Err(format!("CEL expressions are not supported by podproof: `{statement}`")),
        other => Err(format!("unknown compiler `{other}` (expected jp or cel)")),
    }
}

/// Evaluates a string that may be an expression; a plain string is itself.
pub fn string_value(s: &str, bindings: &Bindings) -> Result<String, String> {
    match text(s) {
        Text::Plain(p) => Ok(p.into_owned()),
        Text::Expr { compiler, statement } => match eval_with(&compiler, &statement, &Value::Null, bindings)? {
            Value::String(s) => Ok(s),
            _ => Err(format!("expression didn't evaluate to a string ({s})")),
        },
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot,
    Star,
    Flatten,
    Filter,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    Colon,
    Pipe,
    Or,
    And,
    Not,
    Cmp(Comparator),
    At,
    Expref,
    Number(i64),
    Ident(String),
    Quoted(String),
    Raw(String),
    Literal(Value),
    Var(String),
    Root,
    Plus,
    Minus,
    Divide,
    IntDivide,
    Modulo,
    Eof,
}

impl Tok {
    /// Binding powers from the JMESPath specification, with JMESPath
    /// Community's arithmetic between the comparators and the flatten.
    fn bp(&self) -> u8 {
        match self {
            Tok::Pipe => 1,
            Tok::Or => 2,
            Tok::And => 3,
            Tok::Cmp(_) => 5,
            Tok::Plus | Tok::Minus => 6,
            Tok::Divide | Tok::IntDivide | Tok::Modulo => 7,
            Tok::Flatten => 9,
            Tok::Star => 20,
            Tok::Filter => 21,
            Tok::Dot => 40,
            Tok::Not => 45,
            Tok::LBrace => 50,
            Tok::LBracket => 55,
            Tok::LParen => 60,
            _ => 0,
        }
    }

    fn describe(&self) -> String {
        match self {
            Tok::Eof => "end of the expression".into(),
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Quoted(s) => format!("\"{s}\""),
            Tok::Raw(s) => format!("'{s}'"),
            Tok::Literal(v) => format!("`{v}`"),
            Tok::Var(v) => format!("${v}"),
            Tok::Number(n) => n.to_string(),
            other => format!("`{}`", symbol(other)),
        }
    }
}

fn symbol(t: &Tok) -> &'static str {
    match t {
        Tok::Dot => ".",
        Tok::Star => "*",
        Tok::Flatten => "[]",
        Tok::Filter => "[?",
        Tok::LBracket => "[",
        Tok::RBracket => "]",
        Tok::LBrace => "{",
        Tok::RBrace => "}",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::Comma => ",",
        Tok::Colon => ":",
        Tok::Pipe => "|",
        Tok::Or => "||",
        Tok::And => "&&",
        Tok::Not => "!",
        Tok::Cmp(Comparator::Equal) => "==",
        Tok::Cmp(Comparator::NotEqual) => "!=",
        Tok::Cmp(Comparator::LessThan) => "<",
        Tok::Cmp(Comparator::LessThanEqual) => "<=",
        Tok::Cmp(Comparator::GreaterThan) => ">",
        Tok::Cmp(Comparator::GreaterThanEqual) => ">=",
        Tok::At => "@",
        Tok::Expref => "&",
        Tok::Root => "$",
        Tok::Plus => "+",
        Tok::Minus => "-",
        Tok::Divide => "/",
        Tok::IntDivide => "//",
        Tok::Modulo => "%",
        _ => "?",
    }
}

/// Splits an expression into tokens, each with its character offset.
fn lex(expr: &str) -> Result<Vec<(Tok, usize)>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out: Vec<(Tok, usize)> = Vec::new();
    let mut i = 0;
    let err = |at: usize, what: String| format!("invalid expression `{expr}`: {what} at column {}", at + 1);
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let tok = match c {
            ' ' | '\t' | '\n' | '\r' => {
                i += 1;
                continue;
            }
            '.' => {
                i += 1;
                Tok::Dot
            }
            '*' => {
                i += 1;
                Tok::Star
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            ':' => {
                i += 1;
                Tok::Colon
            }
            '@' => {
                i += 1;
                Tok::At
            }
            ']' => {
                i += 1;
                Tok::RBracket
            }
            '{' => {
                i += 1;
                Tok::LBrace
            }
            '}' => {
                i += 1;
                Tok::RBrace
            }
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '+' => {
                i += 1;
                Tok::Plus
            }
            '%' => {
                i += 1;
                Tok::Modulo
            }
            '/' => {
                if chars.get(i + 1) == Some(&'/') {
                    i += 2;
                    Tok::IntDivide
                } else {
                    i += 1;
                    Tok::Divide
                }
            }
            '[' => match chars.get(i + 1) {
                Some(']') => {
                    i += 2;
                    Tok::Flatten
                }
                Some('?') => {
                    i += 2;
                    Tok::Filter
                }
                _ => {
                    i += 1;
                    Tok::LBracket
                }
            },
            '|' => {
                if chars.get(i + 1) == Some(&'|') {
                    i += 2;
                    Tok::Or
                } else {
                    i += 1;
                    Tok::Pipe
                }
            }
            '&' => {
                if chars.get(i + 1) == Some(&'&') {
                    i += 2;
                    Tok::And
                } else {
                    i += 1;
                    Tok::Expref
                }
            }
            '!' => {
                if chars.get(i + 1) == Some(&'=') {
                    i += 2;
                    Tok::Cmp(Comparator::NotEqual)
                } else {
                    i += 1;
                    Tok::Not
                }
            }
            '=' => {
                if chars.get(i + 1) == Some(&'=') {
                    i += 2;
                    Tok::Cmp(Comparator::Equal)
                } else {
                    return Err(err(i, "`=` is not an operator (compare with `==`)".into()));
                }
            }
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                i += if eq { 2 } else { 1 };
                Tok::Cmp(match (c, eq) {
                    ('<', false) => Comparator::LessThan,
                    ('<', true) => Comparator::LessThanEqual,
                    ('>', false) => Comparator::GreaterThan,
                    _ => Comparator::GreaterThanEqual,
                })
            }
            '-' => {
                // A number only where JMESPath has numbers: in an index or a slice.
                let in_brackets = matches!(out.last(), Some((Tok::LBracket | Tok::Colon, _)));
                if in_brackets && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
                    i += 1;
                    let n = digits(&chars, &mut i);
                    Tok::Number(-n.parse::<i64>().map_err(|_| err(start, format!("number -{n} is too large")))?)
                } else {
                    i += 1;
                    Tok::Minus
                }
            }
            '0'..='9' => {
                let n = digits(&chars, &mut i);
                Tok::Number(n.parse::<i64>().map_err(|_| err(start, format!("number {n} is too large")))?)
            }
            '$' => {
                i += 1;
                if chars.get(i).is_some_and(|c| c.is_ascii_alphabetic() || *c == '_') {
                    let name = word(&chars, &mut i);
                    Tok::Var(name)
                } else {
                    Tok::Root
                }
            }
            'a'..='z' | 'A'..='Z' | '_' => Tok::Ident(word(&chars, &mut i)),
            '"' => {
                let body =
                    delimited(&chars, &mut i, '"').ok_or_else(|| err(start, "unclosed quoted identifier".into()))?;
                let s: String = serde_json::from_str(&format!("\"{body}\""))
                    .map_err(|e| err(start, format!("invalid quoted identifier: {e}")))?;
                Tok::Quoted(s)
            }
            '\'' => {
                let body = delimited(&chars, &mut i, '\'').ok_or_else(|| err(start, "unclosed raw string".into()))?;
                Tok::Raw(body.replace("\\'", "'"))
            }
            '`' => {
                let body = delimited(&chars, &mut i, '`').ok_or_else(|| err(start, "unclosed literal".into()))?;
                let json = body.replace("\\`", "`");
                let v: Value = serde_json::from_str(json.trim())
                    .map_err(|e| err(start, format!("invalid JSON literal `{json}`: {e}")))?;
                Tok::Literal(v)
            }
            other => return Err(err(i, format!("unexpected character `{other}`"))),
        };
        out.push((tok, start));
    }
    out.push((Tok::Eof, chars.len()));
    Ok(out)
}

fn digits(chars: &[char], i: &mut usize) -> String {
    let start = *i;
    while *i < chars.len() && chars[*i].is_ascii_digit() {
        *i += 1;
    }
    chars[start..*i].iter().collect()
}

fn word(chars: &[char], i: &mut usize) -> String {
    let start = *i;
    while *i < chars.len() && (chars[*i].is_ascii_alphanumeric() || chars[*i] == '_') {
        *i += 1;
    }
    chars[start..*i].iter().collect()
}

/// The text up to the closing `delim` (a backslash escapes the next character),
/// leaving `i` after it.
fn delimited(chars: &[char], i: &mut usize, delim: char) -> Option<String> {
    let mut j = *i + 1;
    let mut out = String::new();
    while j < chars.len() {
        let c = chars[j];
        if c == '\\' && j + 1 < chars.len() {
            out.push(c);
            out.push(chars[j + 1]);
            j += 2;
            continue;
        }
        if c == delim {
            *i = j + 1;
            return Some(out);
        }
        out.push(c);
        j += 1;
    }
    None
}

/// How deeply expressions may nest: far beyond real use, far from the stack's end.
const MAX_DEPTH: usize = 128;

/// Arithmetic operators become calls of these functions (see functions.rs).
pub const ADD: &str = "__add";
pub const SUBTRACT: &str = "__subtract";
pub const MULTIPLY: &str = "__multiply";
pub const DIVIDE: &str = "__divide";
pub const INT_DIVIDE: &str = "__int_divide";
pub const MODULO: &str = "__modulo";
pub const NEGATE: &str = "__negate";
/// Multi-select lists and hashes (key, value, key, value…) become calls too.
pub const LIST: &str = "__list";
pub const HASH: &str = "__hash";

struct Parser<'a> {
    expr: &'a str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
    /// `None` when only the syntax is checked.
    bindings: Option<&'a Bindings>,
    root: Rcvar,
}

impl<'a> Parser<'a> {
    fn new(expr: &'a str, bindings: Option<&'a Bindings>, root: &Rcvar) -> Result<Parser<'a>, String> {
        Ok(Parser { expr, toks: lex(expr)?, pos: 0, depth: 0, bindings, root: root.clone() })
    }

    fn parse_all(&mut self) -> Result<Ast, String> {
        if self.expr.trim().is_empty() {
            return Err("empty expression".into());
        }
        let ast = self.expression(0)?;
        if self.peek() != &Tok::Eof {
            return Err(self.unexpected());
        }
        Ok(ast)
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].0
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].0
    }

    fn offset(&self) -> usize {
        self.toks[self.pos.min(self.toks.len() - 1)].1
    }

    fn advance(&mut self) -> Tok {
        let t = self.peek().clone();
        // Past the end `peek` keeps answering Eof, and a step back returns to it.
        self.pos = (self.pos + 1).min(self.toks.len());
        t
    }

    fn unexpected(&self) -> String {
        format!(
            "invalid expression `{}`: unexpected {} at column {}",
            self.expr,
            self.peek().describe(),
            self.offset() + 1
        )
    }

    fn expect(&mut self, t: Tok) -> Result<(), String> {
        if self.peek() == &t {
            self.advance();
            Ok(())
        } else {
            Err(format!(
                "invalid expression `{}`: expected `{}` but found {} at column {}",
                self.expr,
                symbol(&t),
                self.peek().describe(),
                self.offset() + 1
            ))
        }
    }

    fn expression(&mut self, rbp: u8) -> Result<Ast, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("invalid expression `{}`: nested more than {MAX_DEPTH} levels deep", self.expr));
        }
        let offset = self.offset();
        let tok = self.advance();
        let mut left = self.nud(tok, offset)?;
        while rbp < self.peek().bp() {
            let offset = self.offset();
            let tok = self.advance();
            left = self.led(tok, left, offset)?;
        }
        self.depth -= 1;
        Ok(left)
    }

    fn nud(&mut self, tok: Tok, offset: usize) -> Result<Ast, String> {
        Ok(match tok {
            Tok::Literal(v) => Ast::Literal { offset, value: to_var(&v) },
            Tok::Raw(s) => Ast::Literal { offset, value: Rcvar::new(Variable::String(s)) },
            Tok::Ident(name) => Ast::Field { offset, name },
            Tok::Quoted(name) => {
                if self.peek() == &Tok::LParen {
                    return Err(format!(
                        "invalid expression `{}`: a quoted identifier cannot name a function (column {})",
                        self.expr,
                        offset + 1
                    ));
                }
                Ast::Field { offset, name }
            }
            Tok::At => Ast::Identity { offset },
            Tok::Root => Ast::Literal { offset, value: self.root.clone() },
            Tok::Var(name) => match self.bindings {
                None => Ast::Literal { offset, value: Rcvar::new(Variable::Null) },
                Some(b) => match b.get_var(&name) {
                    Some(value) => Ast::Literal { offset, value },
                    None => return Err(format!("variable not defined: ${name}")),
                },
            },
            Tok::Star => {
                let rhs = if self.peek() == &Tok::RBracket {
                    Ast::Identity { offset }
                } else {
                    self.projection_rhs(Tok::Star.bp())?
                };
                Ast::Projection {
                    offset,
                    lhs: Box::new(Ast::ObjectValues { offset, node: Box::new(Ast::Identity { offset }) }),
                    rhs: Box::new(rhs),
                }
            }
            Tok::Filter => self.filter(Ast::Identity { offset }, offset)?,
            Tok::Flatten => {
                let rhs = self.projection_rhs(Tok::Flatten.bp())?;
                Ast::Projection {
                    offset,
                    lhs: Box::new(Ast::Flatten { offset, node: Box::new(Ast::Identity { offset }) }),
                    rhs: Box::new(rhs),
                }
            }
            Tok::LBracket => match (self.peek(), self.peek_at(1)) {
                (Tok::Number(_) | Tok::Colon, _) => {
                    let index = self.index_expression()?;
                    self.project_if_slice(Ast::Identity { offset }, index, offset)?
                }
                (Tok::Star, Tok::RBracket) => {
                    self.advance();
                    self.advance();
                    let rhs = self.projection_rhs(Tok::Star.bp())?;
                    Ast::Projection { offset, lhs: Box::new(Ast::Identity { offset }), rhs: Box::new(rhs) }
                }
                _ => self.multi_select_list(offset)?,
            },
            Tok::LBrace => self.multi_select_hash(offset)?,
            Tok::Not => Ast::Not { offset, node: Box::new(self.expression(Tok::Not.bp())?) },
            Tok::Expref => Ast::Expref { offset, ast: Box::new(self.expression(0)?) },
            Tok::LParen => {
                let inner = self.expression(0)?;
                self.expect(Tok::RParen)?;
                inner
            }
            Tok::Minus => call(NEGATE, vec![self.expression(Tok::Not.bp())?], offset),
            Tok::Plus => self.expression(Tok::Not.bp())?,
            _ => {
                self.pos = self.pos.saturating_sub(1);
                return Err(self.unexpected());
            }
        })
    }

    fn led(&mut self, tok: Tok, left: Ast, offset: usize) -> Result<Ast, String> {
        Ok(match tok {
            Tok::Dot => {
                if self.peek() == &Tok::Star {
                    self.advance();
                    let rhs = self.projection_rhs(Tok::Dot.bp())?;
                    Ast::Projection {
                        offset,
                        lhs: Box::new(Ast::ObjectValues { offset, node: Box::new(left) }),
                        rhs: Box::new(rhs),
                    }
                } else {
                    let rhs = self.dot_rhs(Tok::Dot.bp())?;
                    Ast::Subexpr { offset, lhs: Box::new(left), rhs: Box::new(rhs) }
                }
            }
            Tok::Pipe => {
                let rhs = self.expression(Tok::Pipe.bp())?;
                Ast::Subexpr { offset, lhs: Box::new(left), rhs: Box::new(rhs) }
            }
            Tok::Or => Ast::Or { offset, lhs: Box::new(left), rhs: Box::new(self.expression(Tok::Or.bp())?) },
            Tok::And => Ast::And { offset, lhs: Box::new(left), rhs: Box::new(self.expression(Tok::And.bp())?) },
            Tok::Cmp(comparator) => {
                let rhs = self.expression(5)?;
                Ast::Comparison { offset, comparator, lhs: Box::new(left), rhs: Box::new(rhs) }
            }
            Tok::Plus => call(ADD, vec![left, self.expression(6)?], offset),
            Tok::Minus => call(SUBTRACT, vec![left, self.expression(6)?], offset),
            Tok::Star => call(MULTIPLY, vec![left, self.expression(7)?], offset),
            Tok::Divide => call(DIVIDE, vec![left, self.expression(7)?], offset),
            Tok::IntDivide => call(INT_DIVIDE, vec![left, self.expression(7)?], offset),
            Tok::Modulo => call(MODULO, vec![left, self.expression(7)?], offset),
            Tok::Flatten => {
                let rhs = self.projection_rhs(Tok::Flatten.bp())?;
                Ast::Projection {
                    offset,
                    lhs: Box::new(Ast::Flatten { offset, node: Box::new(left) }),
                    rhs: Box::new(rhs),
                }
            }
            Tok::Filter => self.filter(left, offset)?,
            Tok::LBracket => match self.peek() {
                Tok::Number(_) | Tok::Colon => {
                    let index = self.index_expression()?;
                    self.project_if_slice(left, index, offset)?
                }
                _ => {
                    self.expect(Tok::Star)?;
                    self.expect(Tok::RBracket)?;
                    let rhs = self.projection_rhs(Tok::Star.bp())?;
                    Ast::Projection { offset, lhs: Box::new(left), rhs: Box::new(rhs) }
                }
            },
            Tok::LParen => {
                let name = match left {
                    Ast::Field { name, .. } => name,
                    _ => {
                        return Err(format!(
                            "invalid expression `{}`: only a name can be called as a function (column {})",
                            self.expr,
                            offset + 1
                        ))
                    }
                };
                let mut args = Vec::new();
                while self.peek() != &Tok::RParen {
                    args.push(self.expression(0)?);
                    if self.peek() == &Tok::Comma {
                        self.advance();
                        if self.peek() == &Tok::RParen {
                            return Err(self.unexpected());
                        }
                    } else if self.peek() != &Tok::RParen {
                        return Err(self.unexpected());
                    }
                }
                self.advance();
                Ast::Function { offset, name, args }
            }
            _ => {
                self.pos = self.pos.saturating_sub(1);
                return Err(self.unexpected());
            }
        })
    }

    fn filter(&mut self, left: Ast, offset: usize) -> Result<Ast, String> {
        let predicate = self.expression(0)?;
        self.expect(Tok::RBracket)?;
        let then = if self.peek() == &Tok::Flatten {
            Ast::Identity { offset }
        } else {
            self.projection_rhs(Tok::Filter.bp())?
        };
        Ok(Ast::Projection {
            offset,
            lhs: Box::new(left),
            rhs: Box::new(Ast::Condition { offset, predicate: Box::new(predicate), then: Box::new(then) }),
        })
    }

    /// What follows a projection: nothing (identity) below the projection
    /// stop, else an index, a filter or a dotted expression.
    fn projection_rhs(&mut self, bp: u8) -> Result<Ast, String> {
        let offset = self.offset();
        if self.peek().bp() < 10 {
            return Ok(Ast::Identity { offset });
        }
        match self.peek() {
            Tok::LBracket | Tok::Filter => self.expression(bp),
            Tok::Dot => {
                self.advance();
                self.dot_rhs(bp)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn dot_rhs(&mut self, bp: u8) -> Result<Ast, String> {
        let offset = self.offset();
        match self.peek() {
            Tok::Ident(_) | Tok::Quoted(_) | Tok::Star => self.expression(bp),
            Tok::LBracket => {
                self.advance();
                self.multi_select_list(offset)
            }
            Tok::LBrace => {
                self.advance();
                self.multi_select_hash(offset)
            }
            _ => Err(self.unexpected()),
        }
    }

    /// `[n]` or a slice `[a:b:c]`, after the `[`.
    fn index_expression(&mut self) -> Result<Ast, String> {
        let offset = self.offset();
        if self.peek() == &Tok::Colon || self.peek_at(1) == &Tok::Colon {
            let mut parts: [Option<i64>; 3] = [None, None, None];
            let mut i = 0;
            loop {
                match self.peek().clone() {
                    Tok::Number(n) => {
                        parts[i] = Some(n);
                        self.advance();
                    }
                    Tok::Colon => {
                        i += 1;
                        if i > 2 {
                            return Err(self.unexpected());
                        }
                        self.advance();
                    }
                    Tok::RBracket => break,
                    _ => return Err(self.unexpected()),
                }
            }
            self.advance();
            let to_i32 = |n: Option<i64>| n.map(|n| n.clamp(i32::MIN as i64, i32::MAX as i64) as i32);
            let step = to_i32(parts[2]).unwrap_or(1);
            if step == 0 {
                return Err(format!("invalid expression `{}`: a slice step cannot be 0", self.expr));
            }
            Ok(Ast::Slice { offset, start: to_i32(parts[0]), stop: to_i32(parts[1]), step })
        } else {
            let n = match self.advance() {
                Tok::Number(n) => n,
                _ => return Err(self.unexpected()),
            };
            self.expect(Tok::RBracket)?;
            let idx =
                i32::try_from(n).map_err(|_| format!("invalid expression `{}`: index {n} is too large", self.expr))?;
            Ok(Ast::Index { offset, idx })
        }
    }

    fn project_if_slice(&mut self, left: Ast, index: Ast, offset: usize) -> Result<Ast, String> {
        let is_slice = matches!(index, Ast::Slice { .. });
        let indexed = Ast::Subexpr { offset, lhs: Box::new(left), rhs: Box::new(index) };
        if is_slice {
            let rhs = self.projection_rhs(Tok::Star.bp())?;
            Ok(Ast::Projection { offset, lhs: Box::new(indexed), rhs: Box::new(rhs) })
        } else {
            Ok(indexed)
        }
    }

    fn multi_select_list(&mut self, offset: usize) -> Result<Ast, String> {
        let mut elements = Vec::new();
        loop {
            elements.push(self.expression(0)?);
            match self.advance() {
                Tok::Comma => continue,
                Tok::RBracket => break,
                _ => {
                    self.pos = self.pos.saturating_sub(1);
                    return Err(self.unexpected());
                }
            }
        }
        // JMESPath Community evaluates a multi-select on null too (chainsaw's
        // `join('-', [$namespace, 'x'])` in a binding has no current node),
        // where the crate's interpreter gives null: a function call evaluates
        // its arguments on any node.
        Ok(call(LIST, elements, offset))
    }

    fn multi_select_hash(&mut self, offset: usize) -> Result<Ast, String> {
        let mut elements = Vec::new();
        loop {
            let key = match self.advance() {
                Tok::Ident(k) | Tok::Quoted(k) => k,
                _ => {
                    self.pos = self.pos.saturating_sub(1);
                    return Err(self.unexpected());
                }
            };
            self.expect(Tok::Colon)?;
            let value = self.expression(0)?;
            elements.push(Ast::Literal { offset, value: Rcvar::new(Variable::String(key)) });
            elements.push(value);
            match self.advance() {
                Tok::Comma => continue,
                Tok::RBrace => break,
                _ => {
                    self.pos = self.pos.saturating_sub(1);
                    return Err(self.unexpected());
                }
            }
        }
        Ok(call(HASH, elements, offset))
    }
}

fn call(name: &str, args: Vec<Ast>, offset: usize) -> Ast {
    Ast::Function { offset, name: name.to_string(), args }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluates `input` (`expression` or `expression <- data`) and compares the JSON result or the error.
    fn check(input: &str, expect: &str) {
        let (expr, data) = match input.split_once(" <- ") {
            Some((e, d)) => (e, serde_json::from_str(d).unwrap()),
            None => (input, Value::Null),
        };
        let b = Bindings::new()
            .with("namespace", Value::String("chainsaw-x".into()))
            .with("index", serde_json::json!(1))
            .with("obj", serde_json::json!({"a": {"b": [1, 2]}}));
        let got = match eval(expr, &data, &b) {
            Ok(v) => v.to_string(),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "{input}");
    }

    #[test]
    fn core_jmespath() {
        check(r#"a.b <- {"a": {"b": 1}}"#, "1");
        check(r#"a[1] <- {"a": [1, 2, 3]}"#, "2");
        check(r#"a[-1] <- {"a": [1, 2, 3]}"#, "3");
        check(r#"a[1:] <- {"a": [1, 2, 3]}"#, "[2,3]");
        check(r#"a[::-1] <- {"a": [1, 2, 3]}"#, "[3,2,1]");
        check(r#"a[*].n <- {"a": [{"n": 1}, {"n": 2}]}"#, "[1,2]");
        check(r#"a[?n > `1`].n <- {"a": [{"n": 1}, {"n": 2}]}"#, "[2]");
        check(r#"a[?name == 'x'] | [0].v <- {"a": [{"name": "x", "v": 7}]}"#, "7");
        check(r#"a.* <- {"a": {"x": 1, "y": 2}}"#, "[1,2]");
        check(r#"a[] <- {"a": [[1], [2, 3]]}"#, "[1,2,3]");
        check(r#"{x: a, y: b} <- {"a": 1, "b": 2}"#, r#"{"x":1,"y":2}"#);
        check(r#"[a, b] <- {"a": 1, "b": 2}"#, "[1,2]");
        check(r#"length(containers) <- {"containers": [1, 2]}"#, "2");
        check(r#"a || b <- {"b": 2}"#, "2");
        check(r#"!a <- {"a": false}"#, "true");
        check(r#"sort_by(a, &n)[0].n <- {"a": [{"n": 2}, {"n": 1}]}"#, "1");
        check(r#""with space" <- {"with space": 1}"#, "1");
        check("'it\\'s'", r#""it's""#);
        check("`\"a\\`b\"`", r#""a`b""#);
        check("@ <- 5", "5");
    }

    #[test]
    fn community_additions() {
        check("$namespace", r#""chainsaw-x""#);
        check("$index + `1`", "2");
        check("$obj.a.b[1]", "2");
        check("$.a <- {\"a\": 3}", "3");
        check("`7` - `2` * `3`", "1");
        check("`7` / `2`", "3.5");
        check("`7` // `2`", "3");
        check("`7` % `4`", "3");
        check("-$index", "-1");
        check("(`1` + `2`) * `2`", "6");
        check("join('-', ['nginx', to_string($index + `1`)])", r#""nginx-2""#);
        check("a + `1` < `3` <- {\"a\": 1}", "true");
    }

    #[test]
    fn errors() {
        check("$nope", "error: variable not defined: $nope");
        check("foo(", "error: invalid expression `foo(`: unexpected end of the expression at column 5");
        check("a.", "error: invalid expression `a.`: unexpected end of the expression at column 3");
        check("[a, b", "error: invalid expression `[a, b`: unexpected end of the expression at column 6");
        check("{a: b", "error: invalid expression `{a: b`: unexpected end of the expression at column 6");
        check("a)", "error: invalid expression `a)`: unexpected `)` at column 2");
        check("a = b", "error: invalid expression `a = b`: `=` is not an operator (compare with `==`) at column 3");
        check("'abc", "error: invalid expression `'abc`: unclosed raw string at column 1");
        check("`{bad`", "error: invalid expression ``{bad``: invalid JSON literal `{bad`: key must be a string at line 1 column 2 at column 1");
        check("nope(a)", "error: Call to undefined function nope");
        check("a[0:1:0]", "error: invalid expression `a[0:1:0]`: a slice step cannot be 0");
        check("`\"a\"` + `1`", "error: invalid type for +: expected numbers, found string and number");
        check(
            &"(".repeat(500),
            &format!("error: invalid expression `{}`: nested more than 128 levels deep", "(".repeat(500)),
        );
    }

    #[test]
    fn keys() {
        let k = Key::parse("~index.(containers)");
        assert_eq!(
            (k.foreach, k.foreach_name.as_deref(), k.compiler.as_deref(), k.statement.as_str()),
            (true, Some("index"), Some(""), "containers")
        );
        let k = Key::parse("(spec)->specBinding");
        assert_eq!((k.binding.as_deref(), k.statement.as_str()), (Some("specBinding"), "spec"));
        let k = Key::parse("~.(env)");
        assert_eq!((k.foreach, k.foreach_name, k.statement.as_str()), (true, None, "env"));
        let k = Key::parse("\\(not an expression)\\");
        assert_eq!((k.compiler, k.statement.as_str()), (None, "(not an expression)"));
        let k = Key::parse("(cel; object.x)");
        assert_eq!((k.compiler.as_deref(), k.statement.as_str()), (Some("cel"), " object.x"));
        let k = Key::parse("name");
        assert_eq!((k.compiler, k.statement.as_str()), (None, "name"));
        let k = Key::parse("()");
        assert_eq!((k.compiler, k.statement.as_str()), (None, "()"));
    }
}
