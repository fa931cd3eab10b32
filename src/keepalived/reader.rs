//! Reading keepalived's notify_fifo so that the reader never goes deaf.
//!
//! Two parts:
//! - [`LineSplitter`], plain data: bytes in, lines out. A line that is not UTF-8 (or is
//!   absurdly long) comes out as [`Line::Invalid`] and the lines after it are unharmed; a
//!   line split across reads is joined.
//! - [`FifoReader`]: the FIFO itself, opened read-write (there is always a writer, us, so
//!   opening never blocks and a writer going away is no end of file). keepalived creates the
//!   FIFO when it is missing and unlinks one it created when it exits, so the inode behind
//!   the path can change under a long-running reader: the path is checked on every read
//!   and at least every 250 ms, and when it names another FIFO (or the old one hit end of
//!   file) the old one is drained and the path reopened, and that is logged. A path that is
//!   gone (or not a FIFO) is warned about once and checked again.

use log::{info, warn};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe::Receiver;
use tokio::time::Instant;

/// The longest line kept; keepalived's lines are well under 300 bytes.
pub const MAX_LINE: usize = 4096;

/// How often the path is looked at while no line arrives (a stat: cheap). A keepalived
/// started anew writes BACKUP first and MASTER at least three advert intervals later, so
/// its new FIFO is open before its MASTER line (measured in tests/e2e: 0.7 s at advert_int
/// 0.2; 1 s checks delayed that MASTER by up to 0.3 s).
pub const CHECK_EVERY: Duration = Duration::from_millis(250);

/// One line out of the splitter, without its newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Text(String),
    /// Not UTF-8, or longer than [`MAX_LINE`] (then cut there): skip it, say why.
    Invalid {
        bytes: Vec<u8>,
        why: &'static str,
    },
}

/// Bytes in, lines out.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
    /// The current line grew past MAX_LINE: drop its bytes until its newline.
    overlong: bool,
}

impl LineSplitter {
    /// Add bytes as read; complete lines are returned in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Line> {
        let mut out = Vec::new();
        for chunk in bytes.split_inclusive(|b| *b == b'\n') {
            let (part, ends) = match chunk.strip_suffix(b"\n") {
                Some(p) => (p, true),
                None => (chunk, false),
            };
            if !self.overlong {
                self.buf.extend_from_slice(part);
                if self.buf.len() > MAX_LINE {
                    self.buf.truncate(MAX_LINE);
                    out.push(Line::Invalid {
                        bytes: std::mem::take(&mut self.buf),
                        why: "longer than 4096 bytes",
                    });
                    self.overlong = true;
                }
            }
            // The end of an overlong line only ends the skipping.
            if ends && !std::mem::take(&mut self.overlong) {
                out.push(to_line(std::mem::take(&mut self.buf)));
            }
        }
        out
    }

    /// Bytes of an unfinished line, given up (its writer is gone).
    pub fn take_partial(&mut self) -> Option<Vec<u8>> {
        self.overlong = false;
        (!self.buf.is_empty()).then(|| std::mem::take(&mut self.buf))
    }
}

fn to_line(bytes: Vec<u8>) -> Line {
    match String::from_utf8(bytes) {
        Ok(s) => Line::Text(s),
        Err(e) => Line::Invalid { bytes: e.into_bytes(), why: "not UTF-8" },
    }
}

/// Which file a path names: device and inode.
type Identity = (u64, u64);

/// What the path is now.
#[derive(Debug, PartialEq, Eq)]
enum PathIs {
    Fifo(Identity),
    Gone(String),
}

fn look(path: &Path) -> PathIs {
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_fifo() => PathIs::Fifo((m.dev(), m.ino())),
        Ok(_) => PathIs::Gone("not a FIFO".into()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => PathIs::Gone("does not exist".into()),
        Err(e) => PathIs::Gone(e.to_string()),
    }
}

/// Open `path` as the notify FIFO: it must be a FIFO; read-write, so opening never blocks.
/// The one place the FIFO is opened, at start and on every reopen.
pub fn open_fifo(path: &Path) -> Result<(Receiver, (u64, u64)), String> {
    let id = match look(path) {
        PathIs::Fifo(id) => id,
        PathIs::Gone(why) => return Err(why),
    };
    // Whoever can write the FIFO steers root: checked at every (re)open, as keepalived
    // checks its scripts.
    crate::trust::check_trusted(path, "notify FIFO").map_err(|e| e.to_string())?;
    let rx = tokio::net::unix::pipe::OpenOptions::new()
        .read_write(true)
        .open_receiver(path)
        .map_err(|e| e.to_string())?;
    Ok((rx, id))
}

