//! Trust in the files that steer this process, like keepalived's script security
//! (`enable_script_security`): whoever can write the config (its `on_event` runs through
//! `/bin/sh -c`) or the notify FIFO (its lines move the VIP) is as powerful as we are.
//!
//! The rules, with "trusted" meaning root, plus the running user when not running as root:
//! - the file (symlinks followed) is owned by a trusted uid and not writable by group or
//!   others;
//! - every directory above it, up to `/`, both on the path as given and on the path with
//!   symlinks resolved, is owned by a trusted uid and not writable by group or others;
//! - except a sticky directory (like `/tmp`, mode 1777): others may create entries there but
//!   not replace or rename ours, so it is accepted when the entry below it on the path
//!   (the file, a directory or a symlink, not followed) is owned by a trusted uid. A
//!   root-owned 0600 FIFO in `/tmp` is fine; one `nobody` created there is not.
//!
//! Refusals are one line naming the file, its owner (uid and name), its octal mode and what
//! is wrong.

use crate::error::Error;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

const GROUP_OR_OTHER_WRITE: u32 = 0o022;
const STICKY: u32 = 0o1000;

/// The uid we run as (effective).
fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Root, and the running user.
pub fn trusted_uid(uid: u32) -> bool {
    uid == 0 || uid == euid()
}

/// Who must own what steers us, for messages: "root", or "root or uid 1000 (alice)".
fn trusted_owners() -> String {
    match euid() {
        0 => "root".into(),
        me => format!("root or the running user (uid {me} {})", user_name(me)),
    }
}

fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => "?".into(),
    }
}

/// `owner uid 65534 (nobody), mode 0644`.
pub fn describe(meta: &Metadata) -> String {
    format!("owner uid {} ({}), mode {:04o}", meta.uid(), user_name(meta.uid()), meta.mode() & 0o7777)
}

/// Why a file owned as `meta` says may not steer us, if it may not: the refusal line.
pub fn foreign_owner(path: &Path, meta: &Metadata, what: &str) -> Option<String> {
    (!trusted_uid(meta.uid())).then(|| {
        format!("{what} {} ({}): not owned by {}; refused", path.display(), describe(meta), trusted_owners())
    })
}

/// Refuse (bad input, exit 2) a file that anyone but root (or the running user) could
/// have written, or replaced through a directory above it.
pub fn check_trusted(path: &Path, what: &str) -> Result<(), Error> {
    untrusted(path, what).map_or(Ok(()), |why| Err(Error::BadInput(why)))
}

/// Why `path` may not steer us, as one line, or `None` when it may.
pub fn untrusted(path: &Path, what: &str) -> Option<String> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return Some(format!("{what} {shown}: {e}; refused")),
    };
    if let Some(why) = foreign_owner(path, &meta, what) {
        return Some(why);
    }
    let head = format!("{what} {shown} ({})", describe(&meta));
    if meta.mode() & GROUP_OR_OTHER_WRITE != 0 {
        return Some(format!("{head}: writable by group or others; refused"));
    }
    let given = std::path::absolute(path);
    let resolved = std::fs::canonicalize(path);
    for p in [given, resolved] {
        let why = match p {
            Ok(p) => directories(&p),
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = why {
            return Some(format!("{head}: {why}; refused"));
        }
    }
    None
}

