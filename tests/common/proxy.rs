//! A TCP proxy that a test can cut: an outage of one server's database connections, leaving everyone else's
//! alone.
#![allow(dead_code)]

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub struct Proxy {
    pub port: u16,
    down: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    /// Forwards connections on a free local port to `target`.
    pub fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let paused = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let target = target.to_owned();
        {
            let (down, open, paused) = (down.clone(), open.clone(), paused.clone());
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    let Ok(client) = client else { continue };
                    if down.load(Ordering::Acquire) {
                        continue; // dropped: refused
                    }
                    let Ok(server) = TcpStream::connect(&target) else {
                        continue;
                    };
                    let mut list = open.lock().unwrap();
                    list.push(client.try_clone().unwrap());
                    list.push(server.try_clone().unwrap());
                    pipe(
                        client.try_clone().unwrap(),
                        server.try_clone().unwrap(),
                        paused.clone(),
                    );
                    pipe(server, client, paused.clone());
                }
            });
        }
        Proxy {
            port,
            down,
            paused,
            open,
        }
    }

    /// Cuts every connection and refuses new ones until `restore`.
    pub fn cut(&self) {
        self.down.store(true, Ordering::Release);
        self.paused.store(false, Ordering::Release);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.down.store(false, Ordering::Release);
        self.paused.store(false, Ordering::Release);
    }

    /// Holds every byte in flight (connections stay open) until `restore` or `cut`.
    pub fn pause(&self) {
        self.paused.store(true, Ordering::Release);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, paused: Arc<AtomicBool>) {
    use std::io::{Read, Write};
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            while paused.load(Ordering::Acquire) {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            if to.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
