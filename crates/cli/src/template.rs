//! A subset of Go's `text/template`, enough for the `--format` / `-f` templates users type
//! with the docker CLI: text and `{{ }}` actions (with `{{-`/`-}}` trimming and comments),
//! fields (`.A.B`, `$`, `$x.A`), literals, pipelines with `|`, variables (`$x := ...`),
//! `if`/`else`/`with`/`range` (with `$i, $e :=`) blocks, and the functions docker
//! templates use most: `json`, `index`, `len`, `join`, `split`, `upper`, `lower`, `title`,
//! `print`, `printf`, `println`, `eq`, `ne`, `not`, `and`, `or`.
//!
//! Data is JSON. Values print as Go prints decoded JSON: arrays as `[a b]`, objects as
//! `map[k:v]` with sorted keys, null as `<nil>`; `json` writes compact JSON with Go's
//! HTML escapes.

use serde_json::Value;

use crate::format::go_quote;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Str(String),
    Num(String),
    Ident(String),
    Pipe,
    LParen,
    RParen,
    Declare,
    Comma,
}

#[derive(Debug, Clone)]
enum Operand {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Lit(Value),
    Func(String),
    Sub(Pipeline),
}

#[derive(Debug, Clone)]
struct Pipeline {
    /// Variables declared by `$x :=` (or `$i, $e :=` in range).
    decl: Vec<String>,
    cmds: Vec<Vec<Operand>>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipeline),
    If(Pipeline, Vec<Node>, Vec<Node>),
    With(Pipeline, Vec<Node>, Vec<Node>),
    Range(Pipeline, Vec<Node>, Vec<Node>),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let read_path = |i: &mut usize| -> Vec<String> {
        let mut path = Vec::new();
        while *i < chars.len() && chars[*i] == '.' {
            let start = *i + 1;
            let mut j = start;
            while j < chars.len() && ident(chars[j]) {
                j += 1;
            }
            if j == start {
                break;
            }
            path.push(chars[start..j].iter().collect());
            *i = j;
        }
        path
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                toks.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            '=' => {
                // Go's assignment to an existing variable: treat like a declaration.
                toks.push(Tok::Declare);
                i += 1;
            }
            '.' => {
                if chars.get(i + 1).map(|c| ident(*c)).unwrap_or(false) {
                    toks.push(Tok::Field(read_path(&mut i)));
                } else {
                    toks.push(Tok::Dot);
                    i += 1;
                }
            }
            '$' => {
                let start = i;
                i += 1;
                while i < chars.len() && ident(chars[i]) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                let path = read_path(&mut i);
                toks.push(Tok::Var(name, path));
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err("unterminated quoted string".into());
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            let e = chars.get(i).copied().unwrap_or('\\');
                            i += 1;
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                other => other,
                            });
                        }
                        c => s.push(c),
                    }
                }
                toks.push(Tok::Str(s));
            }
            '`' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|c| *c == '`')
                    .ok_or("unterminated raw quoted string")?;
                toks.push(Tok::Str(chars[start..start + end].iter().collect()));
                i = start + end + 1;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                toks.push(Tok::Num(chars[start..i].iter().collect()));
            }
            c if ident(c) => {
                let start = i;
                while i < chars.len() && ident(chars[i]) {
                    i += 1;
                }
                toks.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected {other:?} in command")),
        }
    }
    Ok(toks)
}

struct PipeParser {
    toks: Vec<Tok>,
    pos: usize,
}

