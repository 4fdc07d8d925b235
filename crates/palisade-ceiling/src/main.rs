//! `palisade-ceiling`: the "bare hyper server" that `bench/ceiling.sh` measures Palisade against.
//!
//! It answers every request, whatever its method and path, with `200 OK`, `content-type:
//! application/json` and one static body, over HTTP/1.1 with keep-alive: no routing, no
//! authentication, no store, no logging. What it costs per request is the floor that hyper, tokio
//! and the kernel put under any server on this machine, so Palisade's rate divided by this one's
//! (same body size, same client, same cores) is how much of the machine Palisade's own work leaves.
//!
//! ```text
//! palisade-ceiling --listen 127.0.0.1:0 --body-file answer.json
//! palisade-ceiling --listen 127.0.0.1:0 --body-bytes 1500
//! ```
//!
//! The first line on standard output is the bound address (`listening http://127.0.0.1:PORT`).
//! Request bodies are read to the end and dropped, so POST benchmarks keep their connections.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

const USAGE: &str = "usage: palisade-ceiling [--listen ADDR] (--body-file FILE | --body-bytes N)\n\
    Answers every request with 200 and the given static JSON body (default: 127.0.0.1:0, 2 bytes).";

/// The command line: where to listen and what to answer.
struct Options {
    listen: SocketAddr,
    body: Bytes,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut body = Bytes::from_static(b"{}");
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--listen" => listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--body-file" => {
                let path = value()?;
                body = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?.into();
            }
            "--body-bytes" => {
                let n: usize = value()?.parse().map_err(|e| format!("--body-bytes: {e}"))?;
                // A JSON string of exactly n bytes (n >= 2), so clients that parse it still can.
                let mut bytes = vec![b'x'; n];
                if let (Some(first), true) = (bytes.first_mut(), n >= 2) {
                    *first = b'"';
                    bytes[n - 1] = b'"';
                }
                body = bytes.into();
            }
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    Ok(Options { listen, body })
}

/// Drains the request body (so the connection stays reusable), then answers the static body.
async fn answer(request: Request<Incoming>, body: Bytes) -> Result<Response<Full<Bytes>>, Infallible> {
    let _ = request.into_body().collect().await;
    let mut response = Response::new(Full::new(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("palisade-ceiling: {message}");
            return ExitCode::FAILURE;
        }
    };
    // The same runtime as `palisade serve`: multi-threaded, one worker per core.
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(options.listen).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("palisade-ceiling: cannot listen on {}: {e}", options.listen);
                return ExitCode::FAILURE;
            }
        };
        let bound = listener.local_addr().expect("a bound address");
        println!("listening http://{bound}");
        let _ = std::io::stdout().flush();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            // As Palisade does: responses leave as soon as they are written.
            let _ = stream.set_nodelay(true);
            let body = options.body.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| answer(request, body.clone()));
                // keep-alive is hyper's default for HTTP/1.1.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
