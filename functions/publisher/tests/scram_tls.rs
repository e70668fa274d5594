//! The publisher's SASL_SSL_SCRAM path against a real Kafka-protocol broker that requires
//! authentication: tansu with `--authentication` and a SCRAM-SHA-512 user, reached over TLS.
//! tansu 0.6 accepts `--cert`/`--key` but never wraps its connections in TLS (its broker
//! builds the acceptor and leaves it unused), so the test terminates TLS in front of it with a
//! certificate from a private authority, and the broker advertises that TLS address: every
//! connection the client makes (bootstrap and partition leaders) runs TLS, then SCRAM.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use rskafka::client::partition::UnknownTopicHandling;
use todo_publisher::kafka::{KafkaConfig, KafkaSink, Security};
use todo_publisher::relay::{EventSink, Outgoing};
use tokio::process::{Child, Command};

const USER: &str = "todo-publisher";
const PASSWORD: &str = "scram-s3cret";

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
    let mut c = Command::new(todo_local::kafka::tansu_binary());
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
async fn tls_endpoint(port: u16, upstream: u16, cert: &Path, key: &Path) {
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
    });
}

fn scram(bootstrap: String, password: &str, ca_file: Option<PathBuf>) -> KafkaConfig {
    let mut config = KafkaConfig::plaintext(vec![bootstrap]);
    config.security = Security::Scram {
        username: USER.into(),
        password: password.into(),
    };
    config.ca_file = ca_file;
    config
}

fn record(key: &str) -> Outgoing {
    Outgoing {
        topic: "todo.task.events",
        key: key.into(),
        value: br#"{"specversion":"1.0"}"#.to_vec(),
        headers: vec![("ce_type", b"task.created".to_vec())],
        time: chrono::Utc::now(),
    }
}

#[tokio::test]
async fn the_publisher_produces_over_tls_with_scram_and_is_refused_without_them() {
    let dir = std::env::temp_dir().join(format!("todo-scram-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, cert, key) = certificates(&dir);
    let (broker_port, tls_port) = (free_port(), free_port());

    // The user and the topic are made while the broker is open, then it restarts requiring
    // authentication (tansu refuses even user creation once it does).
    let mut open = tansu(&dir, broker_port, broker_port, false);
    until_listening(broker_port).await;
    let created = Command::new(todo_local::kafka::tansu_binary())
        .args([
            "user",
            "create",
            "--broker",
            &format!("tcp://127.0.0.1:{broker_port}"),
            USER,
            PASSWORD,
        ])
        .status()
        .await
        .unwrap();
    assert!(created.success(), "tansu user create");
    let client = KafkaConfig::plaintext(vec![format!("127.0.0.1:{broker_port}")])
        .connect("test-setup", Duration::from_secs(10))
        .await
        .unwrap();
    client
        .controller_client()
        .unwrap()
        .create_topic("todo.task.events", 1, 1, 5_000)
        .await
        .unwrap();
    open.kill().await.unwrap();
    let _secured = tansu(&dir, broker_port, tls_port, true);
    until_listening(broker_port).await;
    tls_endpoint(tls_port, broker_port, &cert, &key).await;
    let bootstrap = format!("127.0.0.1:{tls_port}");
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(10);

    // TLS verified against the private authority, then SCRAM-SHA-512: produced.
    let sink = KafkaSink::new(scram(bootstrap.clone(), PASSWORD, Some(ca.clone())));
    let results = sink.publish(&[record("task-1")], deadline()).await;
    assert_eq!(results, vec![Ok(())]);
    let reader = scram(bootstrap.clone(), PASSWORD, Some(ca.clone()))
        .connect("test-reader", Duration::from_secs(10))
        .await
        .unwrap();
    let (records, _) = reader
        .partition_client("todo.task.events", 0, UnknownTopicHandling::Error)
        .await
        .unwrap()
        .fetch_records(0, 1..1_000_000, 1_000)
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].record.key.as_deref(), Some(&b"task-1"[..]));

    // A wrong password is refused by the broker.
    let wrong = KafkaSink::new(scram(
        bootstrap.clone(),
        "not-the-password",
        Some(ca.clone()),
    ));
    let results = wrong.publish(&[record("task-2")], deadline()).await;
    assert!(results[0].is_err(), "{results:?}");
    // Without the authority the certificate is not trusted: TLS is really checked.
    let untrusted = KafkaSink::new(scram(bootstrap.clone(), PASSWORD, None));
    let results = untrusted.publish(&[record("task-3")], deadline()).await;
    assert!(results[0].is_err(), "{results:?}");
    // And the broker itself refuses a client that does not authenticate.
    let anonymous = KafkaSink::new(KafkaConfig::plaintext(vec![format!(
        "127.0.0.1:{broker_port}"
    )]));
    let results = anonymous.publish(&[record("task-4")], deadline()).await;
    assert!(results[0].is_err(), "{results:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
