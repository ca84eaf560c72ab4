//! Realtime load test: N subscribers hold SSE streams on one backend instance, then a burst of
//! W writes goes through the REST API; every subscriber must receive every write. Reports the
//! delivery latency (from the moment a write request is sent to the moment a subscriber has
//! read its event) and the server's resident memory.
//!
//! `realtime-load --url http://127.0.0.1:8090 --pid <server pid> [--subscribers 1000]
//! [--writes 1000] [--writers 8] [--collection posts|comments]`
//!
//! Plain HTTP/1.1 over tokio sockets, so that the client costs as little as possible next to
//! the server on the same machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Args {
    addr: String,
    pid: Option<u32>,
    subscribers: usize,
    writes: usize,
    writers: usize,
    collection: String,
}

fn args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:8090".into(),
        pid: None,
        subscribers: 1000,
        writes: 1000,
        writers: 8,
        collection: "posts".into(),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--url" => a.addr = value.trim_start_matches("http://").trim_end_matches('/').to_owned(),
            "--pid" => a.pid = value.parse().ok(),
            "--subscribers" => a.subscribers = value.parse().expect("--subscribers N"),
            "--writes" => a.writes = value.parse().expect("--writes N"),
            "--writers" => a.writers = value.parse().expect("--writers N"),
            "--collection" => a.collection = value,
            other => panic!("unknown option {other}"),
        }
    }
    a
}

/// One request on a fresh connection; returns the status and the body.
async fn request(addr: &str, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let (status, body) = send(&mut stream, addr, method, path, token, body, "close").await;
    (status, body)
}

