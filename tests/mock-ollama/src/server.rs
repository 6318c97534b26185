//! The server itself: the route table (with gin-style 404/405 fallbacks), an HTTP/1.1-only
//! accept loop with `TCP_NODELAY` (so every flushed record leaves at once), and the
//! [`MockServer`] handle, started either on the caller's tokio runtime or on a background
//! thread with its own runtime. Shutting down drops every open connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use crate::config::MockConfig;
use crate::state::State;
use crate::{completions, info, native, openai, v1models};

fn router(state: Arc<State>) -> Router {
    let na = info::method_not_allowed;
    Router::new()
        .route("/", get(info::root).fallback(na))
        .route("/api/version", get(info::version).fallback(na))
        .route("/api/tags", get(info::tags).fallback(na))
        .route("/api/ps", get(info::ps).fallback(na))
        .route("/api/show", post(info::show).fallback(na))
        .route("/api/pull", post(info::pull).fallback(na))
        .route("/api/generate", post(native::generate).fallback(na))
        .route("/api/chat", post(native::chat).fallback(na))
        .route(
            "/v1/chat/completions",
            post(openai::chat_completions).fallback(na),
        )
        .route(
            "/v1/completions",
            post(completions::completions).fallback(na),
        )
        .route("/v1/models", get(v1models::models).fallback(na))
        .route("/v1/models/{model}", get(v1models::model).fallback(na))
        .fallback(info::not_found)
        .with_state(state)
}

/// Accepts connections until dropped; dropping it aborts every connection task.
async fn serve(listener: TcpListener, app: Router) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let svc = TowerToHyperService::new(app.clone());
                conns.spawn(async move {
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc);
                    let _ = conn.await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

enum Runner {
    Task(JoinHandle<()>),
    Thread {
        stop: Option<oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
}

/// A running mock. Dropping it (or [`MockServer::shutdown`]) stops it.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<State>,
    runner: Runner,
}

async fn bind(config: MockConfig, addr: SocketAddr) -> std::io::Result<(TcpListener, Arc<State>)> {
    let listener = TcpListener::bind(addr).await?;
    Ok((listener, Arc::new(State::new(config))))
}

impl MockServer {
    /// Starts on `127.0.0.1:0` on the current tokio runtime.
    pub async fn start(config: MockConfig) -> std::io::Result<MockServer> {
        MockServer::start_at(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts on a given address on the current tokio runtime.
    pub async fn start_at(config: MockConfig, addr: SocketAddr) -> std::io::Result<MockServer> {
        let (listener, state) = bind(config, addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(serve(listener, router(state.clone())));
        Ok(MockServer {
            addr,
            state,
            runner: Runner::Task(task),
        })
    }

    /// Starts on `127.0.0.1:0` on a background thread with its own runtime, for tests
    /// without a runtime (e.g. ones that run llmbench as a subprocess).
    pub fn spawn_blocking(config: MockConfig) -> std::io::Result<MockServer> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("mock-ollama".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build();
                let rt = match rt {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let bound = bind(config, SocketAddr::from(([127, 0, 0, 1], 0))).await;
                    let (listener, state) =
                        match bound.and_then(|(l, s)| Ok((l.local_addr()?, l, s))) {
                            Ok((addr, listener, state)) => {
                                let _ = ready_tx.send(Ok((addr, state.clone())));
                                (listener, state)
                            }
                            Err(e) => {
                                let _ = ready_tx.send(Err(e));
                                return;
                            }
                        };
                    tokio::select! {
                        _ = serve(listener, router(state)) => {}
                        _ = stop_rx => {}
                    }
                });
            })?;
        let (addr, state) = ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("mock-ollama thread exited early"))??;
        Ok(MockServer {
            addr,
            state,
            runner: Runner::Thread {
                stop: Some(stop_tx),
                thread: Some(thread),
            },
        })
    }

    /// Base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Parsed bodies of the generation requests received (`/api/generate`, `/api/chat`,
    /// `/v1/*`), in arrival order, including load/unload and rejected ones.
    pub fn requests(&self) -> Vec<Value> {
        self.state.requests()
    }

    /// Number of recorded generation requests (`requests().len()`).
    pub fn generation_count(&self) -> usize {
        self.state.requests().len()
    }

    /// Generations currently running (a cancelled stream drops out promptly).
    pub fn in_flight(&self) -> usize {
        self.state.in_flight()
    }

    /// Stops the server and drops every open connection.
    pub async fn shutdown(mut self) {
        if let Runner::Task(task) = &mut self.runner {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        match &mut self.runner {
            Runner::Task(task) => task.abort(),
            Runner::Thread { stop, thread } => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
        }
    }
}
