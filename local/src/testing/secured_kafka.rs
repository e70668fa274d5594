//! A Kafka-protocol broker that requires TLS and SASL/SCRAM-SHA-512, as MSK's port 9096 does:
//! for the tests of every client that must work against it (the publisher, the topics
//! resource).
//!
//! tansu 0.6 accepts `--cert`/`--key` but never wraps its connections in TLS (its broker builds
//! the acceptor and leaves it unused), so TLS is terminated in front of it with a certificate
//! from a private authority, and the broker advertises that TLS address: every connection a
//! client makes (bootstrap and partition leaders) runs TLS, then SCRAM.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::kafka::tansu_binary;

/// A running broker with one SCRAM user; stopped, and its folder removed, when dropped.
pub struct SecuredKafka {
    /// The TLS address clients bootstrap from.
    pub bootstrap: String,
    /// The broker's own (plaintext) address, which refuses unauthenticated clients.
    pub plaintext: String,
    /// The private authority that signed the TLS certificate (`KAFKA_TLS_CA_FILE`).
    pub ca_file: PathBuf,
    dir: PathBuf,
    _broker: Child,
    relay: tokio::task::JoinHandle<()>,
}

impl Drop for SecuredKafka {
    fn drop(&mut self) {
        self.relay.abort();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl SecuredKafka {
    /// Starts a broker with the user `username` and the topics `topics` (name, partitions).
    /// The user and the topics are made while the broker is open; it then restarts requiring
    /// authentication (tansu refuses even user creation once it does).
    pub async fn start(username: &str, password: &str, topics: &[(&str, i32)]) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "todo-scram-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (ca_file, cert, key) = certificates(&dir);
        let (broker_port, tls_port) = (free_port(), free_port());

        let mut open = tansu(&dir, broker_port, broker_port, false);
        until_listening(broker_port).await;
        let created = Command::new(tansu_binary())
            .args([
                "user",
                "create",
                "--broker",
                &format!("tcp://127.0.0.1:{broker_port}"),
                username,
                password,
            ])
            .status()
            .await
            .unwrap();
        assert!(created.success(), "tansu user create");
        let client = rskafka::client::ClientBuilder::new(vec![format!("127.0.0.1:{broker_port}")])
            .build()
            .await
            .unwrap();
        let controller = client.controller_client().unwrap();
        for (name, partitions) in topics {
            controller
                .create_topic(*name, *partitions, 1, 5_000)
                .await
                .unwrap();
        }
        open.kill().await.unwrap();
        let broker = tansu(&dir, broker_port, tls_port, true);
        until_listening(broker_port).await;
        let relay = tls_endpoint(tls_port, broker_port, &cert, &key).await;
        Self {
            bootstrap: format!("127.0.0.1:{tls_port}"),
            plaintext: format!("127.0.0.1:{broker_port}"),
            ca_file,
            dir,
            _broker: broker,
            relay,
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn openssl(dir: &Path, args: &[&str]) {
    let ok = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs")
        .success();
    assert!(ok, "openssl {args:?}");
}

/// A private authority and a certificate for 127.0.0.1 it signed: (ca.pem, cert.pem, key.pem).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=todo test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ],
    );
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

fn tansu(dir: &Path, port: u16, advertised: u16, authentication: bool) -> Child {
    let mut c = Command::new(tansu_binary());
    c.current_dir(dir)
        .args([
            "broker",
            "--listener-url",
            &format!("tcp://127.0.0.1:{port}"),
        ])
        .args([
            "--advertised-listener-url",
            &format!("tcp://127.0.0.1:{advertised}"),
        ])
        .args(["--storage-engine", "sqlite://tansu.db", "--silent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if authentication {
        c.arg("--authentication");
    }
    c.spawn().expect("tansu starts")
}

async fn until_listening(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("nothing listens on {port}");
}

/// Terminates TLS on `port` and relays each connection to the broker on `upstream`.
async fn tls_endpoint(
    port: u16,
    upstream: u16,
    cert: &Path,
    key: &Path,
) -> tokio::task::JoinHandle<()> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                if let Ok(mut broker) =
                    tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut broker).await;
                }
            });
        }
    })
}