/// One request on `stream` (kept open when `connection` is keep-alive).
async fn send(
    stream: &mut TcpStream,
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    connection: &str,
) -> (u16, Value) {
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token.map(|t| format!("Authorization: {t}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: {connection}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(format!("{head}{body}").as_bytes()).await.expect("write");
    // read the head, then Content-Length bytes
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed before a response");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed inside a response");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or(Value::Null);
    (status, body)
}

/// `VmRSS` and `VmHWM` of `pid`, in KiB.
fn memory(pid: Option<u32>) -> (u64, u64) {
    let Some(pid) = pid else { return (0, 0) };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU seconds (user + system) used so far by `pid` (`self` for this process).
fn cpu(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // the fields after the parenthesised command name; utime and stime are the 12th and 13th
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Holds one SSE stream: subscribes, then records when each write's event arrives.
async fn subscriber(
    addr: String,
    topic: String,
    writes: usize,
    start: Instant,
    ready: Arc<AtomicUsize>,
) -> Vec<(usize, u64)> {
    let mut stream = TcpStream::connect(&addr).await.expect("connect a subscriber");
    stream
        .write_all(
            format!("GET /api/realtime HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n").as_bytes(),
        )
        .await
        .expect("open the stream");
    let mut seen = Vec::with_capacity(writes);
    let mut pending = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match tokio::time::timeout(Duration::from_secs(60), stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return seen,
        };
        let at = start.elapsed().as_nanos() as u64;
        pending.extend_from_slice(&chunk[..n]);
        let Some(last) = pending.iter().rposition(|&b| b == b'\n') else { continue };
        let lines: Vec<u8> = pending.drain(..=last).collect();
        for line in lines.split(|&b| b == b'\n') {
            let Some(data) = line.strip_prefix(b"data:") else { continue };
            if data.starts_with(b"{\"clientId\"") {
                let v: Value = serde_json::from_slice(data).expect("PB_CONNECT data");
                let id = v["clientId"].as_str().expect("a client id");
                let (status, body) = request(
                    &addr,
                    "POST",
                    "/api/realtime",
                    None,
                    Some(&json!({"clientId": id, "subscriptions": [topic]})),
                )
                .await;
                assert_eq!(status, 204, "subscribe: {body}");
                ready.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            // the write's number, from `"title":"w<i>"` (or `"text":`), without parsing the JSON
            let at_key = [&b"\"title\":\"w"[..], &b"\"text\":\"w"[..]]
                .iter()
                .find_map(|key| data.windows(key.len()).position(|w| w == *key).map(|p| p + key.len()));
            if let Some(start) = at_key {
                let digits: Vec<u8> = data[start..].iter().take_while(|b| b.is_ascii_digit()).copied().collect();
                if let Some(i) = std::str::from_utf8(&digits).ok().and_then(|s| s.parse::<usize>().ok()) {
                    seen.push((i, at));
                }
            }
        }
        if seen.len() >= writes {
            return seen;
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1e6
}

#[tokio::main]
async fn main() {
    let args = args();
    let addr = args.addr.clone();
    let (rss0, _) = memory(args.pid);

    // one user writes everything
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let email = format!("load-{run}@example.com");
    let (status, user) = request(
        &addr,
        "POST",
        "/api/collections/users/records",
        None,
        Some(&json!({"email": email, "password": "load-password-1", "passwordConfirm": "load-password-1"})),
    )
    .await;
    assert_eq!(status, 200, "sign up: {user}");
    let (status, auth) = request(
        &addr,
        "POST",
        "/api/collections/users/auth-with-password",
        None,
        Some(&json!({"identity": email, "password": "load-password-1"})),
    )
    .await;
    assert_eq!(status, 200, "sign in: {auth}");
    let token = auth["token"].as_str().expect("a token").to_owned();
    let uid = user["id"].as_str().expect("an id").to_owned();
    let post = if args.collection == "comments" {
        let (status, post) = request(
            &addr,
            "POST",
            "/api/collections/posts/records",
            Some(&token),
            Some(&json!({"title": "load", "author": uid, "published": true})),
        )
        .await;
        assert_eq!(status, 200, "{post}");
        post["id"].as_str().map(str::to_owned)
    } else {
        None
    };

    // subscribers
    let start = Instant::now();
    let ready = Arc::new(AtomicUsize::new(0));
    let topic = format!("{}/*", args.collection);
    let mut tasks = Vec::new();
    for _ in 0..args.subscribers {
        tasks.push(tokio::spawn(subscriber(addr.clone(), topic.clone(), args.writes, start, ready.clone())));
        if tasks.len() % 100 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    while ready.load(Ordering::Relaxed) < args.subscribers {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connected_in = start.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_connected, _) = memory(args.pid);

    // sample RSS during the burst
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = {
        let peak = peak.clone();
        let pid = args.pid;
        tokio::spawn(async move {
            loop {
                peak.fetch_max(memory(pid).0, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    // the burst
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..args.writes).map(|_| AtomicU64::new(0)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let server_pid = args.pid.map_or_else(String::new, |p| p.to_string());
    let (server_cpu0, client_cpu0) = (cpu(&server_pid), cpu("self"));
    let burst = Instant::now();
    let mut writers = Vec::new();
    for _ in 0..args.writers {
        let (addr, token, uid, sent, next, post) =
            (addr.clone(), token.clone(), uid.clone(), sent.clone(), next.clone(), post.clone());
        let collection = args.collection.clone();
        let writes = args.writes;
        writers.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.expect("connect a writer");
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= writes {
                    return;
                }
                let body = match &post {
                    Some(post) => json!({"post": post, "author": uid, "text": format!("w{i}")}),
                    None => json!({"title": format!("w{i}"), "author": uid, "published": true}),
                };
                sent[i].store(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
                let path = format!("/api/collections/{collection}/records");
                let (status, body) =
                    send(&mut stream, &addr, "POST", &path, Some(&token), Some(&body), "keep-alive").await;
                assert_eq!(status, 200, "write {i}: {body}");
            }
        }));
    }
    for w in writers {
        w.await.expect("a writer");
    }
    let written_in = burst.elapsed();
    let mut latencies = Vec::with_capacity(args.subscribers * args.writes);
    let mut delivered = 0;
    for t in tasks {
        for (i, at) in t.await.expect("a subscriber") {
            delivered += 1;
            latencies.push(at.saturating_sub(sent[i].load(Ordering::Relaxed)));
        }
    }
    let delivered_in = burst.elapsed();
    let (server_cpu, client_cpu) = (cpu(&server_pid) - server_cpu0, cpu("self") - client_cpu0);
    sampling.abort();
    let (rss_after, hwm) = memory(args.pid);
    latencies.sort_unstable();

    let expected = args.subscribers * args.writes;
    println!("subscribers            {} on {topic} (connected and subscribed in {connected_in:.2?})", args.subscribers);
    println!(
        "writes                 {} through {} connections in {written_in:.2?} ({:.0}/s)",
        args.writes,
        args.writers,
        args.writes as f64 / written_in.as_secs_f64()
    );
    println!("events delivered       {delivered} of {expected}, all within {delivered_in:.2?} of the first write");
    println!("CPU during the burst   server {server_cpu:.2} s, load client {client_cpu:.2} s");
    println!("latency p50            {:.1} ms", percentile(&latencies, 0.50));
    println!("latency p90            {:.1} ms", percentile(&latencies, 0.90));
    println!("latency p99            {:.1} ms", percentile(&latencies, 0.99));
    println!("latency max            {:.1} ms", percentile(&latencies, 1.0));
    if args.pid.is_some() {
        println!("server RSS before      {:.1} MiB", rss0 as f64 / 1024.0);
        println!("server RSS subscribed  {:.1} MiB", rss_connected as f64 / 1024.0);
        println!(
            "server RSS peak        {:.1} MiB (burst samples every 50 ms; VmHWM {:.1} MiB)",
            peak.load(Ordering::Relaxed).max(rss_after) as f64 / 1024.0,
            hwm as f64 / 1024.0
        );
        println!("server RSS after       {:.1} MiB", rss_after as f64 / 1024.0);
    }
    if delivered != expected {
        std::process::exit(1);
    }
}
