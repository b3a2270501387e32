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
//! Which thread serves a CPU is not fixed: it is the thread that most of the connections arriving on that CPU
//! are on (its *home*), or, for a CPU no connection has come from yet, CPU number modulo threads. So when the
//! scheduler swaps two client threads between CPUs, each server thread keeps its group of connections, and only
//! the CPU its group arrives on changes.
//!
//! A client thread may still be on another CPU when it connects than when it works (wrk's two threads often make
//! all their connections from one CPU, before the scheduler spreads them). So a connection notes every
//! [`CHECK_EVERY`] reads where its packets arrive ([`NotingStream`]), and checks every [`CHECK_EVERY`]
//! requests; when two checks in a row find that its CPU's home is another thread with room, its next answer
//! carries `Connection: close`, and the client's new connection is placed afresh. Servers close keep-alive
//! connections this way for their own reasons all the time (nginx after 1,000 requests by default); HTTP
//! clients reconnect without an error.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How many more open connections a CPU's home thread may have than the least busy thread before a
/// connection arriving on that CPU goes to the least busy one instead. When every client thread happened to
/// connect from one CPU, grouping would put all the load on one thread; this keeps it spread.
const SLACK: usize = 2;

/// How many requests a connection serves between two looks at the CPU its packets arrive on.
pub const CHECK_EVERY: u32 = 256;

/// CPUs are counted modulo this many (more than a machine this tool runs on is likely to have).
const CPU_BUCKETS: usize = 64;

/// Not counted under any CPU.
const NO_BUCKET: usize = usize::MAX;

/// Open connections per server thread, how many of each thread's arrive on each CPU, and the choice of
/// thread for the next connection.
#[derive(Debug, Clone)]
pub struct Placement {
    counts: Arc<Counts>,
}

#[derive(Debug)]
struct Counts {
    open: Box<[AtomicUsize]>,
    /// `[thread * CPU_BUCKETS + cpu % CPU_BUCKETS]`: the thread's connections last seen arriving on that CPU.
    arriving: Box<[AtomicUsize]>,
}

/// A connection's place on a server thread, counted under the CPU it was last seen arriving on; dropping it
/// (the connection closed) frees the place.
#[derive(Debug)]
pub struct Seat {
    counts: Arc<Counts>,
    thread: usize,
    bucket: AtomicUsize,
}

impl Seat {
    pub fn thread(&self) -> usize {
        self.thread
    }

