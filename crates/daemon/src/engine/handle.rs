//! In-memory state of one container: its record, the stream hub between the shim connection
//! and attached clients, and a watch channel that counts exits (for `wait`).

use crate::model::Container;
use bytes::Bytes;
use std::sync::Mutex as StdMutex;
use tokio::sync::{mpsc, watch, Mutex};

/// Output delivered to attached clients.
#[derive(Debug, Clone)]
pub enum Output {
    Stdout(Bytes),
    Stderr(Bytes),
}

/// What `wait` watches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExitGen {
    /// Number of exits since the daemon loaded the container.
    pub exits: u64,
    pub exit_code: i32,
    pub removed: bool,
}

#[derive(Default)]
pub struct IoHub {
    pub subscribers: Vec<mpsc::UnboundedSender<Output>>,
    /// Encoded frames for the shim; `None` while no shim is connected.
    pub shim_tx: Option<mpsc::UnboundedSender<Vec<u8>>>,
    /// Stdin frames sent before the shim was connected (attach comes before start).
    pub pending: Vec<Vec<u8>>,
}

pub struct Handle {
    pub id: String,
    pub rec: Mutex<Container>,
    pub io: StdMutex<IoHub>,
    pub exit_tx: watch::Sender<ExitGen>,
    /// Serialises lifecycle operations (start, stop, remove) on this container.
    pub op: Mutex<()>,
}

impl Handle {
    pub fn new(c: Container) -> Handle {
        let (exit_tx, _) = watch::channel(ExitGen {
            exit_code: c.state.exit_code,
            ..Default::default()
        });
        Handle {
            id: c.id.clone(),
            rec: Mutex::new(c),
            io: StdMutex::new(IoHub::default()),
            exit_tx,
            op: Mutex::new(()),
        }
    }

    fn with_io<T>(&self, f: impl FnOnce(&mut IoHub) -> T) -> T {
        let mut g = match self.io.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Output> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.with_io(|io| io.subscribers.push(tx));
        rx
    }

    pub fn publish(&self, out: Output) {
        self.with_io(|io| io.subscribers.retain(|s| s.send(out.clone()).is_ok()));
    }

    /// End every attached stream (the container exited).
    pub fn close_subscribers(&self) {
        self.with_io(|io| {
            io.subscribers.clear();
            io.shim_tx = None;
        });
    }

    /// Queue a frame for the shim, or keep it until the shim connects.
    pub fn send_to_shim(&self, frame: Vec<u8>) {
        self.with_io(|io| match &io.shim_tx {
            Some(tx) => {
                let _ = tx.send(frame);
            }
            None => io.pending.push(frame),
        });
    }

    /// A shim connected: hand it the frames that waited for it.
    pub fn set_shim(&self, tx: mpsc::UnboundedSender<Vec<u8>>) {
        self.with_io(|io| {
            for f in io.pending.drain(..) {
                let _ = tx.send(f);
            }
            io.shim_tx = Some(tx);
        });
    }

    pub fn note_exit(&self, code: i32) {
        self.exit_tx.send_modify(|g| {
            g.exits += 1;
            g.exit_code = code;
        });
    }

    /// A start that never ran the process: the code is recorded, but it is not an exit, so
    /// `next-exit` waiters keep waiting (as with dockerd, whose CLI would otherwise report
    /// the start error twice).
    pub fn note_failed_start(&self, code: i32) {
        self.exit_tx.send_modify(|g| g.exit_code = code);
    }

    pub fn note_removed(&self) {
        self.exit_tx.send_modify(|g| g.removed = true);
    }
}
