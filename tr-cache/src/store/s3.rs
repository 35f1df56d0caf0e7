//! The S3 store, through aws-sdk-s3, for AWS and S3-compatible servers.
//!
//! Settings are read from the environment without touching the network.
//! The tokio runtime (current-thread) and the SDK client are built on the
//! first operation, so a run that never needs the cache never pays for
//! them. Every request is bounded by a connect timeout and a read timeout
//! (time to the first byte of an answer); a stalled transfer is cut by the
//! SDK's stalled-stream protection.

use std::fmt;
use std::io::{self, Read};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::SharedHttpClient;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::upload_part::{UploadPartError, UploadPartOutput};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_smithy_http_client::tls;
use tokio::runtime::Runtime;

use crate::CacheError;
use crate::error::RemoteError;

/// Selects the S3 store and names its bucket.
pub const BUCKET_VAR: &str = "TASKRUNNER_REMOTE_CACHE_BUCKET";
/// The prefix of every object name, default `taskrunner/`.
pub const PREFIX_VAR: &str = "TASKRUNNER_REMOTE_CACHE_PREFIX";
/// A custom endpoint URL, which implies path-style addressing.
pub const ENDPOINT_VAR: &str = "TASKRUNNER_S3_ENDPOINT";
/// The region, default `eu-central-1`.
pub const REGION_VAR: &str = "TASKRUNNER_AWS_REGION";
/// The access key id; with the secret key, replaces the AWS chain.
pub const ACCESS_KEY_VAR: &str = "TASKRUNNER_AWS_ACCESS_KEY";
/// The secret access key.
pub const SECRET_KEY_VAR: &str = "TASKRUNNER_AWS_SECRET_KEY";
/// Seconds allowed to open a connection, default 3.
pub const CONNECT_TIMEOUT_VAR: &str = "TASKRUNNER_S3_CONNECT_TIMEOUT";
/// Seconds allowed from the start of a request, body included (at most one
/// 8 MiB part), to the first byte of its answer; default 15.
pub const READ_TIMEOUT_VAR: &str = "TASKRUNNER_S3_READ_TIMEOUT";

/// Archives larger than this go up in parts of this size (S3's minimum
/// part is 5 MiB); memory holds one part at a time.
const PART_SIZE: usize = 8 << 20;
/// Chunks of a download fetched ahead of the reader.
const PREFETCH_CHUNKS: usize = 64;
/// Parts uploaded at once.
const PARTS_IN_FLIGHT: usize = 2;

/// A part's number and the server's answer.
type PartUpload = (
    i32,
    Result<UploadPartOutput, SdkError<UploadPartError, HttpResponse>>,
);

/// Where and how to reach the bucket. `Debug` shows no key.
#[derive(Clone)]
pub struct S3Options {
    /// The bucket.
    pub bucket: String,
    /// Prepended to every object name, such as `taskrunner/`.
    pub prefix: String,
    /// A custom endpoint URL; path-style addressing is used with it.
    pub endpoint: Option<String>,
    /// The region.
    pub region: String,
    /// Access key id and secret key; `None` uses the AWS chain.
    pub credentials: Option<(String, String)>,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed between a request and the first byte of its answer.
    pub read_timeout: Duration,
}

impl fmt::Debug for S3Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Options")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint.as_deref().map(redact_url))
            .field("region", &self.region)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .finish()
    }
}

/// A bucket, with the client built on first use.
pub struct S3Store {
    settings: S3Options,
    conn: OnceLock<Arc<Conn>>,
}

struct Conn {
    runtime: Runtime,
    client: Client,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("options", &self.settings)
            .field("connected", &self.conn.get().is_some())
            .finish()
    }
}

/// An endpoint URL without the user and password it might carry.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}<redacted>{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn var(name: &str) -> Option<String> {
    tr_common::env::non_empty(name).map(|v| v.to_string_lossy().into_owned())
}

impl S3Store {
    /// The store `TASKRUNNER_REMOTE_CACHE_BUCKET` selects, if set.
    pub fn from_env() -> Result<Option<S3Store>, CacheError> {
        let Some(bucket) = var(BUCKET_VAR) else {
            return Ok(None);
        };
        let credentials = match (var(ACCESS_KEY_VAR), var(SECRET_KEY_VAR)) {
            (Some(access), Some(secret)) => Some((access, secret)),
            _ => None,
        };
        Ok(Some(S3Store::new(S3Options {
            bucket,
            prefix: std::env::var(PREFIX_VAR).unwrap_or_else(|_| "taskrunner/".to_owned()),
            endpoint: var(ENDPOINT_VAR),
            region: var(REGION_VAR).unwrap_or_else(|| "eu-central-1".to_owned()),
            credentials,
            connect_timeout: tr_common::env::seconds(CONNECT_TIMEOUT_VAR, 3)?,
            read_timeout: tr_common::env::seconds(READ_TIMEOUT_VAR, 15)?,
        })))
    }

