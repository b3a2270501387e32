//! The real `tapink inkit`, `tapink engine` or `tapink up` binary as a child process: start it, read the URLs it
//! prints, stop it with SIGTERM the way a terminal or a service manager does, and kill it whatever happens to the
//! test.

use std::ffi::OsStr;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use crate::{Client, tapink_binary};

/// How long tapink may take to print its "listening on" lines.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long tapink may take to exit after SIGTERM (the servers drain for up to 10 s).
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `tapink inkit`, `tapink engine` or `tapink up`. Dropping it kills the process, so a failing test
/// leaves nothing behind.
pub struct TapinkProcess {
    /// `http://127.0.0.1:PORT`, from the (last) "listening on" line the process printed: the engine API's for
    /// `tapink up`.
    pub url: String,
    /// Every URL of the "listening on" lines, in the order the command prints them (`tapink up`: inkit-mock's,
    /// then the engine API's).
    pub urls: Vec<String>,
    /// The first "listening on" line, as printed (the first line of stdout but for `preamble`).
    pub first_line: String,
    /// Every "listening on" line, without its line end.
    pub listening_lines: Vec<String>,
    /// Lines printed before the "listening on" line, without their line ends.
    pub preamble: Vec<String>,
    child: Child,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<String>>,
}

impl TapinkProcess {
    /// Runs `tapink inkit ARGS…` and waits for `inkit-mock listening on URL`; panics with the process's
    /// stderr when it exits or stays silent instead.
    pub async fn start<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self::start_command("inkit", &["inkit-mock listening on "], STARTUP_TIMEOUT, args).await
    }

    /// Runs `tapink engine ARGS…` and waits for `engine-api listening on URL`; what it printed before (the
    /// `loaded FILE: …` lines) is in `preamble`.
    pub async fn start_engine<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self::start_command("engine", &["engine-api listening on "], STARTUP_TIMEOUT, args).await
    }

    /// Runs `tapink up ARGS…` and waits for its two lines, `inkit-mock listening on URL …` then `engine-api
    /// listening on URL …`: `urls` holds both, `url` is the engine API's (see [`TapinkProcess::inkit_url`]).
    pub async fn start_up<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self::start_up_within(STARTUP_TIMEOUT, args).await
    }

    /// [`TapinkProcess::start_up`], allowing `startup` for the two lines: a restart on a data directory
    /// replays its journal, outbox and History before it listens.
    pub async fn start_up_within<I, S>(startup: Duration, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Self::start_command("up", &["inkit-mock listening on ", "engine-api listening on "], startup, args).await
    }

    /// The mock Inkit's URL, from `tapink up`'s first line.
    pub fn inkit_url(&self) -> &str {
        &self.urls[0]
    }

    /// Runs `tapink SUBCOMMAND ARGS…` and reads stdout until it has seen, in order, a line starting with each
    /// of `prefixes` followed by a URL (what follows the URL on the line is left out).
    async fn start_command<I, S>(subcommand: &str, prefixes: &[&str], startup: Duration, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut child = tapink_command(
            std::iter::once(OsStr::new(subcommand).to_owned()).chain(args.into_iter().map(|a| a.as_ref().to_owned())),
        )
        .env("RUST_LOG", "info")
        .spawn()
        .unwrap_or_else(|e| panic!("starting tapink {subcommand}: {e}"));
        // Drain stderr all along, so a chatty process never blocks on a full pipe.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap_or_else(|p| p.into_inner()).push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut process = Self {
            url: String::new(),
            urls: Vec::new(),
            first_line: String::new(),
            listening_lines: Vec::new(),
            preamble: Vec::new(),
            child,
            stdout,
            stderr,
        };
        let deadline = tokio::time::Instant::now() + startup;
        loop {
            let mut line = String::new();
            match tokio::time::timeout_at(deadline, process.stdout.read_line(&mut line)).await {
                Ok(Ok(n)) if n > 0 => {}
                Ok(_) => {
                    let status = process.wait_for_exit().await;
                    panic!(
                        "tapink {subcommand} exited ({status}) before printing its URL; stdout:\n{}\nstderr:\n{}",
                        process.preamble.join("\n"),
                        process.stderr()
                    );
                }
                Err(_) => panic!(
                    "tapink {subcommand} printed no URL on stdout within {startup:?}; stderr:\n{}",
                    process.stderr()
                ),
            }
            let prefix = prefixes[process.urls.len()];
            if let Some(rest) = line.trim_end().strip_prefix(prefix) {
                let url = rest.split_whitespace().next().unwrap_or_default().to_owned();
                if process.urls.is_empty() {
                    process.first_line = line.clone();
                }
                process.urls.push(url.clone());
                process.listening_lines.push(line.trim_end().to_owned());
                if process.urls.len() == prefixes.len() {
                    process.url = url;
                    return process;
                }
                continue;
            }
            if !process.urls.is_empty() {
                panic!("tapink {subcommand} printed {line:?} where {prefix:?} was expected");
            }
            process.preamble.push(line.trim_end().to_owned());
        }
    }

    /// A client for this process with `token`.
    pub fn client(&self, token: Option<&str>) -> Client {
        Client::new(&self.url, token)
    }

    /// What the process has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the process is still running")
    }

    /// Sends SIGTERM (with the `kill` command: no libc in these tests).
    pub fn send_sigterm(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("running kill -TERM");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Waits for the process to exit; panics when it takes longer than `EXIT_TIMEOUT`.
    pub async fn wait_for_exit(&mut self) -> ExitStatus {
        match tokio::time::timeout(EXIT_TIMEOUT, self.child.wait()).await {
            Ok(status) => status.expect("waiting for tapink"),
            Err(_) => panic!("tapink did not exit within {EXIT_TIMEOUT:?}; stderr:\n{}", self.stderr()),
        }
    }

    /// SIGTERM, then waits for the exit.
    pub async fn terminate(&mut self) -> ExitStatus {
        self.send_sigterm();
        self.wait_for_exit().await
    }

    /// Everything printed on stdout after the first line, up to the end (call once the process exited).
    pub async fn rest_of_stdout(&mut self) -> String {
        let mut rest = String::new();
        tokio::time::timeout(Duration::from_secs(5), self.stdout.read_to_string(&mut rest))
            .await
            .expect("stdout closes once the process has exited")
            .expect("reading stdout");
        rest
    }
}

