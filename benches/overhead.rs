//! Client-overhead benchmark (issue 5; method and figures in docs/overhead.md).
//!
//! Drives the zero-delay `fast-sse` server (tests/mock-ollama, its own
//! process) with llmbench's real backend, executor and record writer, and
//! prints what llmbench costs:
//!
//! - throughput: requests/s and chunks/s of 256-chunk streams at concurrency
//!   1, 16 and 64; llmbench's CPU time per request (getrusage of this process:
//!   the server is another process, so it is not counted); peak RSS (VmHWM,
//!   reset before each run through /proc/self/clear_refs) and the largest RSS
//!   in the first and the second half of the run (growth = per-request state);
//! - timing accuracy: the server writes the first content chunk 200 ms after
//!   the request reached it and one every 10 ms after it; the error of
//!   llmbench's recorded ttft and chunk gaps against those, at concurrency 1
//!   and 64. The server stamps each chunk with its CLOCK_MONOTONIC write time
//!   and deadline (`--stamp`), which this process can read on the same clock,
//!   so the error is split into request send (t0 → the kernel received the
//!   request at the server's socket, SO_TIMESTAMPNS; the server's deadlines
//!   count from there), server lateness (write − deadline) and response path
//!   (write → llmbench stamped the arrival);
//! - layers: the same load through raw TCP, reqwest alone, reqwest plus the
//!   SSE decoder and the full executor (and the decoder alone, no I/O), with
//!   chunked and Content-Length framing, to split the cost per request;
//! - planning 100,000 cells and aggregating 1,000,000 records, each timed.
//!
//! Run: `cargo bench --bench overhead` (add `-- --quick` for a short run,
//! `-- --only throughput,report,layers,timing,plan,aggregate` to pick parts,
//! where `report` reads the c=64 run back and aggregates it as `llmbench
//! report` would; `-- --concurrency 64` for one level, `-- --requests N` for
//! the c=64 request count; more options in docs/overhead.md). The server
//! binary is target/release/fast-sse, built with
//! `cargo build --release -p mock-ollama --bin fast-sse` when missing or older
//! than its source (`FAST_SSE_BIN` overrides the path).

#[path = "support/mod.rs"]
mod support;

use llmbench::backend::Backend;
use llmbench::exec::{execute, ExecOptions, Progress, ProgressMode, Target, WithProgress};
use llmbench::experiment::Experiment;
use llmbench::plan::Plan;
use llmbench::record::Record;
use llmbench::store::{RecordWriter, RunDir};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TTFT_MS: f64 = 200.0;
const ITL_MS: f64 = 10.0;
const TIMED_CHUNKS: usize = 32;
const STREAM_CHUNKS: usize = 256;

struct Args {
    quick: bool,
    only: Vec<String>,
    server_threads: usize,
    requests: Option<u64>,
    spin_us: Option<u64>,
    keep: bool,
    levels: Option<Vec<u32>>,
    quiet_wait_s: f64,
    aggregate_timeout_s: f64,
    /// `--aggregate-shape CELLSxPER`: time only that shape.
    aggregate_shape: Option<(usize, usize)>,
    /// `--aggregate-dump DIR`: write each shape's summary there as JSON
    /// (to compare two builds' numbers byte for byte).
    aggregate_dump: Option<PathBuf>,
    /// `--aggregate-interleaved`: records of the cells in turn instead of
    /// each cell's together.
    aggregate_interleaved: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        quick: false,
        only: Vec::new(),
        server_threads: 1,
        requests: None,
        spin_us: None,
        keep: false,
        levels: None,
        quiet_wait_s: 60.0,
        aggregate_timeout_s: 60.0,
        aggregate_shape: None,
        aggregate_dump: None,
        aggregate_interleaved: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => args.quick = true,
            "--keep" => args.keep = true,
            "--aggregate-interleaved" => args.aggregate_interleaved = true,
            "--only" => {
                args.only = it
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::to_string)
                    .collect()
            }
            "--server-threads" => {
                args.server_threads = it.next().and_then(|v| v.parse().ok()).unwrap_or(1)
            }
            "--requests" => args.requests = it.next().and_then(|v| v.parse().ok()),
            "--spin-us" => args.spin_us = it.next().and_then(|v| v.parse().ok()),
            "--concurrency" => {
                args.levels = Some(
                    it.next()
                        .unwrap_or_default()
                        .split(',')
                        .filter_map(|v| v.parse().ok())
                        .collect(),
                )
            }
            "--aggregate-timeout" => {
                args.aggregate_timeout_s = it.next().and_then(|v| v.parse().ok()).unwrap_or(60.0)
            }
            "--aggregate-shape" => {
                args.aggregate_shape = it.next().and_then(|v| {
                    let (c, p) = v.split_once('x')?;
                    Some((c.parse().ok()?, p.parse().ok()?))
                })
            }
            "--aggregate-dump" => args.aggregate_dump = it.next().map(PathBuf::from),
            "--quiet-wait" => {
                args.quiet_wait_s = it.next().and_then(|v| v.parse().ok()).unwrap_or(60.0)
            }
            // cargo bench passes --bench; libtest-style filters are ignored.
            _ => {}
        }
    }
    args
}

impl Args {
    fn wants(&self, part: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == part)
    }

    fn levels(&self, default: &[u32]) -> Vec<u32> {
        self.levels.clone().unwrap_or_else(|| default.to_vec())
    }
}

