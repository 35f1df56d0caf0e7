//! An in-process S3 server (s3s-fs) on 127.0.0.1, for the tests of this
//! crate, for the workspace's end-to-end tests and for the `s3_server`
//! example, which include this file on its own.

use std::fs;
use std::io;
use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;

pub const ACCESS_KEY: &str = "AKIATESTACCESSKEY1";
pub const SECRET_KEY: &str = "s3cr3t-TEST-secret-KEY-do-not-print";

/// An in-process S3 server (s3s-fs) on a random port of 127.0.0.1.
pub struct S3Server {
    pub endpoint: String,
    root: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl S3Server {
    pub fn start() -> S3Server {
        let root = tempfile::Builder::new()
            .prefix("tr-s3-test-")
            .tempdir()
            .unwrap();
        let (runtime, endpoint) = serve(root.path(), "127.0.0.1:0", ACCESS_KEY, SECRET_KEY, 1)
            .expect("cannot start the S3 server");
        S3Server {
            endpoint,
            root,
            _runtime: runtime,
        }
    }

    /// Creates a bucket and returns its name.
    pub fn bucket(&self, name: &str) -> String {
        fs::create_dir_all(self.root.path().join(name)).unwrap();
        name.to_owned()
    }
}

/// Serves every directory below `root` as a bucket at `addr`, on a new
/// runtime with `threads` workers that serves until dropped. Returns the
/// runtime and the endpoint's URL.
pub fn serve(
    root: &Path,
    addr: &str,
    access: &str,
    secret: &str,
    threads: usize,
) -> io::Result<(tokio::runtime::Runtime, String)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    let fs = s3s_fs::FileSystem::new(root).map_err(|e| io::Error::other(format!("{e:?}")))?;
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(access, secret));
    let service = builder.build();
    let listener = runtime.block_on(tokio::net::TcpListener::bind(addr))?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    runtime.spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let conn = ConnBuilder::new(TokioExecutor::new());
                let _ = conn.serve_connection(TokioIo::new(socket), service).await;
            });
        }
    });
    Ok((runtime, endpoint))
}