impl PipeParser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn pipeline(&mut self, allow_decl: bool) -> Result<Pipeline, String> {
        let mut decl = Vec::new();
        if allow_decl {
            // `$x :=` or `$i, $e :=`
            let save = self.pos;
            let mut names = Vec::new();
            while let Some(Tok::Var(name, path)) = self.peek().cloned() {
                if !path.is_empty() {
                    break;
                }
                names.push(name);
                self.pos += 1;
                if self.peek() == Some(&Tok::Comma) {
                    self.pos += 1;
                } else {
                    break;
                }
            }
            if !names.is_empty() && self.peek() == Some(&Tok::Declare) {
                self.pos += 1;
                decl = names;
            } else {
                self.pos = save;
            }
        }
        let mut cmds = Vec::new();
        loop {
            let mut cmd = Vec::new();
            while let Some(t) = self.peek().cloned() {
                match t {
                    Tok::Pipe | Tok::RParen => break,
                    _ => {
                        self.pos += 1;
                        cmd.push(self.operand(t)?);
                    }
                }
            }
            if cmd.is_empty() {
                return Err("missing value for command".into());
            }
            cmds.push(cmd);
            if self.peek() == Some(&Tok::Pipe) {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(Pipeline { decl, cmds })
    }

    fn operand(&mut self, t: Tok) -> Result<Operand, String> {
        Ok(match t {
            Tok::Dot => Operand::Dot,
            Tok::Field(p) => Operand::Field(p),
            Tok::Var(n, p) => Operand::Var(n, p),
            Tok::Str(s) => Operand::Lit(Value::String(s)),
            Tok::Num(n) => Operand::Lit(
                n.parse::<i64>()
                    .map(Value::from)
                    .or_else(|_| n.parse::<f64>().map(Value::from))
                    .map_err(|_| format!("bad number syntax: {n:?}"))?,
            ),
            Tok::Ident(i) => match i.as_str() {
                "true" => Operand::Lit(Value::Bool(true)),
                "false" => Operand::Lit(Value::Bool(false)),
                "nil" => Operand::Lit(Value::Null),
                _ => Operand::Func(i),
            },
            Tok::LParen => {
                let p = self.pipeline(false)?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err("unclosed left paren".into());
                }
                self.pos += 1;
                Operand::Sub(p)
            }
            other => return Err(format!("unexpected {other:?} in operand")),
        })
    }
}

fn parse_pipeline(src: &str, allow_decl: bool) -> Result<Pipeline, String> {
    let mut p = PipeParser {
        toks: lex(src)?,
        pos: 0,
    };
    let pipe = p.pipeline(allow_decl)?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected {:?} in command", p.toks[p.pos]));
    }
    Ok(pipe)
}

/// One piece of the source: text, or the inside of an action.
enum Piece {
    Text(String),
    Action(String),
}

