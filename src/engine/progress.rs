//! What the running transition has written so far, for the one moment it is asked from
//! outside: a SIGTERM to a one-shot run logs what was done and what was not before exiting.
//! One per process (a one-shot run applies one plan; the watcher does not use it).

use std::sync::Mutex;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Progress {
    /// Writes planned, as "resource: from -> to" lines, in plan order.
    pub planned: Vec<String>,
    /// Indexes into `planned` of the writes EC2 accepted.
    pub done: Vec<usize>,
}

static PROGRESS: Mutex<Option<Progress>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Option<Progress>) -> T) -> T {
    let mut p = PROGRESS.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut p)
}

/// A plan's writes are about to start; returns the index of the first.
pub fn planned(lines: Vec<String>) -> usize {
    with(|p| {
        let p = p.get_or_insert_with(Progress::default);
        let first = p.planned.len();
        p.planned.extend(lines);
        first
    })
}

pub fn written(index: usize) {
    with(|p| p.get_or_insert_with(Progress::default).done.push(index));
}

impl Progress {
    /// The writes done and not done, as lines; None when no write was planned.
    pub fn summary(&self) -> Option<(Vec<String>, Vec<String>)> {
        if self.planned.is_empty() {
            return None;
        }
        let (done, todo) = (0..self.planned.len()).partition::<Vec<usize>, _>(|i| self.done.contains(i));
        let lines = |v: Vec<usize>| v.into_iter().map(|i| self.planned[i].clone()).collect();
        Some((lines(done), lines(todo)))
    }
}

/// This process's writes done and not done, as lines; None when no write was planned.
pub fn summary() -> Option<(Vec<String>, Vec<String>)> {
    with(|p| p.as_ref().and_then(Progress::summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_splits_done_from_not_done() {
        let mut p = Progress::default();
        assert_eq!(p.summary(), None);
        p.planned = vec!["a".into(), "b".into(), "c".into()];
        p.done.push(1);
        assert_eq!(p.summary(), Some((vec!["b".to_string()], vec!["a".to_string(), "c".to_string()])));
    }

    #[test]
    fn the_process_record_counts_from_where_a_plan_starts() {
        let first = planned(vec!["x".into(), "y".into()]);
        written(first + 1);
        let (done, todo) = summary().unwrap();
        assert!(done.contains(&"y".to_string()) && todo.contains(&"x".to_string()));
    }
}
