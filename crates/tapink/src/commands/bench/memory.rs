//! Resident memory as Linux reports it for this process: the peak (`VmHWM`) and the current size (`VmRSS`)
//! from `/proc/self/status`, and the peak reset to the current size by writing `5` to `/proc/self/clear_refs`,
//! so each phase's peak is its own. Where the reset is refused the peak is not reported, rather than one
//! that includes earlier phases.

/// The current resident size, in bytes.
pub fn current_rss() -> Option<u64> {
    status_kib("VmRSS:").map(|kib| kib * 1024)
}

/// The peak resident size since the start or the last reset, in bytes.
pub fn peak_rss() -> Option<u64> {
    status_kib("VmHWM:").map(|kib| kib * 1024)
}

/// Resets the peak to the current size; the error says why it could not be.
pub fn reset_peak() -> Result<(), String> {
    std::fs::write("/proc/self/clear_refs", "5").map_err(|e| format!("writing 5 to /proc/self/clear_refs: {e}"))
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_kib(&status, field)
}

/// The value of `field` (e.g. `VmHWM:`) in a `/proc/PID/status` text, in KiB.
fn parse_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// One phase's memory: the size at its start and its peak, or why the peak is not known.
#[derive(Debug, Clone)]
pub struct PhaseMemory {
    pub rss_at_start: Option<u64>,
    reset: Result<(), String>,
}

impl PhaseMemory {
    /// Starts measuring: resets the peak.
    pub fn start() -> Self {
        let reset = reset_peak();
        PhaseMemory { rss_at_start: current_rss(), reset }
    }

    /// The peak since [`PhaseMemory::start`], or why it is not known.
    pub fn peak(&self) -> Result<u64, String> {
        self.reset.clone()?;
        peak_rss().ok_or_else(|| "VmHWM is not in /proc/self/status".to_owned())
    }
}

/// Bytes as MiB, for tables.
pub fn mib(bytes: u64) -> String {
    format!("{} MiB", crate::number_format::group(bytes / (1024 * 1024)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_field_is_read_in_kib() {
        let status = "Name:\ttapink\nVmHWM:\t  123456 kB\nVmRSS:\t   1000 kB\n";
        assert_eq!(parse_kib(status, "VmHWM:"), Some(123_456));
        assert_eq!(parse_kib(status, "VmRSS:"), Some(1_000));
        assert_eq!(parse_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn the_peak_after_a_reset_is_at_least_the_current_size() {
        let phase = PhaseMemory::start();
        match phase.peak() {
            Ok(peak) => assert!(peak >= phase.rss_at_start.unwrap_or(0) / 2, "peak {peak}"),
            Err(why) => assert!(why.contains("clear_refs") || why.contains("VmHWM"), "{why}"),
        }
    }
}