/// The first directory above `path` (absolute) that someone untrusted can write.
fn directories(path: &Path) -> Option<String> {
    for entry in path.ancestors() {
        let Some(dir) = entry.parent() else { break };
        let meta = match std::fs::metadata(dir) {
            Ok(m) => m,
            Err(e) => return Some(format!("directory {}: {e}", dir.display())),
        };
        let shown = format!("directory {} ({})", dir.display(), describe(&meta));
        if !trusted_uid(meta.uid()) {
            return Some(format!("{shown} is not owned by {}", trusted_owners()));
        }
        if meta.mode() & GROUP_OR_OTHER_WRITE == 0 {
            continue;
        }
        if meta.mode() & STICKY == 0 {
            return Some(format!("{shown} is writable by group or others"));
        }
        // Sticky: others cannot replace what a trusted user owns in it.
        match std::fs::symlink_metadata(entry) {
            Ok(m) if trusted_uid(m.uid()) => {}
            Ok(m) => {
                return Some(format!(
                    "{} ({}) in the shared sticky {shown} is not owned by {}",
                    entry.display(),
                    describe(&m),
                    trusted_owners()
                ))
            }
            Err(e) => return Some(format!("{}: {e}", entry.display())),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::Permissions;
    use std::os::unix::fs::{symlink, PermissionsExt};
    use std::path::PathBuf;

    /// A fresh 0700 directory of ours under the temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let p = std::env::temp_dir().join(format!("ec2-vip-trust-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir(&p).unwrap();
            chmod(&p, 0o700);
            Scratch(p)
        }

        fn file(&self, name: &str, mode: u32) -> PathBuf {
            let f = self.0.join(name);
            std::fs::write(&f, "x").unwrap();
            chmod(&f, mode);
            f
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn chmod(p: &Path, mode: u32) {
        std::fs::set_permissions(p, Permissions::from_mode(mode)).unwrap();
    }

    fn refused(p: &Path) -> String {
        untrusted(p, "config file").expect("refused")
    }

    #[test]
    fn own_private_files_are_trusted() {
        let s = Scratch::new("ok");
        assert_eq!(untrusted(&s.file("c.toml", 0o644), "config file"), None);
        assert_eq!(untrusted(&s.file("d.toml", 0o600), "config file"), None);
        assert!(check_trusted(&s.file("e.toml", 0o400), "config file").is_ok());
    }

    #[test]
    fn group_or_world_writable_files_are_refused_in_one_line() {
        let s = Scratch::new("mode");
        for (name, mode) in [("a", 0o666), ("b", 0o664), ("c", 0o646)] {
            let f = s.file(name, mode);
            let why = refused(&f);
            assert!(why.contains("writable by group or others"), "{why}");
            assert!(
                why.contains(&format!("mode 0{mode:o}")) && why.contains(&f.display().to_string()),
                "{why}"
            );
            assert!(why.starts_with("config file ") && !why.contains('\n'), "{why}");
            let err = check_trusted(&f, "config file").unwrap_err();
            assert_eq!(err.exit_code(), crate::error::EXIT_BAD_INPUT);
        }
        let missing = refused(&s.0.join("none"));
        assert!(missing.contains("No such file"), "{missing}");
    }

    #[test]
    fn open_directories_are_refused_sticky_ones_are_not() {
        let s = Scratch::new("dirs");
        let open = s.0.join("open");
        std::fs::create_dir(&open).unwrap();
        let f = open.join("c.toml");
        std::fs::write(&f, "x").unwrap();
        chmod(&f, 0o644);
        chmod(&open, 0o777);
        let why = refused(&f);
        assert!(why.contains(&format!("directory {} (", open.display())), "{why}");
        assert!(why.contains("mode 0777) is writable by group or others"), "{why}");
        chmod(&open, 0o775);
        assert!(refused(&f).contains("mode 0775"));
        chmod(&open, 0o1777); // like /tmp: our own file in it is fine
        assert_eq!(untrusted(&f, "config file"), None);
        chmod(&open, 0o755);
        assert_eq!(untrusted(&f, "config file"), None);
    }

    #[test]
    fn symlinks_are_judged_where_they_lie_and_where_they_point() {
        let s = Scratch::new("links");
        let good = s.file("good.toml", 0o644);
        let open = s.0.join("open");
        std::fs::create_dir(&open).unwrap();
        chmod(&open, 0o777);
        // A link in an open directory: anyone could point it elsewhere.
        let planted = open.join("link.toml");
        symlink(&good, &planted).unwrap();
        assert!(refused(&planted).contains("writable by group or others"));
        // A link in a safe directory to a file in an open one: the target could be swapped.
        let far = open.join("far.toml");
        std::fs::write(&far, "x").unwrap();
        chmod(&far, 0o644);
        let link = s.0.join("to-far.toml");
        symlink(&far, &link).unwrap();
        assert!(refused(&link).contains(&format!("directory {}", open.display())));
    }

    /// chown needs root; CI runs as root, a developer's run skips these parts.
    #[test]
    fn foreign_owners_are_refused_when_root() {
        if euid() != 0 {
            eprintln!("skipped: not root");
            return;
        }
        let s = Scratch::new("owners");
        let f = s.file("c.toml", 0o644);
        std::os::unix::fs::chown(&f, Some(65534), None).unwrap();
        let why = refused(&f);
        assert!(why.contains("owner uid 65534") && why.contains("not owned by root"), "{why}");
        // A directory someone else owns: they can replace the file.
        let theirs = s.0.join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        chmod(&theirs, 0o755);
        let g = theirs.join("c.toml");
        std::fs::write(&g, "x").unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), None).unwrap();
        assert!(refused(&g).contains(&format!("directory {} (owner uid 65534", theirs.display())));
        // A sticky shared directory: a link nobody planted there is refused, ours is not.
        let shared = s.0.join("shared");
        std::fs::create_dir(&shared).unwrap();
        chmod(&shared, 0o1777);
        let ok = s.file("ok.toml", 0o600);
        let planted = shared.join("planted.toml");
        symlink(&ok, &planted).unwrap();
        assert_eq!(untrusted(&planted, "notify FIFO"), None);
        std::os::unix::fs::lchown(&planted, Some(65534), None).unwrap();
        let why = untrusted(&planted, "notify FIFO").expect("refused");
        assert!(why.contains("in the shared sticky directory") && why.starts_with("notify FIFO"), "{why}");
    }
}