    /// Counts this connection under `cpu` from now on.
    fn note(&self, cpu: usize) {
        let bucket = cpu % CPU_BUCKETS;
        let old = self.bucket.swap(bucket, Ordering::Relaxed);
        if old != bucket {
            self.counts.arriving[self.thread * CPU_BUCKETS + bucket].fetch_add(1, Ordering::Relaxed);
            if old != NO_BUCKET {
                self.counts.arriving[self.thread * CPU_BUCKETS + old].fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.counts.open[self.thread].fetch_sub(1, Ordering::Relaxed);
        let bucket = *self.bucket.get_mut();
        if bucket != NO_BUCKET {
            self.counts.arriving[self.thread * CPU_BUCKETS + bucket].fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Placement {
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let zeros = |n: usize| (0..n).map(|_| AtomicUsize::new(0)).collect();
        Self { counts: Arc::new(Counts { open: zeros(threads), arriving: zeros(threads * CPU_BUCKETS) }) }
    }

    /// The thread for a new connection whose packets arrive on `cpu` (`None` where the OS does not say).
    pub fn place(&self, cpu: Option<usize>) -> Seat {
        let thread = choose(&self.open_now(), cpu.map(|cpu| self.home(cpu, None)));
        self.counts.open[thread].fetch_add(1, Ordering::Relaxed);
        let seat = Seat { counts: self.counts.clone(), thread, bucket: AtomicUsize::new(NO_BUCKET) };
        if let Some(cpu) = cpu {
            seat.note(cpu);
        }
        seat
    }

    /// Notes that `seat`'s connection now arrives on `cpu`, and says whether it would be placed on another
    /// thread if it connected again.
    fn would_move(&self, seat: &Seat, cpu: usize) -> bool {
        seat.note(cpu);
        let mut open = self.open_now();
        open[seat.thread] = open[seat.thread].saturating_sub(1);
        choose(&open, Some(self.home(cpu, Some(seat.thread)))) != seat.thread
    }

    /// The thread most of the connections arriving on `cpu` are on, not counting one on `excluding`; for a CPU
    /// none arrive on, `cpu` modulo threads.
    fn home(&self, cpu: usize, excluding: Option<usize>) -> usize {
        let threads = self.counts.open.len();
        let bucket = cpu % CPU_BUCKETS;
        let arriving = |t: usize| {
            let n = self.counts.arriving[t * CPU_BUCKETS + bucket].load(Ordering::Relaxed);
            if excluding == Some(t) { n.saturating_sub(1) } else { n }
        };
        match (0..threads).max_by_key(|&t| (arriving(t), std::cmp::Reverse(t))) {
            Some(t) if arriving(t) > 0 => t,
            _ => cpu % threads,
        }
    }

    fn open_now(&self) -> Vec<usize> {
        self.counts.open.iter().map(|n| n.load(Ordering::Relaxed)).collect()
    }
}

/// `preferred` if it has room, else the least busy thread.
fn choose(open: &[usize], preferred: Option<usize>) -> usize {
    let least = (0..open.len()).min_by_key(|&t| open[t]).unwrap_or(0);
    match preferred {
        Some(t) if open[t] <= open[least] + SLACK => t,
        _ => least,
    }
}

/// A [`Placed`] connection's CPU, as its [`NotingStream`] last saw it; `usize::MAX` before it has.
type CpuNote = Arc<AtomicUsize>;

const NO_CPU: usize = usize::MAX;

/// A connection on its server thread, counting its requests to check its place now and then.
#[derive(Debug)]
pub struct Placed {
    seat: Seat,
    placement: Placement,
    cpu: CpuNote,
    requests: AtomicU32,
    /// Whether the last check found the connection on the wrong thread.
    misplaced: AtomicBool,
}

impl Placed {
    pub fn new(seat: Seat, placement: Placement) -> Self {
        let cpu = Arc::new(AtomicUsize::new(NO_CPU));
        Self { seat, placement, cpu, requests: AtomicU32::new(0), misplaced: AtomicBool::new(false) }
    }

    /// The connection's socket, made to note where its packets arrive for this connection's checks.
    pub fn noting(&self, stream: tokio::net::TcpStream) -> NotingStream {
        NotingStream { stream, reads: 0, cpu: self.cpu.clone() }
    }

    /// Counts a request. True when its answer should close the connection, so that the client's next one is
    /// placed where its packets now arrive: two checks in a row found it on the wrong thread.
    pub fn should_move(&self) -> bool {
        let n = self.requests.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if !n.is_multiple_of(CHECK_EVERY) {
            return false;
        }
        let cpu = self.cpu.load(Ordering::Relaxed);
        if cpu == NO_CPU {
            return false;
        }
        let wrong = self.placement.would_move(&self.seat, cpu);
        let wrong_before = self.misplaced.swap(wrong, Ordering::Relaxed);
        wrong && wrong_before
    }
}

/// A connection's socket that notes, every [`CHECK_EVERY`] reads, the CPU its packets arrive on. (Asking on a
/// second handle of the socket would hold a second file descriptor per connection.)
#[derive(Debug)]
pub struct NotingStream {
    stream: tokio::net::TcpStream,
    reads: u32,
    cpu: CpuNote,
}

impl AsyncRead for NotingStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if read.is_ready() {
            this.reads = this.reads.wrapping_add(1);
            if this.reads.is_multiple_of(CHECK_EVERY) {
                this.cpu.store(incoming_cpu(&this.stream).unwrap_or(NO_CPU), Ordering::Relaxed);
            }
        }
        read
    }
}

impl AsyncWrite for NotingStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The CPU that the kernel last processed a socket's incoming packets on: for a connection over loopback, the
/// CPU its client thread sent from. `None` where the OS does not say.
#[cfg(target_os = "linux")]
pub fn incoming_cpu(socket: &impl std::os::fd::AsFd) -> Option<usize> {
    // socket2 reads the option as a C int and casts it: a -1 ("not known") arrives as usize::MAX.
    socket2::SockRef::from(socket).cpu_affinity().ok().filter(|&cpu| isize::try_from(cpu).is_ok())
}

#[cfg(not(target_os = "linux"))]
pub fn incoming_cpu<S>(_socket: &S) -> Option<usize> {
    None
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

    /// Which of `requests` requests' answers said to move.
    fn moves(placed: &Placed, requests: u32) -> Vec<u32> {
        (1..=requests).filter(|_| placed.should_move()).collect()
    }

    #[test]
    fn a_connection_moves_when_two_checks_find_its_cpu_served_by_a_thread_with_room() {
        // arrange: thread 0 holds three connections, thread 1 one
        let placement = Placement::new(2);
        let mut seats: Vec<Seat> = (0..3).map(|_| placement.place(Some(0))).collect();
        let _other = placement.place(Some(1));
        let placed = Placed::new(seats.remove(0), placement.clone());

        // act: the client now sends from cpu 1, for two checks' worth of requests
        placed.cpu.store(1, Ordering::Relaxed);
        let moved = moves(&placed, 2 * CHECK_EVERY);

        // assert: the first check only notices; the second says move
        assert_eq!(moved, [2 * CHECK_EVERY]);
    }

    #[test]
    fn a_connection_whose_cpu_changed_back_before_the_second_check_stays() {
        let placement = Placement::new(2);
        let placed = Placed::new(placement.place(Some(0)), placement.clone());
        placed.cpu.store(1, Ordering::Relaxed);
        assert!(moves(&placed, CHECK_EVERY).is_empty());
        placed.cpu.store(0, Ordering::Relaxed);
        assert!(moves(&placed, 3 * CHECK_EVERY).is_empty());
    }

    #[test]
    fn a_connection_stays_when_its_cpus_home_has_no_room() {
        let placement = Placement::new(2);
        let seats: Vec<Seat> = (0..8).map(|_| placement.place(Some(1))).collect();
        assert_eq!(placement.open_now(), [3, 5], "the slack sent three to thread 0");
        let on_zero = seats.iter().find(|s| s.thread() == 0).unwrap();
        let on_one = seats.iter().find(|s| s.thread() == 1).unwrap();

        assert!(!placement.would_move(on_zero, 1), "cpu 1's home, thread 1, has more than its share already");
        assert!(placement.would_move(on_one, 0), "cpu 0 has no home yet; thread 0 is cpu 0's by number, and has room");
    }

    #[test]
    fn when_client_threads_swap_cpus_each_group_stays_on_its_thread() {
        // arrange: four connections arrive on cpu 0 and are on thread 0; four on cpu 1, on thread 1
        let placement = Placement::new(2);
        let seats: Vec<Seat> = [0, 1, 0, 1, 0, 1, 0, 1].into_iter().map(|cpu| placement.place(Some(cpu))).collect();
        assert_eq!(threads_of(&seats), [0, 1, 0, 1, 0, 1, 0, 1]);

        // act: the scheduler swaps the client threads; every connection notes its new cpu
        for seat in &seats {
            seat.note(1 - seat.thread());
        }

        // assert: cpu 1's home is now thread 0, and no connection would move
        assert_eq!((placement.home(1, None), placement.home(0, None)), (0, 1));
        for seat in &seats {
            assert!(!placement.would_move(seat, 1 - seat.thread()), "thread {}", seat.thread());
        }
        assert_eq!(placement.place(Some(1)).thread(), 0, "a new connection from cpu 1 joins its group");
    }

    #[test]
    fn a_closed_connection_is_no_longer_counted_under_its_cpu() {
        let placement = Placement::new(2);
        let seat = placement.place(Some(5));
        assert_eq!(placement.home(5, None), seat.thread());
        drop(seat);
        assert_eq!(placement.home(5, None), 5 % 2, "no connection arrives on cpu 5 any more");
        assert_eq!(placement.open_now(), [0, 0]);
    }

    #[test]
    fn a_connection_whose_cpu_is_not_known_never_moves() {
        let placement = Placement::new(2);
        let placed = Placed::new(placement.place(Some(0)), placement.clone());
        assert!(moves(&placed, 4 * CHECK_EVERY).is_empty());
    }

    #[tokio::test]
    async fn the_stream_notes_its_cpu_every_check_and_passes_bytes_through() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let placement = Placement::new(2);
        let placed = Placed::new(placement.place(None), placement.clone());
        let mut stream = placed.noting(listener.accept().await.unwrap().0);

        let mut byte = [0u8; 1];
        for i in 0..CHECK_EVERY {
            assert_eq!(placed.cpu.load(Ordering::Relaxed), NO_CPU, "not noted before read {i}");
            client.write_all(&[i as u8]).await.unwrap();
            stream.read_exact(&mut byte).await.unwrap();
            assert_eq!(byte[0], i as u8);
        }
        stream.write_all(b"ok").await.unwrap();
        let mut answer = [0u8; 2];
        client.read_exact(&mut answer).await.unwrap();

        assert_eq!(&answer, b"ok");
        let noted = placed.cpu.load(Ordering::Relaxed);
        assert_eq!(noted != NO_CPU, cfg!(target_os = "linux"), "noted {noted} after {CHECK_EVERY} reads");
    }

    #[test]
    fn linux_says_which_cpu_a_loopback_connections_packets_arrive_on() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert_eq!(incoming_cpu(&accepted).is_some(), cfg!(target_os = "linux"), "Linux reports SO_INCOMING_CPU");
    }
}
