//! The sending thread: performs the worker's trace requests one at a time, so that the worker
//! can map and encode the next payload while the agent reads the previous one.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::client::{Client, Failure, Response};

/// One `PUT` to perform.
pub(crate) struct Request {
    pub(crate) path: &'static str,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
}

/// How a request ended, with its body handed back (for a retry, a split or a downgrade).
pub(crate) struct Done {
    pub(crate) result: Result<Response, Failure>,
    pub(crate) body: Vec<u8>,
}

/// The worker's handle on the sending thread. At most one request is in flight.
pub(crate) struct Sender {
    requests: Option<SyncSender<Request>>,
    done: Receiver<Done>,
    thread: Option<JoinHandle<()>>,
}

impl Sender {
    /// Starts the thread; it exits when the `Sender` is dropped.
    pub(crate) fn start(client: Client) -> std::io::Result<Sender> {
        let (requests, incoming) = sync_channel::<Request>(1);
        let (finished, done) = sync_channel::<Done>(1);
        let thread = std::thread::Builder::new()
            .name("ddtrace-sender".to_owned())
            .spawn(move || {
                for request in incoming {
                    let headers: Vec<(&str, &str)> = request
                        .headers
                        .iter()
                        .map(|(k, v)| (*k, v.as_str()))
                        .collect();
                    let result = client.put(request.path, &headers, &request.body);
                    let reply = Done {
                        result,
                        body: request.body,
                    };
                    if finished.send(reply).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Sender {
            requests: Some(requests),
            done,
            thread: Some(thread),
        })
    }

    /// Hands a request to the thread; [`Sender::wait`] returns its outcome. Must not be called
    /// again before that.
    pub(crate) fn dispatch(&self, request: Request) -> Result<(), Request> {
        match &self.requests {
            Some(tx) => tx.send(request).map_err(|e| e.0),
            None => Err(request),
        }
    }

    /// Waits for the request dispatched last; `None` if the thread is gone.
    pub(crate) fn wait(&self) -> Option<Done> {
        self.done.recv().ok()
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
