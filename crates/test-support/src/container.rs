//! The container target: one PostgreSQL container per test process, through
//! testcontainers, when no server URL is given.

#[cfg(feature = "container")]
use sqlx::{Connection as _, PgConnection};

use crate::NO_SERVER;
#[cfg(feature = "container")]
use crate::{record_server, test_image};

/// A PostgreSQL container for this process, through testcontainers, from [`test_image`];
/// its URL once it really accepts connections. The container is removed when the process
/// ends: a watcher process removes it once this process is gone (testcontainers removes a
/// container when its handle is dropped, which a process-wide one never is).
#[cfg(feature = "container")]
pub(crate) async fn start() -> String {
    use std::sync::OnceLock;

    use testcontainers::core::{IntoContainerPort, WaitFor};
    use testcontainers::runners::AsyncRunner;
    use testcontainers::{ContainerAsync, GenericImage, ImageExt};

    /// Keeps the container alive until the process exits.
    static CONTAINER: OnceLock<ContainerAsync<GenericImage>> = OnceLock::new();
    let image = test_image();
    let (name, tag) = image.rsplit_once(':').unwrap_or((image.as_str(), "latest"));
    let started = GenericImage::new(name, tag)
        .with_exposed_port(5432.tcp())
        .with_wait_for(WaitFor::message_on_stderr(
            "database system is ready to accept connections",
        ))
        .with_label("stockdb-test", std::process::id().to_string())
        .with_startup_timeout(std::time::Duration::from_secs(120))
        .start()
        .await;
    let container = match started {
        Ok(container) => container,
        Err(err) => panic!(
            "{NO_SERVER}(a container of {image} did not start: {err}; build the image with \
             `cargo xtask test-image`)\n"
        ),
    };
    let host = container.get_host().await.expect("container host");
    let port = container
        .get_host_port_ipv4(5432)
        .await
        .expect("container port");
    remove_when_this_process_ends(container.id());
    let url = format!("postgres://postgres:postgres@{host}:{port}/postgres");
    wait_until_it_accepts(&url).await;
    record_server(&format!(
        "container {} of {image} at {host}:{port}",
        &container.id()[..12.min(container.id().len())]
    ));
    let _ = CONTAINER.set(container);
    url
}

/// Starts a watcher that removes container `id` once this process has gone, however it
/// ends (statics are never dropped, and a killed process runs no destructor).
#[cfg(feature = "container")]
fn remove_when_this_process_ends(id: &str) {
    crate::when_this_process_ends(
        &format!("docker rm -f {id} >/dev/null 2>&1"),
        &format!("container {id}"),
    );
}

/// Waits until a connection to `url` succeeds: the log line comes a moment before the
/// mapped port answers.
#[cfg(feature = "container")]
async fn wait_until_it_accepts(url: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match PgConnection::connect(url).await {
            Ok(conn) => {
                let _ = conn.close().await;
                return;
            }
            Err(err) if std::time::Instant::now() >= deadline => {
                panic!("the test container never accepted a connection: {err}")
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}

#[cfg(not(feature = "container"))]
pub(crate) async fn start() -> String {
    panic!("{NO_SERVER}(test-support was built without its `container` feature)\n")
}
