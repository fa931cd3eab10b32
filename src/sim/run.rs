//! Run one schedule: every node a real `Engine` over its own state directory and its view
//! of the shared cloud, every step a task on one thread in virtual time (tokio's paused
//! clock), the invariants (`check`) after every step and at the end.

use super::check::{self, Book};
use super::client::{SimClient, SimCloud};
use super::cloud::{Faults, Shared};
use super::rng::Rng;
use super::schedule::{Act, Schedule};
use super::world;
use crate::engine::transition::Job;
use crate::engine::{Engine, Settings};
use crate::keepalived::Role;
use crate::ordering::Stamp;
use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::{sleep, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(10);
pub const WINDOW: Duration = Duration::from_secs(2);
pub const INTERVAL: Duration = Duration::from_secs(5);
pub const KEY: &str = "VI_1";

/// What a schedule ended with.
#[derive(Debug, Default)]
pub struct Outcome {
    pub violations: Vec<String>,
    /// Every cloud call and run, in order (same seed → same trace).
    pub trace: Vec<String>,
}

pub(super) struct Node {
    pub engine: Rc<Engine<SimCloud>>,
    tasks: Vec<JoinHandle<()>>,
    up: bool,
    reconciling: Rc<Cell<bool>>,
}

static DIRS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn state_dir() -> PathBuf {
    let n = DIRS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("ec2-vip-sim-{}-{n}", std::process::id()))
}

/// Run `s` and report what it broke.
pub fn run(s: &Schedule) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
    let local = tokio::task::LocalSet::new();
    let dirs: Vec<PathBuf> = (0..s.nodes).map(|_| state_dir()).collect();
    let out = local.block_on(&rt, simulate(s, &dirs));
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
    out
}

async fn simulate(s: &Schedule, dirs: &[PathBuf]) -> Outcome {
    crate::ordering::VIRTUAL_BOOT.with(|v| v.set(Some((1000.0, Instant::now()))));
    crate::deadline::SEEDED_JITTER.with(|j| j.set(Some(s.seed | 1)));
    let shared = Rc::new(RefCell::new(Shared::new(
        world::world(s.nodes),
        s.nodes,
        Rng::new(s.seed.rotate_left(17) ^ 0xC10D),
        s.faults.clone(),
    )));
    let book = Rc::new(RefCell::new(Book::new(s, &shared.borrow().truth.world.borrow())));
    let mut nodes: Vec<Node> = (0..s.nodes)
        .map(|n| {
            let settings = Settings {
                state_dir: dirs[n].clone(),
                region: None,
                region_from: "--region",
                timeout: TIMEOUT,
                max_attempts: 3,
                dry_run: false,
                consistency_window: WINDOW,
            };
            let cloud =
                SimCloud { me: world::identity(n), client: SimClient { node: n, shared: shared.clone() } };
            Node {
                engine: Rc::new(Engine::new(settings, cloud)),
                tasks: Vec::new(),
                up: true,
                reconciling: Rc::default(),
            }
        })
        .collect();
    let pid = Rc::new(Cell::new(1000u32));
    let mut idx = 0;
    for step in &s.steps {
        sleep(Duration::from_millis(step.gap_ms)).await;
        let n = step.node;
        idx += 1;
        if !nodes[n].up && step.act != Act::Restart {
            continue;
        }
        let now = shared.borrow().start.elapsed();
        book.borrow_mut().trace.push(format!("{} step {idx} n{n} {:?}", now.as_millis(), step.act));
        let role = match step.act {
            Act::Master | Act::OcfStart => Some(Role::Master),
            Act::Backup | Act::Restart => Some(Role::Backup),
            Act::Fault => Some(Role::Fault),
            Act::Stop | Act::OcfStop => Some(Role::Stop),
            _ => None,
        };
        match step.act {
            Act::Crash => {
                for t in nodes[n].tasks.drain(..) {
                    t.abort();
                }
                nodes[n].up = false;
                nodes[n].reconciling.set(false);
            }
            Act::Restart => nodes[n].up = true,
            Act::Reconcile => reconcile(&mut nodes[n], n, s, &book),
            Act::Probe => {
                let engines: Vec<_> =
                    (0..s.nodes).filter(|m| nodes[*m].up).map(|m| (m, nodes[m].engine.clone())).collect();
                let t = tokio::task::spawn_local(check::probes(engines, s.scenario, s.release, book.clone()));
                nodes[n].tasks.push(t);
            }
            _ => {}
        }
        if let Some(role) = role {
            let stamp = Stamp { start_ticks: 100_000 + now.as_millis() as u64 / 10, pid: pid.get(), seq: 0 };
            pid.set(pid.get() + 1);
            let release = if step.act == Act::OcfStop { true } else { s.release };
            let res = world::resources(s.scenario, release);
            book.borrow_mut().recorded(n, now, role);
            let (engine, book2) = (nodes[n].engine.clone(), book.clone());
            let ocf_stop = step.act == Act::OcfStop;
            let t = tokio::task::spawn_local(async move {
                let deadline = crate::deadline::Deadline::after(TIMEOUT);
                let job = Job { role, res: &res, key: KEY, stamp, prior: None };
                let ran = engine.transition(&job, None, &deadline).await;
                let end = engine.cloud.client.shared.borrow().start.elapsed();
                book2.borrow_mut().ran(
                    n,
                    role,
                    now,
                    end,
                    &ran,
                    ocf_stop,
                    &engine.cloud.client.shared.borrow(),
                );
            });
            nodes[n].tasks.push(t);
        }
        tokio::task::yield_now().await;
        book.borrow_mut().after_step(&shared.borrow());
    }
    finish(s, &mut nodes, &shared, &book).await;
    let mut b = book.borrow_mut();
    b.after_step(&shared.borrow());
    let mut trace = std::mem::take(&mut b.trace);
    trace.extend(shared.borrow().trace.iter().cloned());
    Outcome { violations: std::mem::take(&mut b.violations), trace }
}

