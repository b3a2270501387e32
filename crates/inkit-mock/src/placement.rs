//! Which server thread serves a new connection: the one serving the other connections whose packets arrive on
//! the same CPU, unless that would leave the threads clearly unbalanced.
//!
//! A client thread (one of wrk's, or a runtime thread of the dispatcher) sends on all its connections from the
//! CPU it runs on, and the kernel records that CPU on the socket (`SO_INCOMING_CPU`). Handing one client
//! thread's connections to one server thread lets the scheduler keep the pair together: a request wakes one
//! server thread, and the answer one client thread. Handed round-robin, every server thread served
//! connections of every client thread, so each request could wake a thread on the other core. With wrk
//! (2 threads, 32 connections) on the 2-core machine: 62,700-67,100 requests/s round-robin, 68,700-77,400
//! grouped, in alternating runs (docs/benchmarks.md, inkit-mock, "Fifth round").
//!
//! A client thread may still be on the wrong CPU when it connects (wrk's two threads often make all their
//! connections from one CPU, before the scheduler spreads them), and the scheduler may move it later. So a
//! connection checks every [`CHECK_EVERY`] requests where its packets arrive; when two checks in a row point
//! to another server thread that has room, its next answer carries `Connection: close`, and the client's
//! new connection is placed afresh. Servers close keep-alive connections this way for their own reasons all
//! the time (nginx after 1,000 requests by default); HTTP clients reconnect without an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

/// How many more open connections the thread a connection's CPU points to may have than the least busy
/// thread before the connection goes to the least busy one instead. When every client thread happened to
/// connect from one CPU, grouping would put all the load on one thread; this keeps it spread.
const SLACK: usize = 2;

/// How many requests a connection serves between two looks at the CPU its packets arrive on.
pub const CHECK_EVERY: u32 = 256;

/// Open connections per server thread, and the choice of thread for the next one.
#[derive(Debug, Clone)]
pub struct Placement {
    open: Arc<[AtomicUsize]>,
}

/// A connection's place on a server thread; dropping it (the connection closed) frees the place.
#[derive(Debug)]
pub struct Seat {
    open: Arc<[AtomicUsize]>,
    thread: usize,
}

impl Seat {
    pub fn thread(&self) -> usize {
        self.thread
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.open[self.thread].fetch_sub(1, Ordering::Relaxed);
    }
}

impl Placement {
    pub fn new(threads: usize) -> Self {
        Self { open: (0..threads.max(1)).map(|_| AtomicUsize::new(0)).collect() }
    }

    /// The thread for a new connection whose packets arrive on `cpu` (`None` where the OS does not say).
    pub fn place(&self, cpu: Option<usize>) -> Seat {
        let thread = choose(&self.open_now(), cpu);
        self.open[thread].fetch_add(1, Ordering::Relaxed);
        Seat { open: self.open.clone(), thread }
    }

    /// Whether a connection on `thread` whose packets now arrive on `cpu` would be placed on another thread
    /// if it connected again.
    fn would_move(&self, thread: usize, cpu: usize) -> bool {
        let mut open = self.open_now();
        open[thread] = open[thread].saturating_sub(1);
        choose(&open, Some(cpu)) != thread
    }

    fn open_now(&self) -> Vec<usize> {
        self.open.iter().map(|n| n.load(Ordering::Relaxed)).collect()
    }
}

/// The thread `cpu` points to if it has room, else the least busy one.
fn choose(open: &[usize], cpu: Option<usize>) -> usize {
    let least = (0..open.len()).min_by_key(|&t| open[t]).unwrap_or(0);
    match cpu.map(|cpu| cpu % open.len()) {
        Some(t) if open[t] <= open[least] + SLACK => t,
        _ => least,
    }
}

/// A connection on its server thread, counting its requests to check its place now and then.
#[derive(Debug)]
pub struct Placed {
    seat: Seat,
    placement: Placement,
    /// The connection's socket, to ask where its packets arrive (a second handle; `None` if it could not be
    /// made, and then the connection stays where it is).
    probe: Option<std::net::TcpStream>,
    requests: AtomicU32,
    /// Whether the last check found the connection on the wrong thread.
    misplaced: AtomicBool,
}

impl Placed {
    pub fn new(seat: Seat, placement: Placement, probe: Option<std::net::TcpStream>) -> Self {
        Self { seat, placement, probe, requests: AtomicU32::new(0), misplaced: AtomicBool::new(false) }
    }

    /// Counts a request. True when its answer should close the connection, so that the client's next one is
    /// placed where its packets now arrive: two checks in a row found it on the wrong thread.
    pub fn should_move(&self) -> bool {
        let n = self.requests.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if !n.is_multiple_of(CHECK_EVERY) {
            return false;
        }
        let Some(cpu) = self.probe.as_ref().and_then(incoming_cpu) else { return false };
        let wrong = self.placement.would_move(self.seat.thread, cpu);
        let wrong_before = self.misplaced.swap(wrong, Ordering::Relaxed);
        wrong && wrong_before
    }
}

