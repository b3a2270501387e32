//! The real `tapink inkit` binary as a child process: start it, read the URL it prints, stop it with
//! SIGTERM the way a terminal or a service manager does, and kill it whatever happens to the test.

use std::ffi::OsStr;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use crate::{Client, tapink_binary};

/// How long `tapink inkit` may take to print its "listening on" line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `tapink inkit` may take to exit after SIGTERM (the mock drains for up to 10 s).
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `tapink inkit`. Dropping it kills the process, so a failing test leaves nothing behind.
pub struct TapinkProcess {
    /// `http://127.0.0.1:PORT`, from the line the process printed.
    pub url: String,
    /// The first line of stdout, as printed.
    pub first_line: String,
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
        let mut child = tapink_command(
            std::iter::once(OsStr::new("inkit").to_owned()).chain(args.into_iter().map(|a| a.as_ref().to_owned())),
        )
        .env("RUST_LOG", "info")
        .spawn()
        .expect("starting tapink inkit");
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
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut first_line = String::new();
        let read = tokio::time::timeout(STARTUP_TIMEOUT, stdout.read_line(&mut first_line)).await;
        let mut process = Self { url: String::new(), first_line, child, stdout, stderr };
        match read {
            Ok(Ok(n)) if n > 0 => {}
            Ok(_) => {
                let status = process.wait_for_exit().await;
                panic!("tapink inkit exited ({status}) before printing its URL; stderr:\n{}", process.stderr());
            }
            Err(_) => panic!(
                "tapink inkit printed nothing on stdout within {STARTUP_TIMEOUT:?}; stderr:\n{}",
                process.stderr()
            ),
        }
        let url = process
            .first_line
            .trim_end()
            .strip_prefix("inkit-mock listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {:?}", process.first_line))
            .to_owned();
        process.url = url;
        process
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
            Err(_) => panic!("tapink inkit did not exit within {EXIT_TIMEOUT:?}; stderr:\n{}", self.stderr()),
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
    let child = tapink_command(args).spawn().expect("starting tapink");
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("tapink did not exit within {timeout:?}"))
        .expect("waiting for tapink");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
