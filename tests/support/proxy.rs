//! A TCP proxy of the test's own between the bot and the XMPP server, whose connections the
//! test cuts: a network outage that the server sees as a dropped connection (so it keeps the
//! session for resumption, XEP-0198) while it goes on running.

use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy's tasks share.
#[derive(Default)]
struct State {
    /// New connections are forwarded (else accepted and closed at once).
    open: bool,
    /// The forwarding tasks of the connections made so far.
    links: Vec<JoinHandle<()>>,
    /// Connections forwarded so far.
    forwarded: usize,
    /// Connections refused while cut.
    refused: usize,
}

/// A TCP proxy on a free loopback port to `target`; stops when dropped.
pub struct Proxy {
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    state: Arc<Mutex<State>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding connections on a free port to `target` (`host:port`).
    pub async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            open: true,
            ..State::default()
        }));
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut state = shared.lock().unwrap();
                if !state.open {
                    // Accepted and closed: the client's attempt fails, as against a dead path.
                    state.refused += 1;
                    drop(inbound);
                    continue;
                }
                state.forwarded += 1;
                let target = target.clone();
                state.links.push(tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }));
            }
        });
        Proxy {
            port,
            state,
            accept,
        }
    }

    /// `127.0.0.1:port`, for the bot's `xmpp.server`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Cuts every connection now (both ends see it closed) and refuses new ones until
    /// [`Proxy::reopen`].
    pub fn cut(&self) {
        let mut state = self.state.lock().unwrap();
        state.open = false;
        for link in state.links.drain(..) {
            link.abort();
        }
    }

    /// Forwards new connections again.
    pub fn reopen(&self) {
        self.state.lock().unwrap().open = true;
    }

    /// Connections forwarded so far.
    pub fn forwarded(&self) -> usize {
        self.state.lock().unwrap().forwarded
    }

    /// Connections refused while cut.
    pub fn refused(&self) -> usize {
        self.state.lock().unwrap().refused
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for link in self.state.lock().unwrap().links.drain(..) {
            link.abort();
        }
    }
}