fn split(src: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let mut text = &rest[..open];
        if trim_next {
            text = text.trim_start();
        }
        let mut inner = &rest[open + 2..];
        if inner.starts_with("- ") || inner.starts_with("-\t") || inner.starts_with("-\n") {
            text = text.trim_end();
            inner = &inner[1..];
        }
        pieces.push(Piece::Text(text.to_string()));
        let close = inner.find("}}").ok_or("unclosed action")?;
        let mut body = &inner[..close];
        trim_next = false;
        if body.ends_with(" -") || body.ends_with("\t-") || body.ends_with("\n-") {
            body = &body[..body.len() - 1];
            trim_next = true;
        }
        pieces.push(Piece::Action(body.trim().to_string()));
        rest = &inner[close + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    pieces.push(Piece::Text(text.to_string()));
    Ok(pieces)
}

/// Parses nodes until `{{end}}` or `{{else}}` (returned as the terminator) or the end.
fn parse_nodes(
    pieces: &mut std::iter::Peekable<std::vec::IntoIter<Piece>>,
) -> Result<(Vec<Node>, Option<String>), String> {
    let mut nodes = Vec::new();
    while let Some(p) = pieces.next() {
        let body = match p {
            Piece::Text(t) => {
                if !t.is_empty() {
                    nodes.push(Node::Text(t));
                }
                continue;
            }
            Piece::Action(b) => b,
        };
        if body.starts_with("/*") {
            continue;
        }
        let (word, rest) = body
            .split_once(|c: char| c.is_whitespace())
            .unwrap_or((body.as_str(), ""));
        match word {
            "end" => return Ok((nodes, Some("end".into()))),
            "else" => return Ok((nodes, Some(format!("else {rest}").trim().to_string()))),
            "if" | "with" | "range" => {
                let pipe = parse_pipeline(rest, word != "if")?;
                let (then, term) = parse_nodes(pieces)?;
                let otherwise = match term.as_deref() {
                    Some("end") => Vec::new(),
                    Some("else") => {
                        let (e, t) = parse_nodes(pieces)?;
                        if t.as_deref() != Some("end") {
                            return Err(format!("unexpected EOF in {word}"));
                        }
                        e
                    }
                    // `{{else if ...}}`: a nested if that shares our {{end}}.
                    Some(t) if t.starts_with("else if ") && word == "if" => {
                        let cond = parse_pipeline(&t["else if ".len()..], false)?;
                        let (e_then, t2) = parse_nodes(pieces)?;
                        let e_else = match t2.as_deref() {
                            Some("end") => Vec::new(),
                            Some("else") => {
                                let (e, t3) = parse_nodes(pieces)?;
                                if t3.as_deref() != Some("end") {
                                    return Err("unexpected EOF in if".into());
                                }
                                e
                            }
                            _ => return Err("unsupported else chain".into()),
                        };
                        vec![Node::If(cond, e_then, e_else)]
                    }
                    _ => return Err(format!("unexpected EOF in {word}")),
                };
                nodes.push(match word {
                    "if" => Node::If(pipe, then, otherwise),
                    "with" => Node::With(pipe, then, otherwise),
                    _ => Node::Range(pipe, then, otherwise),
                });
            }
            "define" | "template" | "block" | "break" | "continue" => {
                return Err(format!("{word} is not supported"))
            }
            _ => nodes.push(Node::Action(parse_pipeline(&body, true)?)),
        }
    }
    Ok((nodes, None))
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, String> {
        let mut pieces = split(src)?.into_iter().peekable();
        let (nodes, term) = parse_nodes(&mut pieces)?;
        match term {
            None => Ok(Template { nodes }),
            Some(t) => Err(format!("unexpected {{{{{t}}}}}")),
        }
    }

    /// Executes the template on `data`.
    pub fn execute(&self, data: &Value) -> Result<String, String> {
        let mut ex = Exec {
            root: data.clone(),
            vars: vec![("$".into(), data.clone())],
        };
        let mut out = String::new();
        ex.nodes(&self.nodes, data, &mut out)?;
        Ok(out)
    }
}

struct Exec {
    root: Value,
    vars: Vec<(String, Value)>,
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().map(|f| f != 0.0).unwrap_or(false),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Go's `%v` of a decoded JSON value.
pub fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_print).collect::<Vec<_>>().join(" ")),
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_print(&o[k.as_str()])))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

/// Go's `json.Marshal` of a decoded value (compact, `<`, `>`, `&` escaped).
pub fn go_json(v: &Value) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|_| "null".into())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn field(mut v: Value, path: &[String], shown: &str) -> Result<Value, String> {
    for k in path {
        v = match v {
            Value::Object(mut o) => match o.remove(k) {
                Some(x) => x,
                None => {
                    return Err(format!(
                        "executing at <{shown}>: map has no entry for key \"{k}\""
                    ))
                }
            },
            Value::Null => {
                return Err(format!(
                    "executing at <{shown}>: nil pointer evaluating interface {{}}.{k}"
                ))
            }
            other => {
                return Err(format!(
                    "executing at <{shown}>: can't evaluate field {k} in type {}",
                    type_name(&other)
                ))
            }
        };
    }
    Ok(v)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "interface {}",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn as_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => go_print(other),
    }
}

