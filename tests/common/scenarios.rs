//! Scenarios against a shared server, each a test of its own. The test binaries that use this (`tests/server.rs`,
//! `tests/gateway.rs`) run with libtest-mimic (`harness = false` in Cargo.toml), so that `cargo test --test server
//! filters` runs one scenario (on both backends; `sqlite::filters` on one) while the server a backend's scenarios
//! share is started once, by the first of them that runs, and stopped after the last test. Tests run one at a
//! time unless `--test-threads` says otherwise: scenarios on one server count events and rows of its database.

use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Completion, Failed, Trial};

use crate::common::pg;
use crate::server_harness::Server;

/// A test scenario against a running server.
pub type Scenario = fn(&Server);

/// The database a server runs on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The server that the scenarios of one backend share.
pub struct Shared {
    backend: Backend,
    start: Box<dyn Fn() -> Server + Send + Sync>,
    /// Started (or failed to start: each scenario then fails with that, instead of trying again) at first use.
    server: Mutex<Option<Result<Arc<Server>, String>>>,
}

impl Shared {
    pub fn new(
        backend: Backend,
        start: impl Fn() -> Server + Send + Sync + 'static,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            backend,
            start: Box::new(start),
            server: Mutex::new(None),
        })
    }

    fn get(&self) -> Result<Arc<Server>, String> {
        let mut server = self.server.lock().unwrap_or_else(|e| e.into_inner());
        server
            .get_or_insert_with(|| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Arc::new((self.start)())))
                    .map_err(|e| {
                        format!(
                            "the {} server did not start: {}",
                            self.backend.name(),
                            panic_message(&e)
                        )
                    })
            })
            .clone()
    }

    /// Stops the server, if it was started (PostgreSQL: and drops its database).
    fn stop(&self) {
        let server = self.server.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(server);
    }

    /// One test per scenario, named `<backend>::<scenario>`, on this backend's shared server.
    pub fn trials(self: &Arc<Shared>, scenarios: &[(&'static str, Scenario)]) -> Vec<Trial> {
        scenarios
            .iter()
            .map(|&(name, scenario)| {
                let shared = self.clone();
                test(self.backend, name, move || {
                    let server = shared.get()?;
                    run_logged(&server, || scenario(&server))
                })
            })
            .collect()
    }
}

/// A test named `<backend>::<name>`. On PostgreSQL it is skipped (reported as ignored, with the reason) when the
/// database is unreachable outside CI; in CI that fails it.
pub fn test(
    backend: Backend,
    name: &str,
    run: impl FnOnce() -> Result<(), Failed> + Send + 'static,
) -> Trial {
    Trial::ignorable_test(format!("{}::{name}", backend.name()), move || {
        if backend == Backend::Postgres {
            if let Err(missing) = postgres() {
                return Ok(Completion::ignored_with(missing));
            }
        }
        run().map(|()| Completion::Completed)
    })
}

/// Whether the PostgreSQL tests can run, found out once per test binary: `Err` (the reason) outside CI when it is
/// unreachable; in CI, unreachable fails the test that asks.
fn postgres() -> Result<(), String> {
    static REACHABLE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let reachable = REACHABLE.get_or_init(pg::reachable).clone();
    if let (Err(missing), Ok("true")) = (&reachable, std::env::var("CI").as_deref()) {
        panic!("PostgreSQL is required in CI: {missing}");
    }
    reachable
}

/// Runs `scenario`; when it fails, the failure carries what the server logged meanwhile.
pub fn run_logged(server: &Server, scenario: impl FnOnce()) -> Result<(), Failed> {
    let before = server.log().len();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(scenario)).map_err(|e| {
        let log = server.log();
        Failed::from(format!(
            "{}\n===== the {} server's log meanwhile =====\n{}===== end of the server's log =====",
            panic_message(&e),
            server.name(),
            log.get(before..).unwrap_or(&log)
        ))
    })
}

fn panic_message(e: &Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panicked".to_owned())
}

/// Runs the tests (one at a time unless `--test-threads` is given), stops the shared servers, and exits with the
/// outcome.
pub fn main(trials: Vec<Trial>, shared: &[Arc<Shared>]) -> ! {
    let mut args = Arguments::from_args();
    args.test_threads.get_or_insert(1);
    let conclusion = libtest_mimic::run(&args, trials);
    for s in shared {
        s.stop();
    }
    conclusion.exit()
}
