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

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many more open connections the thread a connection's CPU points to may have than the least busy
/// thread before the connection goes to the least busy one instead. When every client thread happened to
/// connect from one CPU, grouping would put all the load on one thread; this keeps it spread.
const SLACK: usize = 2;

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
        let open: Vec<usize> = self.open.iter().map(|n| n.load(Ordering::Relaxed)).collect();
        let least = (0..open.len()).min_by_key(|&t| open[t]).unwrap_or(0);
        let thread = match cpu.map(|cpu| cpu % open.len()) {
            Some(t) if open[t] <= open[least] + SLACK => t,
            _ => least,
        };
        self.open[thread].fetch_add(1, Ordering::Relaxed);
        Seat { open: self.open.clone(), thread }
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
    fn linux_says_which_cpu_a_loopback_connections_packets_arrive_on() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert_eq!(incoming_cpu(&accepted).is_some(), cfg!(target_os = "linux"), "Linux reports SO_INCOMING_CPU");
    }
}