fn printf(args: &[Value]) -> Result<String, String> {
    let fmt = args.first().map(as_str).ok_or("printf: missing format")?;
    let mut rest = args[1..].iter();
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(verb @ ('s' | 'v' | 'd' | 'q' | 't')) => {
                let Some(a) = rest.next() else {
                    out.push_str(&format!("%!{verb}(MISSING)"));
                    continue;
                };
                out.push_str(&match verb {
                    'q' => go_quote(&as_str(a)),
                    _ => go_print(a),
                });
            }
            Some(other) => return Err(format!("printf: verb %{other} is not supported")),
            None => out.push_str("%!(NOVERB)"),
        }
    }
    Ok(out)
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    out
}

impl Exec {
    fn lookup(&self, name: &str) -> Result<Value, String> {
        if name == "$" {
            return Ok(self.root.clone());
        }
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("undefined variable: {name}"))
    }

    fn operand(&mut self, o: &Operand, dot: &Value) -> Result<Value, String> {
        match o {
            Operand::Dot => Ok(dot.clone()),
            Operand::Field(p) => field(dot.clone(), p, &format!(".{}", p.join("."))),
            Operand::Var(n, p) => {
                let v = self.lookup(n)?;
                let shown = std::iter::once(n.clone())
                    .chain(p.iter().cloned())
                    .collect::<Vec<_>>()
                    .join(".");
                field(v, p, &shown)
            }
            Operand::Lit(v) => Ok(v.clone()),
            Operand::Sub(p) => self.pipeline(p, dot),
            Operand::Func(f) => self.call(f, &[]),
        }
    }

    fn call(&mut self, f: &str, args: &[Value]) -> Result<Value, String> {
        let arg = |i: usize| -> Result<&Value, String> {
            args.get(i)
                .ok_or_else(|| format!("wrong number of args for {f}"))
        };
        Ok(match f {
            "json" => Value::String(go_json(arg(0)?)),
            "len" => Value::from(match arg(0)? {
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                Value::String(s) => s.len(),
                other => return Err(format!("len of {}", type_name(other))),
            }),
            "index" => {
                let mut v = arg(0)?.clone();
                for k in &args[1..] {
                    v = match (&v, k) {
                        (Value::Array(a), Value::Number(n)) => {
                            let i = n.as_u64().ok_or("index out of range")? as usize;
                            a.get(i)
                                .cloned()
                                .ok_or_else(|| format!("index out of range: {i}"))?
                        }
                        (Value::Object(o), Value::String(s)) => {
                            o.get(s).cloned().unwrap_or(Value::String(String::new()))
                        }
                        (Value::Null, _) => Value::String(String::new()),
                        _ => return Err(format!("can't index item of type {}", type_name(&v))),
                    };
                }
                v
            }
            "join" => {
                let sep = as_str(arg(1)?);
                match arg(0)? {
                    Value::Array(a) => {
                        Value::String(a.iter().map(as_str).collect::<Vec<_>>().join(&sep))
                    }
                    Value::Null => Value::String(String::new()),
                    other => Value::String(as_str(other)),
                }
            }
            "split" => Value::Array(
                as_str(arg(0)?)
                    .split(as_str(arg(1)?).as_str())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            ),
            "upper" => Value::String(as_str(arg(0)?).to_uppercase()),
            "lower" => Value::String(as_str(arg(0)?).to_lowercase()),
            "title" => Value::String(title(&as_str(arg(0)?))),
            "print" => Value::String(args.iter().map(as_str).collect()),
            "println" => Value::String(format!(
                "{}\n",
                args.iter().map(as_str).collect::<Vec<_>>().join(" ")
            )),
            "printf" => Value::String(printf(args)?),
            "not" => Value::Bool(!truthy(arg(0)?)),
            "and" => args
                .iter()
                .find(|a| !truthy(a))
                .or(args.last())
                .cloned()
                .unwrap_or(Value::Null),
            "or" => args
                .iter()
                .find(|a| truthy(a))
                .or(args.last())
                .cloned()
                .unwrap_or(Value::Null),
            "eq" => {
                let first = arg(0)?;
                arg(1)?;
                Value::Bool(args[1..].iter().any(|a| a == first))
            }
            "ne" => Value::Bool(arg(0)? != arg(1)?),
            other => return Err(format!("function \"{other}\" not defined")),
        })
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Value) -> Result<Value, String> {
        let mut last: Option<Value> = None;
        for cmd in &p.cmds {
            let value = match &cmd[0] {
                Operand::Func(f) => {
                    let mut args = Vec::new();
                    for o in &cmd[1..] {
                        args.push(self.operand(o, dot)?);
                    }
                    if let Some(prev) = last.take() {
                        args.push(prev);
                    }
                    self.call(f, &args)?
                }
                single => {
                    if cmd.len() > 1 {
                        return Err("can't give argument to non-function".into());
                    }
                    if last.is_some() {
                        return Err("can't give argument to non-function".into());
                    }
                    self.operand(single, dot)?
                }
            };
            last = Some(value);
        }
        let v = last.unwrap_or(Value::Null);
        if let Some(name) = p.decl.last() {
            self.vars.push((name.clone(), v.clone()));
        }
        Ok(v)
    }

    fn nodes(&mut self, nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), String> {
        for n in nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipeline(p, dot)?;
                    if p.decl.is_empty() {
                        out.push_str(&as_str(&v));
                    }
                }
                Node::If(p, then, otherwise) => {
                    let mark = self.vars.len();
                    let v = self.pipeline(p, dot)?;
                    let branch = if truthy(&v) { then } else { otherwise };
                    self.nodes(branch, dot, out)?;
                    self.vars.truncate(mark);
                }
                Node::With(p, then, otherwise) => {
                    let mark = self.vars.len();
                    let v = self.pipeline(p, dot)?;
                    if truthy(&v) {
                        self.nodes(then, &v, out)?;
                    } else {
                        self.nodes(otherwise, dot, out)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Range(p, body, otherwise) => {
                    let mark = self.vars.len();
                    let mut decl = p.clone();
                    let names = std::mem::take(&mut decl.decl);
                    let v = self.pipeline(&decl, dot)?;
                    let items: Vec<(Value, Value)> = match v {
                        Value::Array(a) => a
                            .into_iter()
                            .enumerate()
                            .map(|(i, x)| (Value::from(i), x))
                            .collect(),
                        Value::Object(o) => {
                            let mut kv: Vec<(String, Value)> = o.into_iter().collect();
                            kv.sort_by(|a, b| a.0.cmp(&b.0));
                            kv.into_iter().map(|(k, x)| (Value::String(k), x)).collect()
                        }
                        Value::Null => Vec::new(),
                        Value::Number(n) => (0..n.as_u64().unwrap_or(0))
                            .map(|i| (Value::from(i), Value::from(i)))
                            .collect(),
                        other => {
                            return Err(format!("range can't iterate over {}", as_str(&other)))
                        }
                    };
                    if items.is_empty() {
                        self.nodes(otherwise, dot, out)?;
                    }
                    for (k, x) in items {
                        let inner = self.vars.len();
                        match names.as_slice() {
                            [] => {}
                            [e] => self.vars.push((e.clone(), x.clone())),
                            [i, e, ..] => {
                                self.vars.push((i.clone(), k));
                                self.vars.push((e.clone(), x.clone()));
                            }
                        }
                        self.nodes(body, &x, out)?;
                        self.vars.truncate(inner);
                    }
                    self.vars.truncate(mark);
                }
            }
        }
        Ok(())
    }
}

