//! keepalived.conf as ec2-vip reads it (doctor, config-test): the syntax (words, `{ }` blocks, comments, quotes,
//! includes) and what it says about VRRP instances, sync groups, notify commands and scripts.

use std::fmt;

/// A syntax error; `file` is `None` for the main text, else the include pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub file: Option<String>,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{file}: line {}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

impl std::error::Error for ParseError {}

/// Returns the text of an included file, given the pattern as written; `None` if unreadable.
pub type Load<'a> = &'a mut dyn FnMut(&str) -> Option<String>;

pub const NOTIFY_KINDS: [&str; 5] =
    ["notify", "notify_master", "notify_backup", "notify_fault", "notify_stop"];
pub const INCLUDES: [&str; 6] = ["include", "includer", "includem", "includew", "includeb", "includea"];
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// A notify command of a vrrp_instance or vrrp_sync_group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notify {
    /// `notify`, `notify_master`, `notify_backup`, `notify_fault` or `notify_stop`.
    pub kind: &'static str,
    /// The command, quotes removed: `/usr/local/sbin/ec2-vip notify`.
    pub command: String,
    /// Words after the command on its line; keepalived reads them as username and groupname.
    pub extra: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instance {
    pub name: String,
    pub state: Option<String>,
    pub interface: Option<String>,
    pub virtual_router_id: Option<String>,
    pub priority: Option<String>,
    pub advert_int: Option<String>,
    pub unicast_src_ip: Option<String>,
    /// `unicast_peer { }` lists at least one address.
    pub has_unicast_peer: bool,
    pub notify_fifo: Option<String>,
    pub notifies: Vec<Notify>,
    pub track_scripts: Vec<String>,
    /// `track_script { NAME weight N }`: (NAME, N) where a weight is given.
    pub track_weights: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncGroup {
    pub name: String,
    pub members: Vec<String>,
    pub notify_fifo: Option<String>,
    pub notifies: Vec<Notify>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VrrpScript {
    pub name: String,
    pub script: Option<String>,
    /// `weight N`: a failing script changes the priority by N instead of FAULT (0 or none).
    pub weight: Option<String>,
}

/// What a keepalived.conf (with its includes) says about VRRP and scripts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub script_security: bool,
    pub script_user: Option<String>,
    /// `notify_fifo` and `vrrp_notify_fifo` of `global_defs`.
    pub global_fifos: Vec<String>,
    pub instances: Vec<Instance>,
    pub groups: Vec<SyncGroup>,
    pub scripts: Vec<VrrpScript>,
    /// Include patterns the loader returned nothing for.
    pub unresolved_includes: Vec<String>,
}

/// Where a statement is: (file index, line number).
type Pos = (usize, usize);

enum Tok {
    Word(String),
    Open,
    Close,
}

/// Reads keepalived.conf line by line, applying each statement as it completes.
struct Reader<'a> {
    load: Load<'a>,
    /// File names by index; 0 is the main text.
    files: Vec<String>,
    /// Blocks open now: keyword and where its `{` is.
    open: Vec<(String, Pos)>,
    /// A line's last statement, held back in case the next line opens its block with `{`.
    pending: Option<(Vec<String>, Pos)>,
    parsed: Parsed,
}