fn main() {
    let args = parse_args();
    llmbench::util::ensure_tls_provider();
    let scratch = std::env::temp_dir().join(format!("llmbench-overhead-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("create the scratch directory");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!(
        "llmbench overhead benchmark · {} CPUs · client runtime: tokio multi-thread ({} workers) · scratch {}",
        num_cpus(),
        num_cpus(),
        scratch.display()
    );
    let needs_server = args.wants("throughput") || args.wants("layers") || args.wants("timing");
    let binary = needs_server.then(server_binary);

    if args.wants("throughput") {
        let binary = binary.as_ref().expect("server binary");
        throughput_part(&args, &runtime, binary, &scratch);
    }
    if args.wants("layers") {
        let binary = binary.as_ref().expect("server binary");
        layers_part(&args, &runtime, binary, &scratch);
    }
    if args.wants("timing") {
        let binary = binary.as_ref().expect("server binary");
        timing_part(&args, &runtime, binary, &scratch);
    }
    if args.wants("plan") {
        plan_part(&args, &scratch);
    }
    if args.wants("aggregate") {
        aggregate_part(&args);
    }
    if !args.keep {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    // An aggregation that ran past its timeout may still be running: stop it.
    std::process::exit(0);
}

// ------------------------------------------------------------------ server

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/release/fast-sse, built (release) when missing or older than its source.
fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FAST_SSE_BIN") {
        return PathBuf::from(path);
    }
    let root = workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let binary = target.join("release").join("fast-sse");
    let source = root.join("tests/mock-ollama/src/bin/fast_sse.rs");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let stale = match (modified(&binary), modified(&source)) {
        (Some(b), Some(s)) => b < s,
        (None, _) => true,
        _ => false,
    };
    if stale {
        eprintln!("building fast-sse: cargo build --release -p mock-ollama --bin fast-sse");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--release",
                "-p",
                "mock-ollama",
                "--bin",
                "fast-sse",
            ])
            .current_dir(&root)
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building fast-sse failed");
    }
    binary
}

struct Server {
    child: Child,
    url: String,
    addr: String,
}

impl Server {
    fn start(binary: &Path, args: &[String]) -> Server {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(binary);
        // SAFETY: prctl is async-signal-safe; the server dies with this process.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            })
        };
        let mut child = command
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the server's first line");
        let url = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("unexpected server output: {line}"))
            .to_string();
        let addr = url.trim_start_matches("http://").to_string();
        Server { child, url, addr }
    }

    /// The server's CPU time (user + system) so far, seconds.
    fn cpu_s(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start at field 3.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime is field 14, stime 15 (1-based): indexes 11 and 12 after ')'.
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (ticks(11) + ticks(12)) / hz
    }

    fn http(&self, method: &str, path: &str) -> String {
        let mut socket = std::net::TcpStream::connect(&self.addr).expect("connect to the server");
        let request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", self.addr);
        socket.write_all(request.as_bytes()).expect("send");
        let mut reply = String::new();
        let _ = socket.read_to_string(&mut reply);
        reply
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------ measurement

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// This process's user + system CPU time, seconds (every thread).
fn cpu_time() -> f64 {
    // SAFETY: getrusage fills a zeroed rusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CLOCK_MONOTONIC in ns, the clock `Instant` reads on Linux (and the server stamps with).
fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into valid memory.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Busy CPU seconds of the whole machine so far (/proc/stat, all CPUs).
fn machine_busy_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or("");
    let ticks: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    let busy: f64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    // SAFETY: sysconf has no preconditions.
    busy / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// Waits (up to `max_s`) until other processes use less than 0.15 CPU
/// (over 0.5 s); returns the load seen last, in cores.
fn wait_for_quiet(max_s: f64) -> f64 {
    let start = Instant::now();
    loop {
        let (busy0, own0, t) = (machine_busy_s(), cpu_time(), Instant::now());
        std::thread::sleep(Duration::from_millis(500));
        let load = ((machine_busy_s() - busy0) - (cpu_time() - own0)) / t.elapsed().as_secs_f64();
        if load < 0.15 || start.elapsed().as_secs_f64() >= max_s {
            return load.max(0.0);
        }
    }
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0); false when not allowed.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Samples RSS every 20 ms while a run goes on.
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(f64, u64)>>,
}

impl RssSampler {
    fn start() -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                samples.push((start.elapsed().as_secs_f64(), support::status_kb("VmRSS:")));
                std::thread::sleep(Duration::from_millis(20));
            }
            samples
        });
        RssSampler { stop, thread }
    }

    /// Largest RSS (kB) in the first and in the second half of the run.
    fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.thread.join().unwrap_or_default();
        let end = samples.last().map_or(0.0, |s| s.0);
        let max = |first: bool| {
            samples
                .iter()
                .filter(|s| (s.0 <= end / 2.0) == first)
                .map(|s| s.1)
                .max()
                .unwrap_or(0)
        };
        (max(true), max(false))
    }
}

/// Linear-interpolation percentile (numpy's default) of sorted values.
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

#[derive(Clone, Copy)]
struct Dist {
    n: usize,
    mean: f64,
    p50: f64,
    p99: f64,
    max: f64,
}

fn dist(values: &[f64]) -> Dist {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let mean = if n == 0 {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / n as f64
    };
    Dist {
        n,
        mean,
        p50: pct(&v, 50.0),
        p99: pct(&v, 99.0),
        max: v.last().copied().unwrap_or(f64::NAN),
    }
}

// -------------------------------------------------------------- the client

/// The experiment file a user would write for this run.
fn experiment(
    url: &str,
    concurrency: u32,
    repetitions: u64,
    max_tokens: usize,
    save_responses: bool,
) -> Experiment {
    let text = format!(
        r#"name = "overhead"
[backend]
kind = "openai"
url = "{url}"
timeout = "60s"

[[models]]
name = "fast"

[defaults]
max_tokens = {max_tokens}

[run]
repetitions = {repetitions}
warmup = 0
concurrency = {concurrency}

[[prompts]]
id = "p"
text = "Count to a large number."

[report]
formats = ["json"]
save_responses = {save_responses}
"#
    );
    llmbench::experiment::load_str(Path::new("overhead.toml"), &text, &[])
        .unwrap_or_else(|e| panic!("experiment: {e}"))
}

/// One `Backend` per URL for the whole bench, as there is one reqwest client
/// per level: the lean client's idle connections live in the backend, so the
/// throw-away run opens the connections the measured run then uses (as the
/// warm-up requests of a cell do in a real run).
fn targets(experiment: &Experiment) -> BTreeMap<String, Target> {
    static BACKENDS: std::sync::OnceLock<std::sync::Mutex<HashMap<String, Backend>>> =
        std::sync::OnceLock::new();
    let cache = BACKENDS.get_or_init(Default::default);
    experiment
        .backends
        .iter()
        .map(|(name, config)| {
            let mut cache = cache.lock().expect("backend cache");
            let backend = cache
                .entry(config.url.clone())
                .or_insert_with(|| {
                    Backend::new(config, experiment.run.ollama_api).expect("backend")
                })
                .clone();
            (
                name.clone(),
                Target {
                    backend,
                    timeout: config.timeout,
                },
            )
        })
        .collect()
}