/// keepalived's notify_fifo, followed by path. Lines come out in the order written, the old
/// FIFO's before the new one's.
pub struct FifoReader {
    path: PathBuf,
    /// None after end of file or a read error: reopened at the next check.
    rx: Option<Receiver>,
    id: Identity,
    lines: LineSplitter,
    ready: std::collections::VecDeque<String>,
    next_check: Instant,
    /// Why the path could not be reopened, as last warned (warned once until it changes).
    trouble: Option<String>,
}

impl FifoReader {
    /// Open the FIFO at `path` (see [`open_fifo`]).
    pub fn open(path: &Path) -> Result<FifoReader, String> {
        let (rx, id) = open_fifo(path)?;
        Ok(FifoReader {
            path: path.to_path_buf(),
            rx: Some(rx),
            id,
            lines: LineSplitter::default(),
            ready: Default::default(),
            next_check: Instant::now() + CHECK_EVERY,
            trouble: None,
        })
    }

    /// The next valid line. Never ends and never fails: invalid lines are warned about and
    /// skipped, a re-created FIFO is reopened. Cancel safe: whatever was read stays here.
    pub async fn next_line(&mut self) -> String {
        loop {
            if let Some(l) = self.ready.pop_front() {
                return l;
            }
            let mut buf = [0u8; 4096];
            let read = match &mut self.rx {
                Some(rx) => {
                    tokio::select! {
                        r = rx.read(&mut buf) => Some(r),
                        _ = tokio::time::sleep_until(self.next_check) => None,
                    }
                }
                None => {
                    tokio::time::sleep_until(self.next_check).await;
                    None
                }
            };
            match read {
                Some(Ok(0)) => {
                    warn!("--fifo {}: end of file; reopening it", self.path.display());
                    self.rx = None;
                }
                Some(Ok(n)) => self.take(&buf[..n]),
                Some(Err(e)) => {
                    warn!("--fifo {}: read failed: {e}; reopening it", self.path.display());
                    self.rx = None;
                }
                None => {}
            }
            self.check();
        }
    }

    /// Split bytes into lines: valid ones wait in `ready`, invalid ones are warned about.
    fn take(&mut self, bytes: &[u8]) {
        for line in self.lines.push(bytes) {
            match line {
                Line::Text(s) => self.ready.push_back(s),
                Line::Invalid { bytes, why } => {
                    warn!(
                        "--fifo {}: line {why}, skipped: {:?}",
                        self.path.display(),
                        String::from_utf8_lossy(&bytes)
                    )
                }
            }
        }
    }

    /// Look at the path: a different FIFO there (or none open) is opened, after what is left
    /// in the old one has been read.
    fn check(&mut self) {
        self.next_check = Instant::now() + CHECK_EVERY;
        let now = look(&self.path);
        if self.rx.is_some() && now == PathIs::Fifo(self.id) {
            return;
        }
        if let PathIs::Gone(why) = now {
            return self
                .warn_once(format!("{why}; still listening to the FIFO opened before, checking again"));
        }
        let (rx, id) = match open_fifo(&self.path) {
            Ok(x) => x,
            Err(e) => return self.warn_once(format!("cannot reopen: {e}; checking again")),
        };
        if let Some(old) = self.rx.take() {
            self.drain(&old);
        }
        if let Some(part) = self.lines.take_partial() {
            warn!(
                "--fifo {}: unfinished line in the old FIFO dropped: {:?}",
                self.path.display(),
                String::from_utf8_lossy(&part)
            );
        }
        let how = if id == self.id { "reopened" } else { "re-created (keepalived restarted?); reopened" };
        info!("--fifo {}: {how}", self.path.display());
        (self.rx, self.id, self.trouble) = (Some(rx), id, None);
    }

    /// Read what is left in a FIFO about to be dropped (keepalived's last lines, e.g. STOP).
    fn drain(&mut self, old: &Receiver) {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = old.try_read(&mut buf) {
            self.take(&buf[..n]);
        }
    }