impl Reader<'_> {
    fn err(&self, (file, line): Pos, message: impl Into<String>) -> ParseError {
        let file = (file > 0).then(|| self.files[file].clone());
        ParseError { file, line, message: message.into() }
    }

    fn read(&mut self, text: &str, file: usize, depth: usize) -> Result<(), ParseError> {
        for (n, raw) in text.lines().enumerate() {
            let at = (file, n + 1);
            let toks = lex_line(raw).map_err(|m| self.err(at, m))?;
            if let [Tok::Word(keyword), rest @ ..] = toks.as_slice() {
                if INCLUDES.contains(&keyword.as_str()) {
                    self.flush()?;
                    let Some(Tok::Word(pattern)) = rest.first() else {
                        return Err(self.err(at, "include without a file name"));
                    };
                    self.include(pattern, at, depth)?;
                    continue;
                }
            }
            let mut words = Vec::new();
            for tok in toks {
                match tok {
                    Tok::Word(w) => {
                        if words.is_empty() {
                            self.flush()?;
                        }
                        words.push(w);
                    }
                    Tok::Open if words.is_empty() => {
                        let held = self.pending.take();
                        let (w, held_at) =
                            held.ok_or_else(|| self.err(at, "'{' without a keyword before it"))?;
                        self.statement(w, held_at, true)?;
                    }
                    Tok::Open => self.statement(std::mem::take(&mut words), at, true)?,
                    Tok::Close => {
                        self.flush()?;
                        if !words.is_empty() {
                            self.statement(std::mem::take(&mut words), at, false)?;
                        }
                        if self.open.pop().is_none() {
                            return Err(self.err(at, "'}' without a matching '{'"));
                        }
                    }
                }
            }
            if !words.is_empty() {
                self.pending = Some((words, at));
            }
        }
        Ok(())
    }

    fn include(&mut self, pattern: &str, at: Pos, depth: usize) -> Result<(), ParseError> {
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(self.err(at, "includes nested too deep (an include loop?)"));
        }
        match (self.load)(pattern) {
            Some(text) => {
                self.files.push(pattern.to_string());
                self.read(&text, self.files.len() - 1, depth + 1)
            }
            None => {
                self.parsed.unresolved_includes.push(pattern.to_string());
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> Result<(), ParseError> {
        match self.pending.take() {
            Some((words, at)) => self.statement(words, at, false),
            None => Ok(()),
        }
    }

    /// Apply one statement where it stands, then open its block if `opens`.
    fn statement(&mut self, mut words: Vec<String>, at: Pos, opens: bool) -> Result<(), ParseError> {
        let ctx: Vec<&str> = self.open.iter().map(|(k, _)| k.as_str()).collect();
        apply(&mut self.parsed, &ctx, &words).map_err(|m| self.err(at, m))?;
        if opens {
            self.open.push((words.swap_remove(0), at));
        }
        Ok(())
    }
}

/// Record statement `words` found inside the blocks `ctx` (outermost first).
fn apply(p: &mut Parsed, ctx: &[&str], words: &[String]) -> Result<(), String> {
    let (key, arg) = (words[0].as_str(), words.get(1).cloned());
    match ctx {
        [] if matches!(key, "vrrp_instance" | "vrrp_sync_group" | "vrrp_script") => {
            let name = arg.ok_or_else(|| format!("{key} without a name"))?;
            match key {
                "vrrp_instance" => p.instances.push(Instance { name, ..Instance::default() }),
                "vrrp_sync_group" => p.groups.push(SyncGroup { name, ..SyncGroup::default() }),
                _ => p.scripts.push(VrrpScript { name, ..VrrpScript::default() }),
            }
        }
        ["global_defs"] => match key {
            "enable_script_security" => p.script_security = true,
            "script_user" => p.script_user = arg,
            "notify_fifo" | "vrrp_notify_fifo" => p.global_fifos.extend(arg),
            _ => {}
        },
        ["vrrp_script"] if matches!(key, "script" | "weight") => {
            if let Some(s) = p.scripts.last_mut() {
                *(if key == "script" { &mut s.script } else { &mut s.weight }) = arg;
            }
        }
        ["vrrp_sync_group", rest @ ..] => {
            let Some(g) = p.groups.last_mut() else { return Ok(()) };
            match rest {
                [] if key == "notify_fifo" => g.notify_fifo = arg,
                [] => g.notifies.extend(notify(words)),
                ["group"] => g.members.extend(words.iter().cloned()),
                _ => {}
            }
        }
        ["vrrp_instance", rest @ ..] => {
            let Some(i) = p.instances.last_mut() else { return Ok(()) };
            match (rest, key) {
                ([], "state") => i.state = arg,
                ([], "interface") => i.interface = arg,
                ([], "virtual_router_id") => i.virtual_router_id = arg,
                ([], "priority") => i.priority = arg,
                ([], "advert_int") => i.advert_int = arg,
                ([], "unicast_src_ip") => i.unicast_src_ip = arg,
                ([], "notify_fifo") => i.notify_fifo = arg,
                ([], _) => i.notifies.extend(notify(words)),
                (["unicast_peer"], _) => i.has_unicast_peer = true,
                (["track_script"], name) => {
                    i.track_scripts.push(name.to_string());
                    if let (Some("weight"), Some(w)) = (words.get(1).map(String::as_str), words.get(2)) {
                        i.track_weights.push((name.to_string(), w.clone()));
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
    Ok(())
}

/// Split one line into words and braces; `Err` for an unterminated quote.
fn lex_line(raw: &str) -> Result<Vec<Tok>, &'static str> {
    let (mut out, mut word, mut chars) = (Vec::new(), None::<String>, raw.chars());
    while let Some(c) = chars.next() {
        match c {
            '#' | '!' => break,
            '{' | '}' => {
                out.extend(word.take().map(Tok::Word));
                out.push(if c == '{' { Tok::Open } else { Tok::Close });
            }
            '"' | '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') => w.push(match chars.next().ok_or("unterminated quoted string")? {
                            'n' => '\n',
                            't' => '\t',
                            e => e,
                        }),
                        Some(x) => w.push(x),
                        None => return Err("unterminated quoted string"),
                    }
                }
            }
            c if c.is_whitespace() => out.extend(word.take().map(Tok::Word)),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(word.map(Tok::Word));
    Ok(out)
}

/// Split a command like a shell does for plain quoting: `/x 'a b'` is `/x`, `a b`.
pub fn argv(cmd: &str) -> Vec<String> {
    let (mut out, mut cur, mut quote) = (Vec::new(), None::<String>, None);
    for c in cmd.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.get_or_insert_with(String::new).push(c),
            None if c == '\'' || c == '"' => {
                cur.get_or_insert_with(String::new);
                quote = Some(c);
            }
            None if c.is_whitespace() => out.extend(cur.take()),
            None => cur.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(cur);
    out
}

pub fn calls_binary(cmd: &str, binary_names: &[&str]) -> bool {
    argv(cmd).first().is_some_and(|p| binary_names.contains(&p.rsplit('/').next().unwrap_or(p)))
}

pub fn notify(words: &[String]) -> Option<Notify> {
    let kind = NOTIFY_KINDS.into_iter().find(|k| *k == words[0])?;
    Some(Notify { kind, command: words.get(1)?.clone(), extra: words[2..].to_vec() })
}

/// Parse keepalived.conf text; `load` returns the text of an included file (pattern as written).
pub fn parse(text: &str, load: Load) -> Result<Parsed, ParseError> {
    let (files, parsed) = (vec![String::new()], Parsed::default());
    let mut r = Reader { load, files, open: Vec::new(), pending: None, parsed };
    r.read(text, 0, 0)?;
    r.flush()?;
    match r.open.last() {
        Some((key, at)) => Err(r.err(*at, format!("{key} {{ is never closed (unbalanced braces)"))),
        None => Ok(r.parsed),
    }
}