/// The CPU that the kernel last processed `stream`'s incoming packets on: for a connection over loopback, the
/// CPU its client thread sent from.
pub fn incoming_cpu(stream: &std::net::TcpStream) -> Option<usize> {
    #[cfg(target_os = "linux")]
    return socket2::SockRef::from(stream).cpu_affinity().ok();
    #[cfg(not(target_os = "linux"))]
    {
        let _ = stream;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threads_of(seats: &[Seat]) -> Vec<usize> {
        seats.iter().map(Seat::thread).collect()
    }

    #[test]
    fn connections_arriving_on_one_cpu_share_a_thread() {
        let placement = Placement::new(2);
        let seats: Vec<Seat> = [0, 1, 0, 1, 1, 0, 3, 2].into_iter().map(|cpu| placement.place(Some(cpu))).collect();
        assert_eq!(threads_of(&seats), [0, 1, 0, 1, 1, 0, 1, 0], "cpu 3 and cpu 2 map onto the two threads");
    }

    #[test]
    fn when_every_connection_arrives_on_one_cpu_the_threads_still_share_them() {
        let placement = Placement::new(2);
        let seats: Vec<Seat> = (0..32).map(|_| placement.place(Some(1))).collect();
        let on_one = threads_of(&seats).iter().filter(|&&t| t == 1).count();
        assert!((16..=16 + SLACK).contains(&on_one), "{on_one} of 32 on the cpu's thread");
    }

    #[test]
    fn without_a_cpu_connections_go_to_the_least_busy_thread() {
        let placement = Placement::new(3);
        let seats: Vec<Seat> = (0..6).map(|_| placement.place(None)).collect();
        assert_eq!(threads_of(&seats), [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn a_closed_connection_frees_its_place() {
        let placement = Placement::new(2);
        let mut seats: Vec<Seat> = (0..4).map(|_| placement.place(Some(0))).collect();
        assert_eq!(threads_of(&seats), [0, 0, 0, 1], "the third over the slack went to the other thread");
        seats.truncate(1); // three connections closed: thread 0 has 1 open, thread 1 none
        assert_eq!(placement.place(Some(0)).thread(), 0, "back within the slack");
    }

    #[test]
    fn a_connection_moves_when_two_checks_find_its_cpu_served_by_a_thread_with_room() {
        // arrange: thread 0 holds three connections, thread 1 one; the first of thread 0's is probed
        let placement = Placement::new(2);
        let (_client, accepted) = loopback_pair();
        let mut seats: Vec<Seat> = (0..3).map(|_| placement.place(Some(0))).collect();
        let _other = placement.place(Some(1));
        let placed = Placed::new(seats.remove(0), placement.clone(), Some(accepted));
        let cpu = incoming_cpu(placed.probe.as_ref().unwrap()).unwrap_or(0);
        let wrong = !cpu.is_multiple_of(2);

        // act: two checks' worth of requests
        let answers: Vec<bool> = (0..2 * CHECK_EVERY).map(|_| placed.should_move()).collect();

        // assert: only the second check's request may say move, and only if the socket's cpu is thread 1's
        let moves: Vec<usize> = answers.iter().enumerate().filter(|(_, m)| **m).map(|(i, _)| i + 1).collect();
        let expected = if wrong { vec![2 * CHECK_EVERY as usize] } else { vec![] };
        assert_eq!(moves, expected, "cpu {cpu}");
    }

    #[test]
    fn a_connection_stays_when_the_thread_its_cpu_points_to_has_no_room() {
        let placement = Placement::new(2);
        let seats: Vec<Seat> = (0..8).map(|_| placement.place(Some(1))).collect();
        let on_zero = seats.iter().find(|s| s.thread() == 0).expect("the slack sent some to thread 0");
        assert!(!placement.would_move(on_zero.thread(), 1), "thread 1 has more than its share already");
        assert_eq!(placement.open_now(), [3, 5]);
        assert!(placement.would_move(1, 0), "thread 0 has room for a connection of thread 1 that arrives on cpu 0");
    }

    #[test]
    fn a_connection_without_a_probe_never_moves() {
        let placement = Placement::new(2);
        let placed = Placed::new(placement.place(Some(0)), placement.clone(), None);
        assert!((0..4 * CHECK_EVERY).all(|_| !placed.should_move()));
    }

    fn loopback_pair() -> (std::net::TcpStream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (client, listener.accept().unwrap().0)
    }

    #[test]
    fn linux_says_which_cpu_a_loopback_connections_packets_arrive_on() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert_eq!(incoming_cpu(&accepted).is_some(), cfg!(target_os = "linux"), "Linux reports SO_INCOMING_CPU");
    }
}