impl Drop for TapinkProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A loopback address with a port free at the moment: for a process that must come back on the same port
/// after a restart.
pub fn free_loopback_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local addr").to_string()
}

/// Sends SIGKILL (with the `kill` command: no libc in these tests) and waits for the exit: a crash, with no
/// chance to clean up.
pub async fn kill_hard(process: &mut TapinkProcess) -> ExitStatus {
    let status = std::process::Command::new("kill").args(["-KILL", &process.pid().to_string()]).status();
    assert!(status.expect("kill -KILL").success());
    process.wait_for_exit().await
}

/// `tapink ARGS…` as every test runs it: no stdin, stdout and stderr captured, no colours, killed when the
/// test drops it.
fn tapink_command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(tapink_binary());
    command
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs `tapink ARGS…` to completion (for commands expected to exit by themselves), killing it after
/// `timeout`. Returns its status, stdout and stderr.
pub async fn run_tapink<I, S>(args: I, timeout: Duration) -> (ExitStatus, String, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_to_completion(tapink_command(args), timeout).await
}

/// Runs a command to completion with stdin closed and its output captured, killing it after `timeout`.
/// Returns its status, stdout and stderr.
pub async fn run_to_completion(mut command: Command, timeout: Duration) -> (ExitStatus, String, String) {
    let what = format!("{:?}", command.as_std().get_program());
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let child = command.spawn().unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not exit within {timeout:?}"))
        .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
