//! A local S3 server (s3s-fs) for the benchmark and for trying `tr-cache`
//! by hand: `s3_server ROOT PORT ACCESS_KEY SECRET_KEY`. Serves every
//! directory below ROOT as a bucket on 127.0.0.1 until killed.

#[allow(dead_code)]
#[path = "../tests/common/s3_server.rs"]
mod s3_server;

use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, port, access, secret] = args.as_slice() else {
        eprintln!("usage: s3_server ROOT PORT ACCESS_KEY SECRET_KEY");
        std::process::exit(2);
    };
    let addr = format!("127.0.0.1:{port}");
    match s3_server::serve(Path::new(root), &addr, access, secret, 2) {
        Ok((runtime, _)) => runtime.block_on(std::future::pending::<()>()),
        Err(e) => {
            eprintln!("s3_server: cannot serve {root} on {addr}: {e}");
            std::process::exit(1);
        }
    }
}