/// The client `llmbench exec` builds (app::exec::http_client).
fn http_client(concurrency: u32) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .tcp_nodelay(true)
        .build()
        .expect("HTTP client")
}

struct RunResult {
    run: RunDir,
    wall_s: f64,
    cpu_s: f64,
    server_cpu_s: f64,
    ok: u64,
    failed: u64,
    peak_rss_kb: u64,
    rss_halves_kb: (u64, u64),
    /// CPU used by other processes during the run, in cores (others compiling on a shared machine).
    foreign_cores: f64,
    /// CLOCK_MONOTONIC of the run start handed to `execute` (taken ~20 ns after it).
    mono_start_ns: u64,
}

/// One `execute` of `experiment`'s plan into a fresh run directory, measured.
fn run_once(
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    experiment: &Experiment,
    server: &Server,
    root: &Path,
    label: &str,
) -> RunResult {
    let plan: Plan = llmbench::plan::plan(experiment);
    let targets = targets(experiment);
    let save = experiment.report.save_responses;
    let run = RunDir::create(root, &experiment.name, label, "bench", save).expect("run directory");
    let _ = run.write_json(llmbench::store::PLAN_FILE, &plan);
    // The sink a real run uses: the record writer and a (hidden) progress bar.
    let mut sink = WithProgress {
        sink: RecordWriter::open(&run, save).expect("record writer"),
        progress: Progress::new(
            plan.measured_requests(),
            plan.cells.len() as u64,
            ProgressMode::Silent,
        ),
    };
    let (_cancel_tx, cancel) = tokio::sync::watch::channel(false);
    let peak_resettable = reset_peak_rss();
    let sampler = RssSampler::start();
    let server_cpu0 = server.cpu_s();
    let busy0 = machine_busy_s();
    let cpu0 = cpu_time();
    // The run's clock origin, and the same instant on CLOCK_MONOTONIC (what
    // `Instant` reads on Linux), to compare records with the server's stamps.
    let wall0 = Instant::now();
    let mono_start_ns = mono_ns();
    // keep_texts: off, as in a run whose server reports token counts (no
    // tokenizer configured), so no response text is held until the end.
    let options = ExecOptions {
        run_start: wall0,
        keep_texts: false,
    };
    let outcome = runtime
        .block_on(execute(
            &plan,
            &targets,
            client.clone(),
            &mut sink,
            cancel,
            options,
        ))
        .expect("execute");
    let wall_s = wall0.elapsed().as_secs_f64();
    let cpu_s = cpu_time() - cpu0;
    let server_cpu_s = server.cpu_s() - server_cpu0;
    let foreign_cores = ((machine_busy_s() - busy0 - cpu_s - server_cpu_s) / wall_s).max(0.0);
    let rss_halves_kb = sampler.finish();
    sink.progress.finish();
    drop(sink);
    let peak_rss_kb = if peak_resettable {
        support::status_kb("VmHWM:")
    } else {
        rss_halves_kb.0.max(rss_halves_kb.1)
    };
    RunResult {
        run,
        wall_s,
        cpu_s,
        server_cpu_s,
        ok: outcome.measured_ok,
        failed: outcome.measured_failed,
        peak_rss_kb,
        rss_halves_kb,
        foreign_cores,
        mono_start_ns,
    }
}

/// Streams requests.jsonl back one record at a time: (records, content chunks, min and max chunks per record).
fn count_chunks(run: &RunDir) -> (u64, u64, usize, usize) {
    let file =
        std::fs::File::open(run.file(llmbench::store::REQUESTS_FILE)).expect("requests.jsonl");
    let (mut records, mut chunks, mut min, mut max) = (0u64, 0u64, usize::MAX, 0usize);
    for line in BufReader::new(file).lines() {
        let line = line.expect("read");
        let record: Record = serde_json::from_str(&line).expect("record");
        if record.warmup {
            continue;
        }
        let n = record.timing.chunk_offsets_ms.len();
        records += 1;
        chunks += n as u64;
        min = min.min(n);
        max = max.max(n);
    }
    (records, chunks, min, max)
}

// -------------------------------------------------------------- throughput

