//! The Citus target (`STOCKDB_TEST_TARGET=citus`): a coordinator and two workers of this
//! process's own, with a template migrated and distributed on them.

use sqlx::Connection as _;

use crate::cluster::CitusCluster;
use crate::{Server, admin_connect, record_server, template_name};

/// Whether the tests run on a Citus cluster of their own (`STOCKDB_TEST_TARGET=citus`).
/// Panics on another target name.
pub fn citus_target() -> bool {
    match std::env::var("STOCKDB_TEST_TARGET").ok().as_deref() {
        None | Some("") | Some("server") => false,
        Some("citus") => true,
        Some(other) => panic!(
            "STOCKDB_TEST_TARGET={other:?}: the targets are `server` (the default: \
             TEST_DATABASE_URL, DATABASE_URL or a container) and `citus`"
        ),
    }
}

/// A Citus cluster for this process ([`CitusCluster`], two workers), its template
/// migrated and distributed as `stockdb db distribute` places the tables.
pub(crate) async fn start() -> Server {
    static CLUSTER: std::sync::OnceLock<CitusCluster> = std::sync::OnceLock::new();
    let citus = CitusCluster::new(2).await;
    citus.remove_when_this_process_ends();
    let template = template_name();
    citus.create_database(&template).await;
    let url = citus.coordinator.url_of(&template);
    let runner = migration::MigrationRunner::connect(&url)
        .await
        .expect("connect to the Citus template");
    runner.up(None).await.expect("migrate the Citus template");
    runner
        .close()
        .await
        .expect("close the template's connection");
    let pool = sqlx::PgPool::connect(&url)
        .await
        .expect("connect to the Citus template");
    let placed = migration::distribute(&pool)
        .await
        .expect("distribute the Citus template");
    assert_eq!(placed.pending().count(), 0, "{placed:?}");
    pool.close().await;
    let admin_url = citus.coordinator.url_of("postgres");
    let workers: Vec<String> = citus.workers.iter().map(|w| w.url_of("postgres")).collect();
    // Nobody connects to a template again: the daemons Citus runs in it are stopped
    // (coordinator first, its daemon connects to the workers), so it can be copied.
    for admin in std::iter::once(&admin_url).chain(&workers) {
        disconnect_all(admin, &template).await;
    }
    record_server(&format!(
        "a Citus cluster of its own: coordinator {} and {} workers",
        citus.coordinator.host(),
        workers.len()
    ));
    let _ = CLUSTER.set(citus);
    Server {
        admin_url,
        workers,
        template,
    }
}

/// Ends every session of `database` on the server at `admin_url`.
pub(crate) async fn disconnect_all(admin_url: &str, database: &str) {
    let mut admin = admin_connect(admin_url).await;
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(database)
    .execute(&mut admin)
    .await
    .unwrap_or_else(|err| panic!("disconnecting {database}: {err}"));
    admin.close().await.expect("close admin connection");
}
