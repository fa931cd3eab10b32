//! Where in the file: byte spans (from the TOML parser) to line and column, and paths
//! within a section (`routes[1]`, `sites[0].vpc_id`) to spans and back.

use std::fmt;
use std::ops::Range;
use toml::de::DeValue;
use toml::Spanned;

/// One step of a path within a section: a key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path within a section, shown as `sites[0].vpc_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn key(k: &str) -> KeyPath {
        KeyPath(vec![Seg::Key(k.to_string())])
    }

    pub fn item(k: &str, i: usize) -> KeyPath {
        KeyPath(vec![Seg::Key(k.to_string()), Seg::Index(i)])
    }

    /// This path, then `k`.
    pub fn then(mut self, k: &str) -> KeyPath {
        self.0.push(Seg::Key(k.to_string()));
        self
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

fn inside(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// The deepest path within `value` whose key or value holds `span` (empty: none does).
/// Every node is searched: a `[table]` header's span does not hold the table's keys.
pub fn path_at(value: &DeValue<'_>, span: &Range<usize>) -> KeyPath {
    let mut best = Vec::new();
    deepest(value, span, &mut Vec::new(), &mut best);
    KeyPath(best)
}

/// A child of a table or array: its step, its key's span (tables only), its value.
type Child<'a, 'i> = (Seg, Option<Range<usize>>, &'a Spanned<DeValue<'i>>);

fn deepest(value: &DeValue<'_>, span: &Range<usize>, path: &mut Vec<Seg>, best: &mut Vec<Seg>) {
    let children: Vec<Child<'_, '_>> = match value {
        DeValue::Table(t) => {
            t.iter().map(|(k, v)| (Seg::Key(k.get_ref().to_string()), Some(k.span()), v)).collect()
        }
        DeValue::Array(a) => a.iter().enumerate().map(|(i, v)| (Seg::Index(i), None, v)).collect(),
        _ => return,
    };
    for (seg, key_span, v) in children {
        path.push(seg);
        let here = key_span.is_some_and(|k| inside(&k, span)) || inside(&v.span(), span);
        if here && path.len() > best.len() {
            *best = path.clone();
        }
        deepest(v.get_ref(), span, path, best);
        path.pop();
    }
}

/// The span of the value at `path` within `value`, or of the deepest part of the path
/// that exists.
pub fn span_of(value: &Spanned<DeValue<'_>>, path: &KeyPath) -> Range<usize> {
    let mut here = value;
    for seg in &path.0 {
        let next = match (here.get_ref(), seg) {
            (DeValue::Table(t), Seg::Key(k)) => t.get(k.as_str()),
            (DeValue::Array(a), Seg::Index(i)) => a.get(*i),
            _ => None,
        };
        match next {
            Some(v) => here = v,
            None => break,
        }
    }
    here.span()
}