fn throughput_part(args: &Args, runtime: &tokio::runtime::Runtime, binary: &Path, scratch: &Path) {
    let server = Server::start(
        binary,
        &[
            "--chunks".into(),
            STREAM_CHUNKS.to_string(),
            "--threads".into(),
            args.server_threads.to_string(),
        ],
    );
    println!(
        "\n## Throughput: fast-sse ({} chunks per response, {} server thread(s)), llmbench exec path\n",
        STREAM_CHUNKS, args.server_threads
    );
    println!(
        "| concurrency | requests | req/s | chunks/s | client CPU/req (ms) | client CPU util | server CPU/req (ms) | peak RSS (MB) | RSS max 1st/2nd half (MB) | errors | other processes (cores) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut read_back = None;
    for concurrency in args.levels(&[1, 16, 64]) {
        let requests = match (args.requests, args.quick, concurrency) {
            (Some(n), _, 64) => n,
            (_, true, 1) => 1_000,
            (_, true, _) => 5_000,
            (_, false, 1) => 5_000,
            (_, false, 16) => 20_000,
            (_, false, _) => 60_000,
        };
        let client = http_client(concurrency);
        // Warm the connection pool (and the server) on a throw-away run.
        let warm = experiment(
            &server.url,
            concurrency,
            (concurrency as u64 * 16).max(500),
            STREAM_CHUNKS,
            false,
        );
        let w = run_once(
            runtime,
            &client,
            &warm,
            &server,
            scratch,
            &format!("warm-c{concurrency}"),
        );
        assert_eq!(
            w.failed,
            0,
            "warm-up requests failed; see {}",
            w.run.path.display()
        );
        let _ = std::fs::remove_dir_all(&w.run.path);
        let exp = experiment(&server.url, concurrency, requests, STREAM_CHUNKS, false);
        wait_for_quiet(args.quiet_wait_s);
        let r = run_once(
            runtime,
            &client,
            &exp,
            &server,
            scratch,
            &format!("c{concurrency}"),
        );
        let (records, chunks, min, max) = count_chunks(&r.run);
        assert_eq!(records, requests, "records written");
        assert!(
            min == STREAM_CHUNKS && max == STREAM_CHUNKS,
            "chunks per record {min}..{max}"
        );
        let mb = |kb: u64| kb as f64 / 1024.0;
        println!(
            "| {concurrency} | {requests} | {:.0} | {:.2} M | {:.4} | {:.0} % | {:.4} | {:.1} | {:.1} / {:.1} | {} | {:.2} |",
            r.ok as f64 / r.wall_s,
            chunks as f64 / r.wall_s / 1e6,
            r.cpu_s / requests as f64 * 1e3,
            r.cpu_s / r.wall_s * 100.0,
            r.server_cpu_s / requests as f64 * 1e3,
            mb(r.peak_rss_kb),
            mb(r.rss_halves_kb.0),
            mb(r.rss_halves_kb.1),
            r.failed,
            r.foreign_cores
        );
        if concurrency == 64 && args.wants("report") {
            read_back = Some((r.run, exp));
        } else {
            let _ = std::fs::remove_dir_all(&r.run.path);
        }
    }
    // What `llmbench report` then does with that run: read every record and aggregate.
    if let Some((run, exp)) = read_back {
        let size = std::fs::metadata(run.file(llmbench::store::REQUESTS_FILE))
            .map(|m| m.len())
            .unwrap_or(0);
        // As `llmbench report` does: aggregate while streaming the file.
        let plan = llmbench::plan::plan(&exp);
        let t = Instant::now();
        let mut aggregator = llmbench::aggregate::Aggregator::new(&plan);
        let mut count = 0usize;
        let unreadable = run
            .for_each_record(|record| {
                count += 1;
                aggregator.add(&record);
            })
            .expect("read records");
        let read_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let summary = aggregator.finish(unreadable);
        let agg_s = t.elapsed().as_secs_f64();
        println!(
            "\nreport path on the c=64 run: requests.jsonl {:.1} MB ({:.1} kB per record); read and aggregate each record {:.3} s; finish {:.3} s ({} records, {} ok); VmHWM now {:.0} MB",
            size as f64 / 1e6,
            size as f64 / count.max(1) as f64 / 1e3,
            read_s,
            agg_s,
            count,
            summary.totals.ok,
            support::status_kb("VmHWM:") as f64 / 1024.0
        );
        let _ = std::fs::remove_dir_all(&run.path);
    }
}

// ------------------------------------------------------------------ layers

/// Which layers of the client a `layers` row runs.
#[derive(Clone, Copy, PartialEq)]
enum Layer {
    /// Raw tokio TCP: write the request, read until the final chunk; no HTTP parsing.
    RawTcp,
    /// reqwest (hyper) streaming the body, bytes discarded.
    Reqwest,
    /// reqwest plus llmbench's SSE decoder (events counted, nothing recorded).
    Decode,
}

/// Client cost by layer at one concurrency: what the machine, the server and
/// the HTTP stack allow, and what decoding adds, below the full executor.
fn layers_part(args: &Args, runtime: &tokio::runtime::Runtime, binary: &Path, scratch: &Path) {
    let requests: u64 = args
        .requests
        .unwrap_or(if args.quick { 10_000 } else { 40_000 });
    println!("\n## Client layers ({STREAM_CHUNKS}-chunk streams)\n");
    println!(
        "Each row adds a layer. `chunked`: one HTTP chunk per SSE event, as servers send them; `length`: the same body with a Content-Length, which hyper hands over in large pieces (fewer body frames and task wake-ups per request).\n"
    );
    {
        let server_less = experiment("http://127.0.0.1:9", 1, 1, STREAM_CHUNKS, false);
        let backend = targets(&server_less)
            .values()
            .next()
            .expect("backend")
            .backend
            .clone();
        let (per_event, whole) = decoder_alone(&backend);
        println!(
            "SSE decoder alone (SseDecoder::feed, one thread, no I/O): {per_event:.0} ns per content chunk fed one event per piece, {whole:.0} ns fed the whole body at once → {:.3} ms per {STREAM_CHUNKS}-chunk response\n",
            per_event * STREAM_CHUNKS as f64 / 1e6
        );
    }
    println!("| framing | layer | concurrency | requests | req/s | chunks/s | client CPU/req (ms) | server CPU/req (ms) | other processes (cores) |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for framing in ["chunked", "length"] {
        let mut server_args = vec![
            "--chunks".into(),
            STREAM_CHUNKS.to_string(),
            "--threads".into(),
            args.server_threads.to_string(),
        ];
        if framing == "length" {
            server_args.push("--content-length".into());
        }
        let server = Server::start(binary, &server_args);
        let exp = experiment(&server.url, 64, 1, STREAM_CHUNKS, false);
        let targets = targets(&exp);
        let backend = targets.values().next().expect("backend").backend.clone();
        let plan = llmbench::plan::plan(&exp);
        let cell = plan.cells[0].clone();
        let body = serde_json::to_vec(&backend.body(&llmbench::backend::GenRequest {
            model: &cell.model,
            system: cell.system.as_deref(),
            prompt: &cell.text,
            settings: &cell.settings,
            options: &cell.options,
        }))
        .expect("body");
        for concurrency in args.levels(&[64]) {
            let layers: &[Option<Layer>] = if framing == "chunked" {
                &[
                    Some(Layer::RawTcp),
                    Some(Layer::Reqwest),
                    Some(Layer::Decode),
                    None,
                ]
            } else {
                &[Some(Layer::Reqwest), Some(Layer::Decode), None]
            };
            for &layer in layers {
                let name = match layer {
                    Some(Layer::RawTcp) => "raw TCP, no HTTP parsing",
                    Some(Layer::Reqwest) => "reqwest: stream the body, discard",
                    Some(Layer::Decode) => "reqwest + llmbench SSE decoder",
                    None => "llmbench executor (everything)",
                };
                let client = http_client(concurrency);
                let warm = (concurrency as u64 * 16).max(500);
                let (wall, cpu, server_cpu, foreign, chunks) = match layer {
                    Some(layer) => {
                        drive(
                            runtime,
                            layer,
                            &client,
                            &backend,
                            &server.addr,
                            &body,
                            concurrency,
                            warm,
                        );
                        wait_for_quiet(args.quiet_wait_s);
                        let (busy0, cpu0, server0, t) =
                            (machine_busy_s(), cpu_time(), server.cpu_s(), Instant::now());
                        let chunks = drive(
                            runtime,
                            layer,
                            &client,
                            &backend,
                            &server.addr,
                            &body,
                            concurrency,
                            requests,
                        );
                        let wall = t.elapsed().as_secs_f64();
                        let cpu = cpu_time() - cpu0;
                        let server_cpu = server.cpu_s() - server0;
                        let foreign =
                            ((machine_busy_s() - busy0 - cpu - server_cpu) / wall).max(0.0);
                        (
                            wall,
                            cpu,
                            server_cpu,
                            foreign,
                            (layer == Layer::Decode).then_some(chunks),
                        )
                    }
                    None => {
                        let w = run_once(
                            runtime,
                            &client,
                            &experiment(&server.url, concurrency, warm, STREAM_CHUNKS, false),
                            &server,
                            scratch,
                            "lwarm",
                        );
                        let _ = std::fs::remove_dir_all(&w.run.path);
                        wait_for_quiet(args.quiet_wait_s);
                        let r = run_once(
                            runtime,
                            &client,
                            &experiment(&server.url, concurrency, requests, STREAM_CHUNKS, false),
                            &server,
                            scratch,
                            "layer",
                        );
                        assert_eq!((r.ok, r.failed), (requests, 0), "executor requests");
                        let _ = std::fs::remove_dir_all(&r.run.path);
                        (
                            r.wall_s,
                            r.cpu_s,
                            r.server_cpu_s,
                            r.foreign_cores,
                            Some(requests * STREAM_CHUNKS as u64),
                        )
                    }
                };
                let chunks_s =
                    chunks.map_or("—".into(), |c| format!("{:.2} M", c as f64 / wall / 1e6));
                println!(
                    "| {framing} | {name} | {concurrency} | {requests} | {:.0} | {chunks_s} | {:.4} | {:.4} | {foreign:.2} |",
                    requests as f64 / wall,
                    cpu / requests as f64 * 1e3,
                    server_cpu / requests as f64 * 1e3
                );
            }
        }
    }
}

/// The SSE events of one fast-sse response (same bytes as the server sends),
/// one `Vec` per event.
fn sse_events(chunks: usize) -> Vec<Vec<u8>> {
    let chunk = |choice: &str, tail: &str| {
        format!(
            "data: {{\"choices\":[{choice}],\"created\":1787300102,\"id\":\"chatcmpl-fastssefastssefastssefastssef\",\"model\":\"fast\",\"system_fingerprint\":\"b6000-fastsse\",\"object\":\"chat.completion.chunk\"{tail}}}\n\n"
        )
        .into_bytes()
    };
    let mut events = vec![chunk(
        "{\"finish_reason\":null,\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null}}",
        "",
    )];
    events.extend((0..chunks).map(|_| {
        chunk(
            "{\"finish_reason\":null,\"index\":0,\"delta\":{\"content\":\" tok\"}}",
            "",
        )
    }));
    events.push(chunk(
        "{\"finish_reason\":\"stop\",\"index\":0,\"delta\":{}}",
        "",
    ));
    events.push(chunk(
        "",
        &format!(
            ",\"usage\":{{\"completion_tokens\":{chunks},\"prompt_tokens\":8,\"total_tokens\":{}}}",
            chunks + 8
        ),
    ));
    events.push(b"data: [DONE]\n\n".to_vec());
    events
}

/// llmbench's SSE decoder alone, one thread, no I/O: ns per content chunk,
/// fed one event per piece (as hyper hands chunked bodies over) and the whole
/// body as one piece.
fn decoder_alone(backend: &Backend) -> (f64, f64) {
    let events = sse_events(STREAM_CHUNKS);
    let whole: Vec<u8> = events.concat();
    let rounds = 2_000;
    let mut out = Vec::with_capacity(16);
    let mut run = |pieces: &[&[u8]]| {
        let t = Instant::now();
        let mut seen = 0usize;
        for _ in 0..rounds {
            let mut decoder = backend.decoder();
            for piece in pieces {
                decoder.feed(piece, &mut out).expect("decode");
                seen += out.drain(..).filter(|e| e.has_text()).count();
            }
            decoder.finish(&mut out).expect("finish");
            out.clear();
        }
        assert_eq!(seen, rounds * STREAM_CHUNKS);
        t.elapsed().as_secs_f64() / seen as f64 * 1e9
    };
    let per_event: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
    (run(&per_event), run(&[whole.as_slice()]))
}

/// Runs `requests` requests with `concurrency` tasks; returns the text-bearing events seen (Decode).
#[allow(clippy::too_many_arguments)]
fn drive(
    runtime: &tokio::runtime::Runtime,
    layer: Layer,
    client: &reqwest::Client,
    backend: &Backend,
    addr: &str,
    body: &[u8],
    concurrency: u32,
    requests: u64,
) -> u64 {
    use futures_util::StreamExt;
    use std::sync::atomic::AtomicU64;
    let next = Arc::new(AtomicU64::new(0));
    let events = Arc::new(AtomicU64::new(0));
    let body = bytes::Bytes::copy_from_slice(body);
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (next, events, client, backend, body, addr) =
                (next.clone(), events.clone(), client.clone(), backend.clone(), body.clone(), addr.to_string());
            tasks.push(tokio::spawn(async move {
                match layer {
                    Layer::RawTcp => {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut socket = tokio::net::TcpStream::connect(&addr).await.expect("connect");
                        socket.set_nodelay(true).expect("nodelay");
                        let mut request = format!(
                            "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        request.extend_from_slice(&body);
                        let mut buffer = vec![0u8; 256 * 1024];
                        while next.fetch_add(1, Ordering::Relaxed) < requests {
                            socket.write_all(&request).await.expect("write");
                            // Read until the last chunk's terminator.
                            let mut tail = [0u8; 5];
                            loop {
                                let n = socket.read(&mut buffer).await.expect("read");
                                assert!(n > 0, "server closed");
                                if n >= 5 {
                                    tail.copy_from_slice(&buffer[n - 5..n]);
                                } else {
                                    tail.rotate_left(n);
                                    tail[5 - n..].copy_from_slice(&buffer[..n]);
                                }
                                if &tail == b"0\r\n\r\n" {
                                    break;
                                }
                            }
                        }
                    }
                    Layer::Reqwest | Layer::Decode => {
                        let url = format!("http://{addr}/v1/chat/completions");
                        let mut out = Vec::with_capacity(8);
                        while next.fetch_add(1, Ordering::Relaxed) < requests {
                            let response = client
                                .post(&url)
                                .header(reqwest::header::ACCEPT, "text/event-stream")
                                .header(reqwest::header::CONTENT_TYPE, "application/json")
                                .body(body.clone())
                                .send()
                                .await
                                .expect("send");
                            let mut stream = response.bytes_stream();
                            let mut decoder = backend.decoder();
                            let mut seen = 0u64;
                            while let Some(piece) = stream.next().await {
                                let piece = piece.expect("body");
                                if layer == Layer::Decode {
                                    decoder.feed(&piece, &mut out).expect("decode");
                                    seen += out.drain(..).filter(|e| e.has_text()).count() as u64;
                                }
                            }
                            events.fetch_add(seen, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
    });
    events.load(Ordering::Relaxed)
}

// ------------------------------------------------------------------ timing

fn timing_part(args: &Args, runtime: &tokio::runtime::Runtime, binary: &Path, scratch: &Path) {
    println!(
        "\n## Timing accuracy: server ttft {TTFT_MS} ms, inter-chunk {ITL_MS} ms, {TIMED_CHUNKS} chunks; errors = llmbench's figure − nominal, ms\n"
    );
    let mut rows = Vec::new();
    for concurrency in args.levels(&[1, 64]) {
        let requests: u64 = match (args.quick, concurrency) {
            (true, 1) => 10,
            (false, 1) => 40,
            (true, _) => 128,
            (false, _) => 640,
        };
        let spin = args
            .spin_us
            .unwrap_or(if concurrency == 1 { 300 } else { 30 });
        let server = Server::start(
            binary,
            &[
                "--chunks".into(),
                TIMED_CHUNKS.to_string(),
                "--ttft-ms".into(),
                TTFT_MS.to_string(),
                "--itl-ms".into(),
                ITL_MS.to_string(),
                "--spin-us".into(),
                spin.to_string(),
                "--stamp".into(),
            ],
        );
        let client = http_client(concurrency);
        let warm = experiment(
            &server.url,
            concurrency,
            concurrency as u64,
            TIMED_CHUNKS,
            false,
        );
        let w = run_once(
            runtime,
            &client,
            &warm,
            &server,
            scratch,
            &format!("twarm-c{concurrency}"),
        );
        assert_eq!(w.failed, 0, "warm-up requests failed");
        let _ = std::fs::remove_dir_all(&w.run.path);
        server.http("POST", "/stats/reset");
        let exp = experiment(&server.url, concurrency, requests, TIMED_CHUNKS, true);
        wait_for_quiet(args.quiet_wait_s);
        let r = run_once(
            runtime,
            &client,
            &exp,
            &server,
            scratch,
            &format!("t-c{concurrency}"),
        );
        assert_eq!(
            r.failed,
            0,
            "timed requests failed; see {}",
            r.run.path.display()
        );
        let server_stats = server.http("GET", "/stats");
        let analysis = analyse_timing(&r, TIMED_CHUNKS);
        rows.push((
            concurrency,
            requests,
            spin,
            analysis,
            server_stats,
            r.foreign_cores,
        ));
        let _ = std::fs::remove_dir_all(&r.run.path);
    }
    println!("| concurrency | requests | what | n | mean | p50 | p99 | max |");
    println!("|---:|---:|---|---:|---:|---:|---:|---:|");
    for (concurrency, requests, _, a, _, _) in &rows {
        for (name, d) in &a.rows {
            println!(
                "| {concurrency} | {requests} | {name} | {} | {:+.3} | {:+.3} | {:+.3} | {:+.3} |",
                d.n, d.mean, d.p50, d.p99, d.max
            );
        }
    }
    println!();
    for (concurrency, _, spin, a, stats, foreign) in &rows {
        println!("c={concurrency}: other processes used {foreign:.2} cores during the run; server spin {spin} µs; server's own /stats (µs): {}", stats.trim());
        println!(
            "c={concurrency}: |chunk gap − 10 ms| p99 = {:.3} ms; client-only |gap − server gap| p99 = {:.3} ms; requests without a kernel receive stamp: {}",
            a.abs_gap_p99, a.abs_client_gap_p99, a.unstamped
        );
    }
}

struct TimingAnalysis {
    rows: Vec<(&'static str, Dist)>,
    /// Requests whose kernel receive time the server did not get.
    unstamped: usize,
    abs_gap_p99: f64,
    abs_client_gap_p99: f64,
}

/// Compares llmbench's records with the server's stamps (same clock).
fn analyse_timing(r: &RunResult, chunks: usize) -> TimingAnalysis {
    let (records, unreadable) = r.run.read_records().expect("records");
    assert_eq!(unreadable, 0);
    // The response texts, by repetition: " @<write>/<deadline>/<arrival>" (ns) per chunk.
    let mut stamps: BTreeMap<u32, Vec<(u64, u64, u64)>> = BTreeMap::new();
    let responses = r.run.file(llmbench::store::RESPONSES_DIR);
    for entry in std::fs::read_dir(&responses).expect("responses/") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read responses");
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("response line");
            if v["warmup"].as_bool() == Some(true) {
                continue;
            }
            let content = v["content"].as_str().unwrap_or("");
            let parsed = content
                .split(" @")
                .filter(|s| !s.is_empty())
                .filter_map(|s| {
                    let mut parts = s.split('/').map(|v| v.parse::<u64>().ok());
                    Some((parts.next()??, parts.next()??, parts.next()??))
                })
                .collect();
            stamps.insert(v["repetition"].as_u64().unwrap_or(0) as u32, parsed);
        }
    }
    let (mut ttft_err, mut gap_err) = (Vec::new(), Vec::new());
    let (mut req_send, mut server_late, mut resp_path) = (Vec::new(), Vec::new(), Vec::new());
    let mut unstamped = 0usize;
    let (mut resp_all, mut client_gap_err) = (Vec::new(), Vec::new());
    for record in records.iter().filter(|r| !r.warmup && r.outcome.is_ok()) {
        let t = &record.timing;
        assert_eq!(t.chunk_offsets_ms.len(), chunks, "chunks per record");
        ttft_err.push(t.ttft_ms.expect("ttft") - TTFT_MS);
        for w in t.chunk_offsets_ms.windows(2) {
            gap_err.push(w[1] - w[0] - ITL_MS);
        }
        let Some(stamp) = stamps.get(&record.repetition) else {
            continue;
        };
        assert_eq!(stamp.len(), chunks, "stamps per response");
        // Absolute (CLOCK_MONOTONIC) ms of t0 and of each arrival.
        let t0 = r.mono_start_ns as f64 / 1e6 + record.run_offset_ms;
        let ms = |ns: u64| ns as f64 / 1e6;
        let (w0, d0, arrival) = stamp[0];
        // Deadlines count from the kernel's receive time of the request
        // (arrival); without it (0), from the server's read, which then
        // lands in the request figure.
        if arrival == 0 {
            unstamped += 1;
        }
        req_send.push(ms(d0) - TTFT_MS - t0);
        server_late.push(ms(w0) - ms(d0));
        resp_path.push(t0 + t.chunk_offsets_ms[0] - ms(w0));
        for (i, &(w, _, _)) in stamp.iter().enumerate() {
            resp_all.push(t0 + t.chunk_offsets_ms[i] - ms(w));
            if i > 0 {
                let client_gap = t.chunk_offsets_ms[i] - t.chunk_offsets_ms[i - 1];
                client_gap_err.push(client_gap - (ms(w) - ms(stamp[i - 1].0)));
            }
        }
    }
    let abs_p99 = |v: &[f64]| {
        let mut a: Vec<f64> = v.iter().map(|x| x.abs()).collect();
        a.sort_by(f64::total_cmp);
        pct(&a, 99.0)
    };
    TimingAnalysis {
        unstamped,
        abs_gap_p99: abs_p99(&gap_err),
        abs_client_gap_p99: abs_p99(&client_gap_err),
        rows: vec![
            ("ttft error (recorded ttft − 200)", dist(&ttft_err)),
            (
                "  = request send (t0 → the request's bytes reached the server's socket)",
                dist(&req_send),
            ),
            (
                "  + server lateness, first chunk (write − deadline)",
                dist(&server_late),
            ),
            (
                "  + response path, first chunk (write → llmbench's stamp)",
                dist(&resp_path),
            ),
            ("chunk-gap error (recorded gap − 10)", dist(&gap_err)),
            (
                "  client part (recorded gap − server's write gap)",
                dist(&client_gap_err),
            ),
            ("response path, every chunk", dist(&resp_all)),
        ],
    }
}

// -------------------------------------------------------- plan, aggregate

fn plan_part(args: &Args, scratch: &Path) {
    let cells = if args.quick { 20_000 } else { 100_000 };
    let prompts_text = |n: usize| {
        let mut text = String::from(
            "name = \"plan-bench\"\n[backend]\nkind = \"openai\"\nurl = \"http://127.0.0.1:9\"\n\n[[models]]\nname = \"fast\"\n\n[defaults]\nmax_tokens = 64\n\n[run]\nrepetitions = 3\n\n",
        );
        for i in 0..n {
            text.push_str(&format!("[[prompts]]\nid = \"p{i}\"\ntext = \"Prompt number {i}: write a short poem about the number {i}.\"\n\n"));
        }
        text
    };
    println!("\n## Planning\n");
    // Loading (parse + validate) a file with many prompts (linear since the
    // document indexes its line starts).
    let mut loads = Vec::new();
    for n in [1_000usize, 4_000, 100_000] {
        let path = scratch.join(format!("plan-bench-{n}.toml"));
        std::fs::write(&path, prompts_text(n)).expect("write the experiment");
        let t = Instant::now();
        let experiment = llmbench::experiment::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
        loads.push(format!(
            "{} prompts {:.3} s",
            experiment.prompts.len(),
            t.elapsed().as_secs_f64()
        ));
    }
    println!(
        "experiment::load of a file with N prompts: {}",
        loads.join(" · ")
    );
    // plan() on `cells` prompts: the loaded experiment's prompt, cloned with
    // new ids and texts (loading 100,000 prompts is timed above, not here).
    let mut experiment =
        llmbench::experiment::load_str(Path::new("plan.toml"), &prompts_text(1), &[])
            .unwrap_or_else(|e| panic!("{e}"));
    copy_prompts(&mut experiment, cells, |i| {
        format!("Prompt number {i}: write a short poem about the number {i}.")
    });
    let t = Instant::now();
    let plan = llmbench::plan::plan(&experiment);
    let plan_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let json = serde_json::to_vec(&plan).expect("plan json");
    let json_s = t.elapsed().as_secs_f64();
    println!(
        "plan(): {} cells in {:.3} s ({:.2} µs/cell) · plan.json ({:.1} MB) serialised in {:.3} s",
        plan.cells.len(),
        plan_s,
        plan_s / plan.cells.len() as f64 * 1e6,
        json.len() as f64 / 1e6,
        json_s
    );
}

/// Replaces the experiment's prompts with `count` copies of its first one,
/// with ids `p0`, `p1`, … and the texts `text` gives.
fn copy_prompts(
    experiment: &mut llmbench::experiment::Experiment,
    count: usize,
    text: impl Fn(usize) -> String,
) {
    let first = experiment.prompts[0].clone();
    experiment.prompts = (0..count)
        .map(|i| {
            let mut p = first.clone();
            p.id = format!("p{i}");
            p.text = text(i);
            p
        })
        .collect();
}

/// A plan of `cells` cells and `per_cell` successful records for each, with
/// jittered timings and `TIMED_CHUNKS` chunk offsets per record; the
/// records of each cell together, as a run writes them, or with
/// `interleaved` one record of each cell in turn (the worst order for the
/// memory caches, which no run writes).
fn synthetic_run(cells: usize, per_cell: usize, interleaved: bool) -> (Plan, Vec<Record>) {
    // The plan asks for as many repetitions as there are records per cell,
    // as the plan of a real run does.
    let mut text = format!(
        "name = \"agg-bench\"\n[backend]\nkind = \"openai\"\nurl = \"http://127.0.0.1:9\"\n\n[[models]]\nname = \"fast\"\n\n[run]\nrepetitions = {per_cell}\n\n[[prompts]]\nid = \"p\"\ntext = \"prompt\"\n",
    );
    text.push('\n');
    let mut experiment = llmbench::experiment::load_str(Path::new("agg.toml"), &text, &[])
        .unwrap_or_else(|e| panic!("{e}"));
    copy_prompts(&mut experiment, cells, |i| format!("prompt {i}"));
    let plan = llmbench::plan::plan(&experiment);
    let template: Record = serde_json::from_value(serde_json::json!({
        "cell": "", "model": "fast", "prompt": "p", "repetition": 0, "warmup": false,
        "started_at": "2026-01-01T00:00:00Z", "run_offset_ms": 0.0,
        "outcome": {"status": "ok"}, "http_status": 200,
        "timing": {"ttfb_ms": 1.0, "ttft_ms": 200.0, "ttft_content_ms": 200.0, "e2e_ms": 510.0,
                   "chunk_offsets_ms": [], "chunk_chars": [], "events": 36},
        "finish_reason": "stop",
        "server": {"finish_reason": "stop", "prompt_tokens": 8, "completion_tokens": 32},
        "output_chars": 128, "reasoning_chars": 0,
        "tokens": {"output": 32, "output_source": "server", "prompt": 8, "prompt_source": "server"}
    }))
    .expect("record template");
    // Deterministic jitter (xorshift) so every statistic has work to do.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let total = cells * per_cell;
    let mut records: Vec<Record> = (0..total)
        .map(|i| {
            let mut r = template.clone();
            let cell = &plan.cells[i % cells];
            r.cell = cell.id.clone();
            r.prompt = cell.prompt.clone();
            r.repetition = (i / cells) as u32;
            r.run_offset_ms = i as f64 * 0.1;
            let ttft = 200.0 + next();
            r.timing.ttft_ms = Some(ttft);
            r.timing.ttft_content_ms = Some(ttft);
            let offsets: Vec<f64> = (0..TIMED_CHUNKS)
                .map(|k| ttft + k as f64 * ITL_MS + next() * 0.1)
                .collect();
            r.timing.e2e_ms = offsets.last().copied();
            r.timing.chunk_offsets_ms = offsets;
            r.timing.chunk_chars = vec![4; TIMED_CHUNKS];
            r
        })
        .collect();
    if !interleaved {
        // As a run writes them: each cell's records together (exec runs
        // one cell's requests before the next cell's), same values, same
        // order within a cell, so the summary is the interleaved order's.
        // Sorted in place: a second copy of a million records would count
        // in the peak memory printed below.
        let index: HashMap<&str, usize> = plan
            .cells
            .iter()
            .enumerate()
            .map(|(i, cell)| (cell.id.as_str(), i))
            .collect();
        records.sort_by_cached_key(|r| (index.get(r.cell.as_str()).copied(), r.repetition));
    }
    (plan, records)
}

/// Times aggregation on a thread, as [`llmbench::aggregate::aggregate`]
/// does it (every record into an `Aggregator`, then `finish`): the total
/// and the part spent adding records, in seconds; `None` when it has not
/// finished within `timeout` (the thread is left running; the process exits
/// at the end). With `dump`, the summary is written there as JSON.
fn time_aggregate(
    plan: Plan,
    records: Vec<Record>,
    timeout: Duration,
    dump: Option<PathBuf>,
) -> Option<(f64, f64)> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let t = Instant::now();
        let mut aggregator = llmbench::aggregate::Aggregator::new(&plan);
        for record in &records {
            aggregator.add(record);
        }
        let added = t.elapsed().as_secs_f64();
        let summary = aggregator.finish(0);
        let elapsed = t.elapsed().as_secs_f64();
        assert_eq!(summary.totals.ok as usize, records.len());
        if let Some(path) = dump {
            let json = serde_json::to_vec_pretty(&summary).expect("summary json");
            std::fs::write(&path, json).expect("write the summary");
        }
        let _ = sender.send((elapsed, added));
    });
    receiver.recv_timeout(timeout).ok()
}

fn aggregate_part(args: &Args) {
    let total: usize = if args.quick { 100_000 } else { 1_000_000 };
    let timeout = Duration::from_secs_f64(args.aggregate_timeout_s);
    println!("\n## Aggregation ({TIMED_CHUNKS} chunks per record)\n");
    println!("| records | cells × records per cell | aggregate() | per record | note |");
    println!("|---:|---|---:|---:|---|");
    // Shapes: one huge cell; 100 cells (the target's shape); many small cells.
    // Slow shapes are first timed on 1 % of their cells and extrapolated.
    let shapes = match args.aggregate_shape {
        Some(shape) => vec![shape],
        None => vec![(1usize, total), (100, total / 100), (total / 100, 100)],
    };
    for (cells, per_cell) in shapes {
        let sub_cells = if args.aggregate_shape.is_some() {
            cells
        } else {
            (cells / 100).max(1)
        };
        if sub_cells < cells {
            let (plan, records) = synthetic_run(sub_cells, per_cell, args.aggregate_interleaved);
            let n = records.len();
            match time_aggregate(plan, records, timeout, None) {
                Some((s, _)) => println!(
                    "| {n} | {sub_cells} × {per_cell} | {s:.3} s | {:.2} µs | 1 % of the next row's cells: × {} ≈ {:.1} s |",
                    s / n as f64 * 1e6,
                    cells / sub_cells,
                    s * (cells / sub_cells) as f64
                ),
                None => println!("| {n} | {sub_cells} × {per_cell} | > {:.0} s | — | 1 % of the next row's cells |", timeout.as_secs_f64()),
            }
        }
        let (plan, records) = synthetic_run(cells, per_cell, args.aggregate_interleaved);
        let n = records.len();
        let dump = args
            .aggregate_dump
            .as_ref()
            .map(|dir| dir.join(format!("aggregate-{cells}x{per_cell}.json")));
        match time_aggregate(plan, records, timeout, dump) {
            Some((s, added)) => println!(
                "| {n} | {cells} × {per_cell} | {s:.3} s | {:.2} µs | adding records {added:.3} s, finish {:.3} s |",
                s / n as f64 * 1e6,
                s - added
            ),
            None => {
                println!("| {n} | {cells} × {per_cell} | > {:.0} s | — | stopped waiting; later shapes skipped |", timeout.as_secs_f64());
                // The rest would only compete with the thread still running.
                break;
            }
        }
    }
    println!(
        "VmHWM {:.0} MB",
        support::status_kb("VmHWM:") as f64 / 1024.0
    );
}