/// Parses and runs `src` on `data` in one go, with docker's error prefix.
pub fn render(src: &str, data: &Value) -> Result<String, String> {
    Template::parse(src)
        .and_then(|t| t.execute(data))
        .map_err(|e| format!("template parsing error: {e}"))
}

/// docker's `--format` for lists (`ps`, `images`): `table` (the default table, rendered by
/// the caller: None), `table TEMPLATE` (a header row from `header`, then tab-separated
/// columns aligned like tabwriter), `json` (a JSON object per row), or a plain template
/// (one line per row).
pub fn render_list(format: &str, rows: &[Value], header: &Value) -> Result<Option<String>, String> {
    let format = format.trim_end_matches('\n');
    if format.is_empty() || format == "table" {
        return Ok(None);
    }
    if format == "json" {
        return Ok(Some(
            rows.iter().map(|r| format!("{}\n", go_json(r))).collect(),
        ));
    }
    let (table, src) = match format.strip_prefix("table") {
        Some(rest) if rest.starts_with(char::is_whitespace) => (true, rest.trim_start()),
        _ => (false, format),
    };
    // docker turns the escapes users type in shells into the characters.
    let src = src.replace("\\t", "\t").replace("\\n", "\n");
    let t = Template::parse(&src).map_err(|e| format!("template parsing error: {e}"))?;
    let mut out = String::new();
    if table {
        out.push_str(
            &t.execute(header)
                .map_err(|e| format!("template parsing error: {e}"))?,
        );
        out.push('\n');
    }
    for r in rows {
        out.push_str(
            &t.execute(r)
                .map_err(|e| format!("template parsing error: {e}"))?,
        );
        out.push('\n');
    }
    if table {
        out = crate::format::Table::from_tab_lines(&out).render();
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> Value {
        json!({
            "Id": "abc",
            "Name": "/web",
            "State": {"Status": "running", "Running": true, "Pid": 26198, "Health": null},
            "Config": {"Cmd": ["sleep", "60"], "Env": ["A=1", "B=2"], "Labels": {"z": "1", "a": "x<y"},
                       "Entrypoint": null},
            "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "10.0.0.2"}}}
        })
    }

    fn r(t: &str) -> String {
        render(t, &data()).unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    #[test]
    fn fields_and_printing() {
        assert_eq!(r("{{.State.Status}}"), "running");
        assert_eq!(r("{{.Id}} {{.Name}}"), "abc /web");
        assert_eq!(r("{{.State.Running}}/{{.State.Pid}}"), "true/26198");
        assert_eq!(r("{{.Config.Cmd}}"), "[sleep 60]");
        assert_eq!(r("{{.Config.Labels}}"), "map[a:x<y z:1]");
        assert_eq!(r("{{.Config.Entrypoint}}"), "<nil>");
        assert_eq!(r("x{{.}}"), format!("x{}", go_print(&data())));
        assert_eq!(r("{{$.Id}}"), "abc");
    }

    #[test]
    fn json_like_go() {
        assert_eq!(r("{{json .Config.Cmd}}"), r#"["sleep","60"]"#);
        assert_eq!(r("{{json .Config.Labels}}"), r#"{"a":"x\u003cy","z":"1"}"#);
        assert_eq!(r("{{json .Config.Entrypoint}}"), "null");
        assert_eq!(r("{{.Config.Cmd | json}}"), r#"["sleep","60"]"#);
    }

    #[test]
    fn functions() {
        assert_eq!(r("{{len .Config.Env}}"), "2");
        assert_eq!(r("{{join .Config.Cmd \",\"}}"), "sleep,60");
        assert_eq!(r("{{index .Config.Cmd 1}}"), "60");
        assert_eq!(r("{{index .Config.Labels \"a\"}}"), "x<y");
        assert_eq!(r("{{index .Config.Labels \"nope\"}}"), "");
        assert_eq!(
            r("{{upper .Name}} {{lower \"AB\"}} {{title \"hello world\"}}"),
            "/WEB ab Hello World"
        );
        assert_eq!(
            r("{{printf \"%s=%q %d%%\" .Id .Name 5}}"),
            "abc=\"/web\" 5%"
        );
        assert_eq!(r("{{.Name | printf \"%q\"}}"), "\"/web\"");
        assert_eq!(r("{{println .Id}}"), "abc\n");
        assert_eq!(r("{{split \"a:b\" \":\"}}"), "[a b]");
        assert_eq!(
            r("{{eq .State.Status \"running\"}} {{ne 1 2}} {{not .State.Running}}"),
            "true true false"
        );
    }

    #[test]
    fn blocks() {
        assert_eq!(r("{{if .State.Running}}yes{{else}}no{{end}}"), "yes");
        assert_eq!(
            r("{{if .State.Health}}h{{else if .State.Running}}r{{else}}n{{end}}"),
            "r"
        );
        assert_eq!(r("{{range .Config.Env}}{{.}},{{end}}"), "A=1,B=2,");
        assert_eq!(
            r("{{range $i, $e := .Config.Cmd}}{{$i}}={{$e}} {{end}}"),
            "0=sleep 1=60 "
        );
        assert_eq!(r("{{range $k, $v := .Config.Labels}}{{$k}}{{end}}"), "az");
        assert_eq!(
            r("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"),
            "10.0.0.2"
        );
        assert_eq!(
            r("{{range .Config.Entrypoint}}x{{else}}empty{{end}}"),
            "empty"
        );
        assert_eq!(r("{{with .State}}{{.Status}}{{end}}"), "running");
        assert_eq!(r("{{$n := .Name}}{{$n}}"), "/web");
        assert_eq!(r("{{/* note */}}a"), "a");
    }

    #[test]
    fn lists() {
        let rows = vec![
            json!({"ID": "abc", "Names": "web"}),
            json!({"ID": "def", "Names": "db"}),
        ];
        let header = json!({"ID": "CONTAINER ID", "Names": "NAMES"});
        assert_eq!(render_list("table", &rows, &header), Ok(None));
        assert_eq!(render_list("", &rows, &header), Ok(None));
        assert_eq!(
            render_list("{{.Names}}", &rows, &header),
            Ok(Some("web\ndb\n".into()))
        );
        assert_eq!(
            render_list("table {{.ID}}\t{{.Names}}", &rows, &header),
            Ok(Some(
                "CONTAINER ID   NAMES\nabc            web\ndef            db\n".into()
            ))
        );
        assert_eq!(
            render_list("table {{.ID}}\\t{{.Names}}", &rows, &header),
            render_list("table {{.ID}}\t{{.Names}}", &rows, &header)
        );
        assert_eq!(
            render_list("json", &rows[..1], &header),
            Ok(Some("{\"ID\":\"abc\",\"Names\":\"web\"}\n".into()))
        );
        assert!(render_list("{{.Nope}}", &rows, &header).is_err());
    }

    #[test]
    fn trimming() {
        assert_eq!(r("a  {{- .Id -}}  b"), "aabcb");
        assert_eq!(r("{{range .Config.Env -}}\n  {{.}}\n{{- end}}"), "A=1B=2");
    }

    #[test]
    fn errors() {
        let e = render("{{.Nope}}", &data()).unwrap_err();
        assert_eq!(
            e,
            "template parsing error: executing at <.Nope>: map has no entry for key \"Nope\""
        );
        assert!(render("{{.State.Health.Status}}", &data())
            .unwrap_err()
            .contains("nil pointer"));
        assert!(render("{{.Config.Cmd", &data())
            .unwrap_err()
            .contains("unclosed action"));
        assert!(render("{{nosuchfn .Id}}", &data())
            .unwrap_err()
            .contains("not defined"));
        assert!(render("{{if .Id}}x", &data())
            .unwrap_err()
            .contains("unexpected EOF"));
        assert!(render("{{end}}", &data()).is_err());
        assert!(!render("{{.Id}}", &data()).unwrap().contains('\n'));
    }
}
