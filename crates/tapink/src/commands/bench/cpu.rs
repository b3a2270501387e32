//! CPU time (user + system) of this process, and of its threads grouped by thread name, read from
//! `/proc/self/stat` and `/proc/self/task`: a figure that moves far less than throughput when other work
//! shares the machine. Clock ticks are 10 ms,
//! so it is meant for phases of seconds or more.

use std::collections::BTreeMap;

/// Seconds of CPU per thread group, at one instant. Groups are the name prefixes given to
/// [`ThreadCpu::read`]; threads matching none count as "other".
#[derive(Debug, Clone, Default)]
pub struct ThreadCpu {
    by_group: BTreeMap<&'static str, f64>,
}

impl ThreadCpu {
    /// Reads every live thread's CPU time, each counted in the first group whose prefix its name starts with.
    pub fn read(groups: &[(&'static str, &'static str)]) -> Self {
        let mut by_group = BTreeMap::new();
        for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
            let path = task.path();
            let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            let Ok(stat) = std::fs::read_to_string(path.join("stat")) else { continue };
            let group = groups.iter().find(|(prefix, _)| name.starts_with(prefix)).map_or("other", |g| g.1);
            *by_group.entry(group).or_insert(0.0) += seconds(&stat);
        }
        ThreadCpu { by_group }
    }

    /// CPU seconds of `group` between `earlier` and this reading (threads that ended meanwhile are lost).
    pub fn since(&self, earlier: &ThreadCpu, group: &str) -> f64 {
        let at = |cpu: &ThreadCpu| cpu.by_group.get(group).copied().unwrap_or(0.0);
        (at(self) - at(earlier)).max(0.0)
    }
}

/// CPU seconds the whole process has used so far, threads that have ended included (0 where `/proc/self`
/// cannot be read).
pub fn process() -> f64 {
    std::fs::read_to_string("/proc/self/stat").map_or(0.0, |stat| seconds(&stat))
}

/// CPU seconds the calling thread has used so far (0 where `/proc/thread-self` cannot be read).
pub fn this_thread() -> f64 {
    std::fs::read_to_string("/proc/thread-self/stat").map_or(0.0, |stat| seconds(&stat))
}

/// utime + stime of a `/proc/.../stat` line, in seconds (USER_HZ is 100). The command name may hold spaces,
/// so fields are counted after its closing parenthesis: state, ppid, … with utime and stime 12th and 13th.
fn seconds(stat: &str) -> f64 {
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (field(11) + field(12)) / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_and_stime_are_read_after_a_name_with_spaces() {
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 150 0 0";
        assert!((seconds(stat) - 4.0).abs() < 1e-9);
    }

    #[test]
    fn busy_work_shows_up_in_the_calling_threads_group_and_the_process() {
        let groups = [("", "all")];
        let before = ThreadCpu::read(&groups);
        let process_before = process();
        let thread_before = this_thread();
        // Busy until this thread has had 0.3 s of CPU (however loaded the machine), at most 30 s.
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while this_thread() - thread_before < 0.3 && started.elapsed().as_secs() < 30 {
            for _ in 0..100_000 {
                x = x.wrapping_mul(31).wrapping_add(std::hint::black_box(7));
            }
        }
        std::hint::black_box(x);
        let after = ThreadCpu::read(&groups);
        assert!(after.since(&before, "all") >= 0.25, "{}", after.since(&before, "all"));
        assert!(process() - process_before >= 0.25, "{}", process() - process_before);
    }
}