    fn warn_once(&mut self, why: String) {
        if self.trouble.as_ref() != Some(&why) {
            warn!("--fifo {}: {why}", self.path.display());
            self.trouble = Some(why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Line {
        Line::Text(s.into())
    }

    #[test]
    fn bytes_become_lines_joined_across_reads() {
        let mut s = LineSplitter::default();
        assert_eq!(s.push(b"INSTANCE \"VI_1\" MAS"), vec![]);
        assert_eq!(
            s.push(b"TER 150\nINSTANCE \"VI_2\" BACKUP 100\nINST"),
            vec![text("INSTANCE \"VI_1\" MASTER 150"), text("INSTANCE \"VI_2\" BACKUP 100")]
        );
        assert_eq!(s.push(b"ANCE \"VI_1\" STOP 0\n\n"), vec![text("INSTANCE \"VI_1\" STOP 0"), text("")]);
        assert_eq!(s.take_partial(), None);
        s.push(b"half");
        assert_eq!(s.take_partial(), Some(b"half".to_vec()));
        assert_eq!(s.push(b"x\n"), vec![text("x")], "a dropped partial line is gone");
    }

    #[test]
    fn an_invalid_line_is_skipped_and_nothing_after_it_lost() {
        let mut s = LineSplitter::default();
        let got = s.push(b"INSTANCE \"VI_\xe9\" BACKUP 100\nINSTANCE \"VI_1\" MASTER 100\n");
        assert_eq!(
            got,
            vec![
                Line::Invalid { bytes: b"INSTANCE \"VI_\xe9\" BACKUP 100".to_vec(), why: "not UTF-8" },
                text("INSTANCE \"VI_1\" MASTER 100"),
            ]
        );
        // A multi-byte character split across two reads is one valid line.
        assert_eq!(s.push(b"caf\xc3"), vec![]);
        assert_eq!(s.push(b"\xa9\n"), vec![text("café")]);
    }

    #[test]
    fn an_overlong_line_is_cut_off_once_and_the_next_line_survives() {
        let mut s = LineSplitter::default();
        let long = vec![b'x'; MAX_LINE + 10];
        let got = s.push(&long);
        assert!(matches!(&got[..], [Line::Invalid { bytes, .. }] if bytes.len() == MAX_LINE), "{got:?}");
        assert_eq!(s.push(&long), vec![], "the rest of the same line is dropped silently");
        assert_eq!(
            s.push(b"tail\nINSTANCE \"VI_1\" MASTER 100\n"),
            vec![text("INSTANCE \"VI_1\" MASTER 100")]
        );
        let exact = vec![b'y'; MAX_LINE];
        assert_eq!(s.push(&[&exact[..], b"\n"].concat()), vec![Line::Text("y".repeat(MAX_LINE))]);
    }

    #[test]
    fn the_reader_follows_a_fifo_re_created_at_its_path() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = std::env::temp_dir().join(format!("ec2-vip-reader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.fifo");
        let mkfifo = |p: &Path| {
            let st = std::process::Command::new("mkfifo").arg(p).status().unwrap();
            assert!(st.success());
        };
        mkfifo(&path);
        let write = |p: &Path, text: &[u8]| {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().read(true).write(true).open(p).unwrap();
            f.write_all(text).unwrap();
            f // keep it open: the bytes stay in the pipe
        };
        rt.block_on(async {
            let mut r = FifoReader::open(&path).unwrap();
            let _a = write(&path, b"one\n\xff\ntwo\n");
            assert_eq!(r.next_line().await, "one");
            assert_eq!(r.next_line().await, "two");
            // keepalived's last line in the old FIFO, then it is unlinked and made anew.
            let _b = write(&path, b"last of the old\n");
            std::fs::remove_file(&path).unwrap();
            mkfifo(&path);
            let _c = write(&path, b"first of the new\n");
            let t = std::time::Instant::now();
            assert_eq!(r.next_line().await, "last of the old");
            assert_eq!(r.next_line().await, "first of the new");
            assert!(t.elapsed() < CHECK_EVERY * 3, "{:?}", t.elapsed());
            // Gone for a while (keepalived stopped), then made again (keepalived started).
            std::fs::remove_file(&path).unwrap();
            let again = path.clone();
            let maker = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                mkfifo(&again);
                write(&again, b"after the gap\n")
            });
            assert_eq!(r.next_line().await, "after the gap");
            drop(maker.join());
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
}
