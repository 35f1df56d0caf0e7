//! A local S3 server (s3s-fs) for the benchmark and for trying `tr-cache`
//! by hand: `s3_server ROOT PORT ACCESS_KEY SECRET_KEY`. Serves every
//! directory below ROOT as a bucket on 127.0.0.1 until killed.

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, port, access, secret] = args.as_slice() else {
        eprintln!("usage: s3_server ROOT PORT ACCESS_KEY SECRET_KEY");
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("cannot start the runtime");
    let fs = s3s_fs::FileSystem::new(root).expect("cannot serve ROOT");
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(
        access.as_str(),
        secret.as_str(),
    ));
    let service = builder.build();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
            .await
            .expect("cannot listen");
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
}