    /// A store with explicit options.
    pub fn new(options: S3Options) -> S3Store {
        S3Store {
            settings: options,
            conn: OnceLock::new(),
        }
    }

    /// The key of `name`, under the prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.settings.prefix)
    }

    /// `s3://bucket/key`.
    pub fn location(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.settings.bucket)
    }

    fn conn(&self) -> Result<&Arc<Conn>, CacheError> {
        if let Some(conn) = self.conn.get() {
            return Ok(conn);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| self.error("connect to", "", RemoteError(e.to_string())))?;
        let client = runtime.block_on(self.settings.client());
        Ok(self.conn.get_or_init(|| Arc::new(Conn { runtime, client })))
    }

    fn error(&self, action: &'static str, key: &str, source: RemoteError) -> CacheError {
        CacheError::Store {
            action,
            object: key.to_owned(),
            store: format!("S3 bucket `{}`", self.settings.bucket),
            source,
        }
    }

    /// An error met while streaming an object's content.
    pub fn stream_error(&self, action: &'static str, key: &str, source: io::Error) -> CacheError {
        let text = tr_common::diag::chain(&source);
        self.error(action, key, RemoteError(text))
    }

    /// Opens `key` for streaming; `None` when it does not exist. The body
    /// is fetched ahead of the reader by a thread of its own.
    pub fn open(&self, key: &str) -> Result<Option<BodyReader>, CacheError> {
        let conn = self.conn()?;
        let request = conn
            .client
            .get_object()
            .bucket(&self.settings.bucket)
            .key(key);
        match conn.runtime.block_on(request.send()) {
            Ok(answer) => Ok(Some(BodyReader::start(Arc::clone(conn), answer.body))),
            Err(SdkError::ServiceError(e))
                if e.err().is_no_such_key() || e.raw().status().as_u16() == 404 =>
            {
                Ok(None)
            }
            Err(e) => Err(self.error("download", key, remote_error(e))),
        }
    }

    /// Uploads what `source` yields as `key`: one request for a small
    /// object, a multipart upload for a large one, aborted on failure.
    pub fn put(
        &self,
        key: &str,
        source: &mut (dyn Read + Send),
        content_type: &str,
    ) -> Result<u64, CacheError> {
        let conn = self.conn()?;
        let read_err = |e| self.stream_error("upload", key, e);
        let first = read_part(source).map_err(read_err)?;
        if first.len() < PART_SIZE {
            let size = first.len() as u64;
            let request = conn
                .client
                .put_object()
                .bucket(&self.settings.bucket)
                .key(key)
                .content_type(content_type)
                .body(ByteStream::from(first));
            conn.runtime
                .block_on(request.send())
                .map_err(|e| self.error("upload", key, remote_error(e)))?;
            return Ok(size);
        }

        let request = conn
            .client
            .create_multipart_upload()
            .bucket(&self.settings.bucket)
            .key(key)
            .content_type(content_type);
        let upload = conn
            .runtime
            .block_on(request.send())
            .map_err(|e| self.error("upload", key, remote_error(e)))?;
        let upload_id = upload.upload_id().unwrap_or_default().to_owned();
        let result = self.upload_parts(conn, key, &upload_id, first, source);
        if result.is_err() {
            let abort = conn
                .client
                .abort_multipart_upload()
                .bucket(&self.settings.bucket)
                .key(key)
                .upload_id(&upload_id);
            let _ = conn.runtime.block_on(abort.send());
        }
        result
    }

    /// Uploads `first` and then the parts read from `source`, two at a
    /// time. A second thread reads the next part meanwhile, so the archive
    /// writer on the other side of `source` seldom waits, and the server
    /// stores one part while the next one travels.
    fn upload_parts(
        &self,
        conn: &Conn,
        key: &str,
        upload_id: &str,
        first: Vec<u8>,
        source: &mut (dyn Read + Send),
    ) -> Result<u64, CacheError> {
        let (parts_in, parts_out) = tokio::sync::mpsc::channel::<io::Result<Vec<u8>>>(1);
        let (completed, size) = std::thread::scope(|scope| {
            scope.spawn(move || {
                loop {
                    let part = read_part(source);
                    let last = !matches!(&part, Ok(p) if !p.is_empty());
                    if parts_in.blocking_send(part).is_err() || last {
                        break;
                    }
                }
            });
            // The receiver moves into the future, so that returning early
            // drops it and stops the reading thread.
            conn.runtime
                .block_on(self.send_parts(conn, key, upload_id, first, parts_out))
        })?;

        let request = conn
            .client
            .complete_multipart_upload()
            .bucket(&self.settings.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            );
        conn.runtime
            .block_on(request.send())
            .map_err(|e| self.error("upload", key, remote_error(e)))?;
        Ok(size)
    }

    async fn send_parts(
        &self,
        conn: &Conn,
        key: &str,
        upload_id: &str,
        first: Vec<u8>,
        mut parts: tokio::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    ) -> Result<(Vec<CompletedPart>, u64), CacheError> {
        let mut uploads = tokio::task::JoinSet::new();
        let mut completed = Vec::new();
        let mut next = Some(first);
        let mut size = 0;
        let mut number = 0;
        loop {
            while uploads.len() >= PARTS_IN_FLIGHT {
                completed.push(self.finished_part(key, &mut uploads).await?);
            }
            let part = match next.take() {
                Some(part) => part,
                None => match parts.recv().await {
                    Some(Ok(part)) if !part.is_empty() => part,
                    Some(Ok(_)) | None => break,
                    Some(Err(e)) => return Err(self.stream_error("upload", key, e)),
                },
            };
            number += 1;
            size += part.len() as u64;
            let request = conn
                .client
                .upload_part()
                .bucket(&self.settings.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(part));
            uploads.spawn(async move { (number, request.send().await) });
        }
        while !uploads.is_empty() {
            completed.push(self.finished_part(key, &mut uploads).await?);
        }
        completed.sort_by_key(|part| part.part_number());
        Ok((completed, size))
    }

    async fn finished_part(
        &self,
        key: &str,
        uploads: &mut tokio::task::JoinSet<PartUpload>,
    ) -> Result<CompletedPart, CacheError> {
        let lost = || {
            self.error(
                "upload",
                key,
                RemoteError("an upload task was lost".to_owned()),
            )
        };
        let (number, answer) = uploads
            .join_next()
            .await
            .ok_or_else(lost)?
            .map_err(|_| lost())?;
        let answer = answer.map_err(|e| self.error("upload", key, remote_error(e)))?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(answer.e_tag)
            .build())
    }
}