fn reconcile(node: &mut Node, n: usize, s: &Schedule, book: &Rc<RefCell<Book>>) {
    if node.reconciling.replace(true) {
        return; // watch runs one reconcile at a time
    }
    let (engine, busy, book) = (node.engine.clone(), node.reconciling.clone(), book.clone());
    let res = world::resources(s.scenario, s.release);
    node.tasks.push(tokio::task::spawn_local(async move {
        let deadline = crate::deadline::Deadline::after(TIMEOUT);
        let checked = match engine.connect(&res, &deadline).await {
            Ok(session) => engine.reconcile(&session, &res, KEY, true, &deadline).await,
            Err(e) => Err(e),
        };
        book.borrow_mut().trace.push(format!("n{n} reconcile: {checked:?}"));
        busy.set(false);
    }));
}

/// After the last step: let the runs end, then the quiet period (faults off but for
/// staleness) with watch's reconcile ticks; then the end state is judged.
#[allow(clippy::needless_range_loop)] // reconcile() borrows one node mutably
async fn finish(s: &Schedule, nodes: &mut [Node], shared: &Rc<RefCell<Shared>>, book: &Rc<RefCell<Book>>) {
    let quiet = WINDOW + INTERVAL + TIMEOUT;
    match s.winner {
        Some(_) => {
            sleep(TIMEOUT).await;
            let stale = shared.borrow().faults.stale;
            shared.borrow_mut().faults = Faults { stale, ..Faults::none() };
            let pacemaker = s.steps.iter().any(|x| x.act == Act::OcfStart);
            for _ in 0..2 {
                for n in 0..nodes.len() {
                    if nodes[n].up && !pacemaker {
                        reconcile(&mut nodes[n], n, s, book);
                    }
                }
                sleep(quiet / 2).await;
            }
            book.borrow_mut().converged(&shared.borrow());
        }
        None => {
            book.borrow_mut().split_from = Some(shared.borrow().start.elapsed());
            let mut dead = None;
            for tick in 0..40 {
                // the winner dies; one interval, a window and a hung attempt later it is replaced
                if tick == 15 {
                    dead = kill_holder(s, nodes, shared);
                }
                if tick == 15 + (INTERVAL + WINDOW).as_secs() + 4 {
                    if let Some(d) = dead {
                        book.borrow_mut().replaced(d, &shared.borrow());
                    }
                }
                for n in 0..nodes.len() {
                    if nodes[n].up {
                        reconcile(&mut nodes[n], n, s, book);
                    }
                }
                sleep(Duration::from_secs(1)).await;
            }
            sleep(quiet).await;
            book.borrow_mut().split_settled(&shared.borrow());
        }
    }
    for n in nodes.iter_mut() {
        for t in n.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

/// Invariant 6's second half: the node holding the first resource dies (its processes
/// gone, its instance stopped); returns it.
fn kill_holder(s: &Schedule, nodes: &mut [Node], shared: &Rc<RefCell<Shared>>) -> Option<usize> {
    let (key, _) = world::owned(s.scenario, 0).into_iter().next()?;
    let sh = shared.borrow();
    let held = super::cloud::holders(&sh.truth.world.borrow()).get(&key).cloned()?;
    let d =
        (0..s.nodes).find(|n| world::owned(s.scenario, *n).iter().any(|(k, v)| *k == key && *v == held))?;
    let mut w = sh.truth.world.borrow_mut();
    w.instances.insert(format!("i-{}", d + 1), "stopped".into());
    drop(w);
    for t in nodes[d].tasks.drain(..) {
        t.abort();
    }
    nodes[d].up = false;
    Some(d)
}
