//! `tapink demo` as a newcomer runs it: the seed's steps in order, then a summary where every user's
//! document is in History.

use std::time::Duration;

use integration_tests::run_tapink;

#[tokio::test]
async fn the_demo_walks_the_seed_steps_in_order_and_every_user_gets_a_document() {
    // act
    let (status, stdout, stderr) =
        run_tapink(["demo", "--inkit-addr", "127.0.0.1:0", "--users", "500"], Duration::from_secs(120)).await;

    // assert
    assert!(status.success(), "exit {status}; stderr:\n{stderr}\nstdout:\n{stdout}");
    let steps = [
        "Step 1 · Create a template in Inkit",
        "Step 2 · Create the webhook in CleverTap",
        "Step 3 · Create the webhook campaign",
        "Step 4 · Preview and Test",
        "Step 5 · Check Inkit's History",
        "Step 6 · Publish to 500 synthetic users",
        "Summary of campaign",
    ];
    let mut from = 0;
    for step in steps {
        let at = stdout[from..].find(step).unwrap_or_else(|| panic!("{step:?} missing or out of order in:\n{stdout}"));
        from += at + step.len();
    }
    let line = |label: &str| -> String {
        let line = stdout.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("{label}"));
        line.split_whitespace().last().unwrap_or_default().to_owned()
    };
    assert_eq!(line("qualified"), "500");
    assert_eq!(line("delivered (HTTP 200)"), "500");
    assert_eq!(line("failed"), "0");
    assert_eq!(line("documents in Inkit's History"), "501", "500 users and the Send Test");
    assert!(stdout.contains("\"phone number\": \"+14155550100\""), "the preview shows the rendered body:\n{stdout}");
}

#[tokio::test]
async fn the_demo_explains_a_busy_port_instead_of_failing_obscurely() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = busy.local_addr().expect("addr").to_string();
    let (status, _stdout, stderr) =
        run_tapink(["demo", "--inkit-addr", addr.as_str(), "--users", "1"], Duration::from_secs(60)).await;
    assert!(!status.success());
    assert!(stderr.contains(&format!("cannot listen on {addr}")) && stderr.contains("--inkit-addr"), "{stderr}");
}