impl S3Options {
    async fn client(&self) -> Client {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .build();
        // One retry: a server that fails twice in a row is down for this
        // run, and the task is better off rebuilding than waiting.
        let retries = RetryConfig::standard()
            .with_max_attempts(2)
            .with_initial_backoff(Duration::from_millis(200));
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(https_client())
            .region(Region::new(self.region.clone()))
            .timeout_config(timeouts)
            .retry_config(retries);
        if let Some((access, secret)) = &self.credentials {
            let credentials = Credentials::new(access, secret, None, None, "taskrunner");
            loader = loader.credentials_provider(credentials);
        }
        let shared = loader.load().await;

        // Checksums only where S3 requires them: several S3-compatible
        // servers reject the newer default trailers, and zstd already
        // checks the archive's content.
        let mut config = aws_sdk_s3::config::Builder::from(&shared)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &self.endpoint {
            config = config.endpoint_url(endpoint).force_path_style(true);
        }
        Client::from_conf(config.build())
    }
}

/// The SDK's hyper client with rustls on *ring*, the provider tr-check
/// uses too. The SDK's default, aws-lc, would add a second crypto library
/// whose start-up code (CPU feature probing) runs in every tr-run process,
/// cache or not.
fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// Reads up to one part; shorter only at the end of `source`.
fn read_part(source: &mut (dyn Read + Send)) -> io::Result<Vec<u8>> {
    let mut part = Vec::with_capacity(PART_SIZE);
    source.take(PART_SIZE as u64).read_to_end(&mut part)?;
    Ok(part)
}

/// Renders an SDK error without its request, which carries signed
/// headers: an answer from the server by its status and code, anything
/// else by its chain of causes.
fn remote_error<E>(err: SdkError<E, HttpResponse>) -> RemoteError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let status = service.raw().status().as_u16();
            let mut text = format!("the server answered HTTP {status}");
            if let Some(code) = inner.code() {
                text.push_str(&format!(" ({code}"));
                if let Some(message) = inner.message() {
                    text.push_str(&format!(": {message}"));
                }
                text.push(')');
            }
            RemoteError(text)
        }
        SdkError::TimeoutError(_) => RemoteError("timed out".to_owned()),
        _ => RemoteError(tr_common::diag::chain(&err)),
    }
}

/// An object's content as a blocking reader. A thread drives the runtime
/// to fetch the next chunks while the reader decompresses and writes the
/// ones before, within a bounded queue.
pub struct BodyReader {
    chunks: mpsc::Receiver<io::Result<bytes::Bytes>>,
    chunk: bytes::Bytes,
}

impl BodyReader {
    fn start(conn: Arc<Conn>, mut body: ByteStream) -> BodyReader {
        let (sender, chunks) = mpsc::sync_channel(PREFETCH_CHUNKS);
        // Not joined: when the reader is dropped early, the thread ends at
        // its next chunk, or when the stalled-stream protection gives up.
        std::thread::spawn(move || {
            conn.runtime.block_on(async move {
                while let Some(chunk) = body.next().await {
                    let failed = chunk.is_err();
                    if sender.send(chunk.map_err(io::Error::other)).is_err() || failed {
                        break;
                    }
                }
            })
        });
        BodyReader {
            chunks,
            chunk: bytes::Bytes::new(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.chunks.recv() {
                Err(_) => return Ok(0),
                Ok(chunk) => self.chunk = chunk?,
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}
