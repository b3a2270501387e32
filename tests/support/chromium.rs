//! Headless Chromium for dashboard tests: load a page, let its scripts run, and return the DOM as the page
//! left it (or a screenshot), plus small helpers to find elements in that DOM without an HTML parser.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// How long one Chromium run may take before it is killed and the test fails.
pub const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);

/// Loads `url` in headless Chromium, runs its scripts for 5 s of virtual time, and returns the DOM.
/// Runs as a child process, so an in-process mock on the test's runtime keeps serving meanwhile.
pub async fn chromium_dump_dom(chromium: &Path, url: &str) -> String {
    let out = run_chromium(chromium, &["--dump-dom".to_owned()], url).await;
    let dom = String::from_utf8_lossy(&out).into_owned();
    assert!(dom.contains("<html"), "Chromium printed no DOM for {url}: {dom:?}");
    dom
}

/// Loads `url` in a `width`×`height` window and saves a PNG screenshot to `png`.
pub async fn chromium_screenshot(chromium: &Path, url: &str, png: &Path, width: u32, height: u32) {
    let args = [format!("--screenshot={}", png.display()), format!("--window-size={width},{height}")];
    run_chromium(chromium, &args, url).await;
}

async fn run_chromium(chromium: &Path, extra: &[String], url: &str) -> Vec<u8> {
    let profile = tempfile::tempdir().expect("temporary Chromium profile directory");
    let mut command = tokio::process::Command::new(chromium);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Chromium prints harmless dbus and GPU noise on stderr.
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium.display()));
    let output = tokio::time::timeout(CHROMIUM_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("Chromium did not finish loading {url} within {CHROMIUM_TIMEOUT:?}; killed it"))
        .expect("waiting for Chromium");
    assert!(output.status.success(), "Chromium failed on {url}: {}", output.status);
    output.stdout
}

/// A fresh path for a file in a temporary directory that lives as long as the returned guard.
pub fn temp_file(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join(name);
    (dir, path)
}

/// The outer HTML of the element whose opening tag carries `attr="value"`, from its `<` to the end of
/// its matching closing tag; `None` when there is no such element. Good enough for the DOM Chromium
/// serialises (well-formed, attributes double-quoted).
pub fn element_with<'a>(dom: &'a str, attr: &str, value: &str) -> Option<&'a str> {
    let needle = format!("{attr}=\"{value}\"");
    let mut search_from = 0;
    while let Some(found) = dom[search_from..].find(&needle) {
        let at = search_from + found;
        search_from = at + needle.len();
        let start = dom[..at].rfind('<')?;
        // The attribute must be inside this opening tag, not in text after a closed tag.
        if dom[start..at].contains('>') {
            continue;
        }
        let tag: String = dom[start + 1..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        let end = matching_close(dom, start, &tag)?;
        return Some(&dom[start..end]);
    }
    None
}

/// The outer HTML of the element with `id="…"`.
pub fn element_by_id<'a>(dom: &'a str, id: &str) -> Option<&'a str> {
    element_with(dom, "id", id)
}

/// Where the element opened at `start` ends (just past its closing tag), counting nested same-name tags.
fn matching_close(dom: &str, start: usize, tag: &str) -> Option<usize> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut depth = 0usize;
    let mut i = start;
    loop {
        let next_open = find_open_tag(dom, i, &open);
        let next_close = dom[i..].find(&close).map(|p| p + i)?;
        match next_open {
            Some(o) if o < next_close => {
                depth += 1;
                i = o + open.len();
            }
            _ => {
                depth = depth.checked_sub(1)?;
                i = next_close + close.len();
                if depth == 0 {
                    return Some(i);
                }
            }
        }
    }
}

/// The next `<tag` at or after `from` that opens that very tag (`<tr` must not match `<track`).
fn find_open_tag(dom: &str, from: usize, open: &str) -> Option<usize> {
    let mut i = from;
    while let Some(p) = dom[i..].find(open).map(|p| p + i) {
        if dom[p + open.len()..].starts_with(|c: char| c == '>' || c.is_ascii_whitespace() || c == '/') {
            return Some(p);
        }
        i = p + open.len();
    }
    None
}

/// The values of `attr` on every opening tag in `html`, in document order.
pub fn attribute_values(html: &str, attr: &str) -> Vec<String> {
    let needle = format!(" {attr}=\"");
    let mut values = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(&needle) {
        rest = &rest[at + needle.len()..];
        let end = rest.find('"').unwrap_or(rest.len());
        values.push(unescape(&rest[..end]));
        rest = &rest[end..];
    }
    values
}

/// The text a person reads in `html`: tags removed, entities decoded, runs of whitespace made one space.
pub fn text_content(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                // Table cells and blocks read as separate words.
                text.push(' ');
            }
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    unescape(&text).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_with_finds_the_matching_close_across_nesting() {
        let dom = r#"<div><tbody id="t"><tr data-id="a"><td>A &amp; B</td></tr><tr data-id="b"><td><table><tr><td>x</td></tr></table></td></tr></tbody></div>"#;
        let body = element_by_id(dom, "t").unwrap();
        assert!(body.starts_with("<tbody") && body.ends_with("</tbody>"));
        assert_eq!(attribute_values(body, "data-id"), ["a", "b"]);
        let b = element_with(body, "data-id", "b").unwrap();
        assert!(b.ends_with("</table></td></tr>"), "{b}");
        assert_eq!(text_content(element_with(body, "data-id", "a").unwrap()), "A & B");
        assert!(element_by_id(dom, "missing").is_none());
    }
}
