//! `palisade`: the command line of the emulator. `serve` runs it; `credentials`, `token` and `trace`
//! read the same data directory through the domain (never the store directly), so they work
//! whether or not a server is running.

use clap::{Args, Parser, Subcommand};
use palisade_model::tenant::{DEMO_TENANT_ID, DEV_CLIENT_ID, DEV_CLIENT_SECRET};
use palisade_server::tls::TlsFiles;
use palisade_server::{Config, Server};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// See the dependency's note in Cargo.toml (bench/RESULTS.md has the measurements).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "palisade",
    version,
    about = "A local emulator of the Microsoft Defender for Endpoint and Defender XDR REST APIs",
    long_about = "A local emulator of the Microsoft Defender for Endpoint and Defender XDR REST APIs.\n\nWithout a command, `palisade` serves (as `palisade serve`), so `cargo run --release` starts the emulator.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// `serve`'s options, for when no command is given.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Start the emulator (HTTP and HTTPS on one origin each: API, sign-in and admin endpoints).
    Serve(ServeArgs),
    /// Print the development app's credentials and the CA bundle path.
    Credentials {
        #[command(flatten)]
        data: DataArg,
        /// Print a JSON object with tenantId, clientId, clientSecret, caBundle.
        #[arg(long)]
        json: bool,
    },
    /// Print a fresh access token for the development app (all roles), for curl.
    Token {
        #[command(flatten)]
        data: DataArg,
        /// Audience of the token.
        #[arg(long, default_value = "https://api.securitycenter.microsoft.com")]
        audience: String,
    },
    /// Add a deterministic generated population to a tenant (same seed, same data), with progress.
    Seed {
        #[command(flatten)]
        data: DataArg,
        /// How many machines to generate.
        #[arg(long, default_value_t = 0)]
        machines: u64,
        /// How many alerts (with evidence) to generate, spread over the generated machines.
        #[arg(long, default_value_t = 0, requires = "machines")]
        alerts: u64,
        /// How many background DeviceProcessEvents rows to generate over the last 30 days, with
        /// network, file, logon, registry, image-load and other device events in proportion
        /// (half, a fifth, a tenth, a tenth, a twentieth, a twentieth), on the tenant's machines.
        #[arg(long, default_value_t = 0)]
        events: u64,
        /// Seed of the generator.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Tenant to fill (default: the demo tenant).
        #[arg(long, default_value = DEMO_TENANT_ID)]
        tenant: String,
    },
    /// List, create or delete tenants.
    Tenants {
        #[command(subcommand)]
        command: TenantsCommand,
    },
    /// List, register, rotate, re-role or delete a tenant's app registrations.
    Apps {
        #[command(subcommand)]
        command: AppsCommand,
    },
    /// Load entities from a JSON data document (the shape `export` prints) into a tenant.
    Load {
        /// The document: {"machines": [...], "alerts": [...], ...}; "-" reads standard input.
        file: PathBuf,
        #[command(flatten)]
        data: DataArg,
        /// Tenant to load into (default: the demo tenant).
        #[arg(long, default_value = DEMO_TENANT_ID)]
        tenant: String,
    },
    /// Move a whole store (tenants, apps, every entity, relations, the signing key) into another,
    /// empty one, e.g. from SQLite to PostgreSQL, with a progress bar.
    Migrate {
        /// The source: `sqlite:<data directory or .db file>` or a postgres:// URL.
        #[arg(long)]
        from: String,
        /// The target (empty): `sqlite:<data directory or .db file>` or a postgres:// URL.
        #[arg(long)]
        to: String,
    },
    /// Print a tenant's data as a JSON document `load` takes back.
    Export {
        #[command(flatten)]
        data: DataArg,
        /// Tenant to export (default: the demo tenant).
        #[arg(long, default_value = DEMO_TENANT_ID)]
        tenant: String,
    },
    /// Reset one tenant's data (--tenant), or everything back to a first start.
    Reset {
        #[command(flatten)]
        data: DataArg,
        /// Only this tenant: its data is emptied (apps and settings stay).
        #[arg(long)]
        tenant: Option<String>,
        /// With --tenant: put the demo population back after emptying.
        #[arg(long, requires = "tenant")]
        demo_data: bool,
    },
    /// Explain an error response: look up its `target` tracking id in the error journal.
    Trace {
        /// The `target` of the error envelope.
        target: String,
        #[command(flatten)]
        data: DataArg,
        /// Print the record as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TenantsCommand {
    /// Every tenant (id, domain, name).
    List {
        #[command(flatten)]
        data: DataArg,
    },
    /// A new tenant with one app holding every role; prints its ids and secret as JSON.
    Create {
        #[command(flatten)]
        data: DataArg,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Start empty instead of with the demo population.
        #[arg(long)]
        empty: bool,
    },
    /// Delete a tenant with its apps and data.
    Delete {
        tenant: String,
        #[command(flatten)]
        data: DataArg,
    },
}

#[derive(Subcommand)]
enum AppsCommand {
    /// A tenant's apps (no secrets).
    List {
        #[command(flatten)]
        data: DataArg,
        #[arg(long, default_value = DEMO_TENANT_ID)]
        tenant: String,
    },
    /// Register an app with the given roles (comma-separated; none for a role-less app); prints
    /// its client id and secret as JSON.
    Add {
        #[command(flatten)]
        data: DataArg,
        #[arg(long, default_value = DEMO_TENANT_ID)]
        tenant: String,
        #[arg(long, default_value = "Palisade app")]
        name: String,
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
    },
    /// Replace an app's secret (the old one stops working); prints the new one as JSON.
    Rotate {
        client_id: String,
        #[command(flatten)]
        data: DataArg,
        #[arg(long, default_value = DEMO_TENANT_ID)]
        tenant: String,
    },
    /// Replace an app's roles (comma-separated; empty for none).
    SetRoles {
        client_id: String,
        #[command(flatten)]
        data: DataArg,
        #[arg(long, default_value = DEMO_TENANT_ID)]
        tenant: String,
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
    },
    /// Delete an app registration.
    Delete {
        client_id: String,
        #[command(flatten)]
        data: DataArg,
        #[arg(long, default_value = DEMO_TENANT_ID)]
        tenant: String,
    },
}

#[derive(Args)]
struct DataArg {
    /// Data directory: database, signing key, certificates.
    #[arg(long = "data", env = "PALISADE_DATA", default_value = "palisade-data")]
    dir: PathBuf,
    /// The store: `sqlite` (the file in the data directory, the default) or a PostgreSQL URL
    /// (postgres://user:password@host:5432/database; add ?sslmode=require for TLS), which any
    /// number of Palisade processes may share.
    #[arg(long = "store", env = "PALISADE_STORE")]
    store: Option<String>,
    /// PostgreSQL: most connections each process opens.
    #[arg(long = "store-pool-size", env = "PALISADE_STORE_POOL_SIZE")]
    pool_size: Option<usize>,
    /// PostgreSQL: seconds a statement may run (or wait for a lock, or for a free connection)
    /// before the request fails with a traceable InternalServerError.
    #[arg(long = "store-timeout", env = "PALISADE_STORE_TIMEOUT")]
    timeout_seconds: Option<u64>,
    /// PostgreSQL: CA certificates (PEM) that verify the database server; implies TLS.
    #[arg(long = "store-ca", env = "PALISADE_STORE_CA")]
    ca_file: Option<PathBuf>,
}

impl DataArg {
    /// The store these arguments name.
    fn store(&self) -> Result<palisade_server::StoreConfig, String> {
        let mut store = palisade_server::StoreConfig::from_location(self.store.as_deref())?;
        if let Some(size) = self.pool_size {
            store.postgres.pool_size = size.max(1);
        }
        if let Some(seconds) = self.timeout_seconds {
            let timeout = std::time::Duration::from_secs(seconds.max(1));
            store.postgres.statement_timeout = timeout;
            store.postgres.pool_wait = timeout;
        }
        store.postgres.ca_file = self.ca_file.clone();
        Ok(store)
    }

    /// The configuration of a one-shot command on this data directory and store.
    fn config(&self) -> Result<Config, String> {
        let mut config = Config::new(&self.dir);
        config.store = self.store()?;
        Ok(config)
    }

    /// Where the data is, for messages.
    fn describe(&self) -> String {
        match self.store().ok().and_then(|s| s.redacted_url()) {
            Some(url) => url,
            None => self.dir.display().to_string(),
        }
    }
}

#[derive(Args)]
struct ServeArgs {
    /// Plain-HTTP listen address (port 0 picks a free port; "off" disables).
    #[arg(long, env = "PALISADE_HTTP", default_value = "127.0.0.1:8080", value_parser = parse_listen)]
    http: Listen,
    /// HTTPS listen address, with a certificate from the data directory's local CA ("off" disables).
    #[arg(long, env = "PALISADE_HTTPS", default_value = "127.0.0.1:8443", value_parser = parse_listen)]
    https: Listen,
    #[command(flatten)]
    data: DataArg,
    /// How many error records the journal keeps (oldest dropped first).
    #[arg(long, env = "PALISADE_JOURNAL_SIZE", default_value_t = 10_000)]
    journal_size: usize,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "PALISADE_MAX_BODY", default_value_t = 4 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Most entities per collection page before @odata.nextLink (the service's maximum is 10,000).
    #[arg(long, env = "PALISADE_PAGE_SIZE", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    page_size: u32,
    /// Let non-loopback callers use /_palisade/ when they send this in X-Palisade-Admin-Key.
    #[arg(long, env = "PALISADE_ADMIN_KEY")]
    admin_key: Option<String>,
    /// Networks whose callers may use /_palisade/ and /metrics without the admin key
    /// (comma-separated CIDRs; "none" requires the key from everyone).
    #[arg(long, env = "PALISADE_ADMIN_TRUSTED", default_value = "127.0.0.0/8,::1/128", value_parser = parse_networks)]
    admin_trusted: Networks,
    /// How many requests the in-memory request journal keeps (oldest dropped first).
    #[arg(long, env = "PALISADE_REQUEST_JOURNAL_SIZE", default_value_t = 10_000)]
    request_journal_size: usize,
    /// Seconds a new machine action stays Pending before the device picks it up.
    #[arg(long, env = "PALISADE_ACTION_PICKUP_SECONDS", default_value_t = 10)]
    action_pickup_seconds: u32,
    /// Seconds a machine action then runs before it completes.
    #[arg(long, env = "PALISADE_ACTION_RUN_SECONDS", default_value_t = 50)]
    action_run_seconds: u32,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "PALISADE_LOG_JSON")]
    log_json: bool,
    /// Switch the documented rate limits off for every tenant (e.g. for benchmarks).
    #[arg(long, env = "PALISADE_NO_RATE_LIMITS")]
    no_rate_limits: bool,
    /// Refuse undocumented body properties (InvalidRequestBody) instead of ignoring and recording
    /// them; each tenant can also switch this on (its `strictBodies` feature).
    #[arg(long, env = "PALISADE_STRICT_BODIES")]
    strict_bodies: bool,
    /// Host names to answer to besides localhost, loopback and the bound addresses (comma-separated;
    /// `*` answers to every name and gives up the DNS-rebinding defence). Name the host clients use
    /// when it is not one of those, e.g. a Compose service name.
    #[arg(long = "allowed-host", env = "PALISADE_ALLOWED_HOSTS", value_delimiter = ',')]
    allowed_hosts: Vec<String>,
    /// Seconds a TLS handshake may take.
    #[arg(long, env = "PALISADE_TLS_HANDSHAKE_TIMEOUT", default_value_t = 10)]
    tls_handshake_timeout: u64,
    /// Seconds a request's headers may take to arrive (slow clients are closed).
    #[arg(long, env = "PALISADE_HEADER_TIMEOUT", default_value_t = 10)]
    header_timeout: u64,
    /// Seconds a request's body may take to arrive once it is read.
    #[arg(long, env = "PALISADE_BODY_TIMEOUT", default_value_t = 30)]
    body_timeout: u64,
    /// Seconds a connection may stay idle between requests.
    #[arg(long, env = "PALISADE_IDLE_TIMEOUT", default_value_t = 60)]
    idle_timeout: u64,
    /// Seconds an advanced hunting query may run (the service's 3 minutes, or lower).
    #[arg(long, env = "PALISADE_HUNTING_TIMEOUT", default_value_t = 180, value_parser = clap::value_parser!(u64).range(1..=180))]
    hunting_timeout: u64,
    /// Most rows an advanced hunting result keeps; more are cut (the service's 100,000, or lower).
    #[arg(long, env = "PALISADE_HUNTING_MAX_ROWS", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    hunting_max_rows: u64,
    /// Largest advanced hunting result in bytes of JSON (about 124 MB observed on the service).
    #[arg(long, env = "PALISADE_HUNTING_MAX_RESULT_BYTES", default_value_t = 124 * 1024 * 1024)]
    hunting_max_result_bytes: usize,
}

#[derive(Clone, Copy)]
struct Listen(Option<SocketAddr>);

#[derive(Clone)]
struct Networks(Vec<palisade_server::IpNetwork>);

fn parse_networks(value: &str) -> Result<Networks, String> {
    if value.trim().eq_ignore_ascii_case("none") {
        return Ok(Networks(Vec::new()));
    }
    value
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(str::parse)
        .collect::<Result<Vec<_>, _>>()
        .map(Networks)
}

fn parse_listen(value: &str) -> Result<Listen, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(Listen(None));
    }
    value
        .parse()
        .map(|a| Listen(Some(a)))
        .map_err(|e| format!("'{value}' is not an address like 127.0.0.1:8080 ({e})"))
}

/// Gives a burst's memory back (issue 15): mimalloc purges freed pages only after a second by
/// default, and only when the thread that freed them allocates again, so a server left idle after
/// a burst kept it (measured: 118 MiB twelve seconds after the CPU rows of `bench/cpu.sh`, 48 MiB
/// with this). Costs page faults when memory is reused soon after (see bench/RESULTS.md).
fn tune_allocator() {
    // The number of `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (include/mimalloc.h),
    // which the bindings do not name.
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: setting an option is a store into mimalloc's option table.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve(cli.serve));
    // Only a long-running server has bursts to give back; a bulk load (`seed`) reuses what it
    // frees at once, and purging it would only cost page faults.
    if matches!(command, Command::Serve(_)) {
        tune_allocator();
    }
    if !matches!(command, Command::Serve(_)) {
        end_quietly_on_a_closed_pipe();
    }
    let result = match command {
        Command::Serve(args) => serve(args),
        Command::Credentials { data, json } => credentials(data, json),
        Command::Token { data, audience } => token(data, &audience),
        Command::Trace { target, data, json } => trace(data, &target, json),
        Command::Seed {
            data,
            machines,
            alerts,
            events,
            seed,
            tenant,
        } => seed_tenant(data, machines, alerts, events, seed, &tenant),
        Command::Tenants { command } => tenants(command),
        Command::Apps { command } => apps(command),
        Command::Load { file, data, tenant } => load(data, &file, &tenant),
        Command::Export { data, tenant } => export(data, &tenant),
        Command::Migrate { from, to } => migrate(&from, &to),
        Command::Reset {
            data,
            tenant,
            demo_data,
        } => reset(data, tenant.as_deref(), demo_data),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("palisade: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The one-shot commands print for pipelines (`palisade export | head`): when the reader goes, they
/// end as other Unix tools do, by SIGPIPE, instead of `println!` panicking on the broken pipe (Rust
/// ignores SIGPIPE). Not for `serve`: a client closing its socket must not end the server.
fn end_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restores the default disposition before any thread is started; no handler is run.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn serve(args: ServeArgs) -> Result<ExitCode, String> {
    init_logging(args.log_json);
    let store = args.data.store()?;
    let config = Config {
        http: args.http.0,
        https: args.https.0,
        data_dir: args.data.dir,
        store,
        journal_capacity: args.journal_size.max(1),
        max_body_bytes: args.max_body_bytes,
        page_size: args.page_size,
        admin_key: args.admin_key.map(Into::into),
        admin_trusted_networks: args.admin_trusted.0,
        request_journal_capacity: args.request_journal_size.max(1),
        core: palisade_domain::Settings {
            action_pace: palisade_domain::ActionPace {
                pickup: chrono::TimeDelta::seconds(args.action_pickup_seconds.into()),
                run: chrono::TimeDelta::seconds(args.action_run_seconds.into()),
                ..palisade_domain::ActionPace::default()
            },
            hunting: palisade_domain::xdr::hunting::HuntingSettings {
                timeout: std::time::Duration::from_secs(args.hunting_timeout),
                max_rows: args.hunting_max_rows as usize,
                max_result_bytes: args.hunting_max_result_bytes,
                ..Default::default()
            },
            ..palisade_domain::Settings::default()
        },
        rate_limits: !args.no_rate_limits,
        strict_bodies: args.strict_bodies,
        allowed_hosts: args.allowed_hosts,
        timeouts: palisade_server::config::Timeouts {
            tls_handshake: std::time::Duration::from_secs(args.tls_handshake_timeout.max(1)),
            headers: std::time::Duration::from_secs(args.header_timeout.max(1)),
            body: std::time::Duration::from_secs(args.body_timeout.max(1)),
            idle: std::time::Duration::from_secs(args.idle_timeout.max(1)),
        },
        extra_families: Vec::new(),
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let started = std::time::Instant::now();
        let server = Server::start(config.clone()).await.map_err(|e| e.to_string())?;
        print_banner(&server, &config, started.elapsed());
        wait_for_signal().await;
        eprintln!("palisade: shutting down");
        server.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

fn print_banner(server: &Server, config: &Config, took: std::time::Duration) {
    let https = server.https_addr.map(|a| format!("https://{a}"));
    let http = server.http_addr.map(|a| format!("http://{a}"));
    println!(
        "Palisade is serving the Defender APIs (ready in {} ms)",
        took.as_millis()
    );
    if let Some(url) = &https {
        println!("  HTTPS   {url}");
    }
    if let Some(url) = &http {
        println!("  HTTP    {url}");
    }
    println!("  data    {}", config.data_dir.display());
    if let Some(url) = config.store.redacted_url() {
        println!("  store   {url}");
    }
    println!(
        "  CA      {}  (REQUESTS_CA_BUNDLE / SSL_CERT_FILE)",
        server.ca_bundle.display()
    );
    println!("Development app (every role) of tenant {DEMO_TENANT_ID}:");
    println!("  client id      {DEV_CLIENT_ID}");
    println!("  client secret  {DEV_CLIENT_SECRET}");
    if let Some(base) = https.or(http) {
        println!("Get a token:");
        println!(
            "  curl --cacert {} -d grant_type=client_credentials -d client_id={DEV_CLIENT_ID} -d client_secret={DEV_CLIENT_SECRET} -d scope=https://api.securitycenter.microsoft.com/.default {base}/{DEMO_TENANT_ID}/oauth2/v2.0/token",
            server.ca_cert.display()
        );
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PALISADE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Opens (initialising on first use) the data directory without serving.
fn open(data: &DataArg) -> Result<std::sync::Arc<palisade_domain::Core>, String> {
    let config = data.config()?;
    let core = palisade_server::open_core(&config).map_err(|e| e.to_string())?;
    palisade_server::tls::ensure(&config.data_dir).map_err(|e| e.to_string())?;
    Ok(core)
}

fn credentials(data: DataArg, json: bool) -> Result<ExitCode, String> {
    open(&data)?;
    let bundle = TlsFiles::in_dir(&data.dir).ca_bundle;
    if json {
        let value = serde_json::json!({
            "tenantId": DEMO_TENANT_ID,
            "clientId": DEV_CLIENT_ID,
            "clientSecret": DEV_CLIENT_SECRET,
            "caBundle": bundle,
        });
        println!("{value}");
    } else {
        println!("tenant id      {DEMO_TENANT_ID}");
        println!("client id      {DEV_CLIENT_ID}");
        println!("client secret  {DEV_CLIENT_SECRET}");
        println!("CA bundle      {}", bundle.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn token(data: DataArg, audience: &str) -> Result<ExitCode, String> {
    let core = open(&data)?;
    let roles = palisade_auth::ALL_APP_ROLES.iter().map(|r| r.to_string()).collect();
    let claims = palisade_auth::Claims::for_app(
        DEMO_TENANT_ID,
        DEV_CLIENT_ID,
        roles,
        audience,
        core.clock.unix(),
        palisade_auth::TOKEN_LIFETIME_SECS,
    );
    let token = core.signing_key.mint(&claims).map_err(|e| e.to_string())?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

fn trace(data: DataArg, target: &str, json: bool) -> Result<ExitCode, String> {
    let core = open(&data)?;
    match core.find_error_shared(target).map_err(core_error)? {
        Some(record) if json => {
            println!("{}", serde_json::to_string_pretty(&record).map_err(|e| e.to_string())?);
            Ok(ExitCode::SUCCESS)
        }
        Some(record) => {
            print!("{}", record.to_human());
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "palisade: no error with target {target} in the journal of {}",
                data.dir.display()
            );
            Ok(ExitCode::from(2))
        }
    }
}

fn seed_tenant(
    data: DataArg,
    machines: u64,
    alerts: u64,
    events: u64,
    seed: u64,
    tenant: &str,
) -> Result<ExitCode, String> {
    if alerts > 0 && machines == 0 {
        return Err("--alerts needs --machines: the alerts are spread over the generated machines".into());
    }
    const BATCH: u64 = 5_000;
    let config = data.config()?;
    let (core, sqlite) = palisade_server::open_core_and_store(&config).map_err(|e| e.to_string())?;
    palisade_server::tls::ensure(&config.data_dir).map_err(|e| e.to_string())?;
    // On SQLite the secondary indexes of the tables filled are built once at the end (see the
    // store's `bulk` module: an interrupted seed gets them back at the next open).
    if let Some(store) = &sqlite {
        store
            .begin_bulk_load(&["machines", "alerts", "observations"])
            .map_err(|e| e.to_string())?;
    }
    let namespace = format!("{tenant}/seed{seed}");
    let prefix = format!("seed{seed}");
    let generation = palisade_domain::control::demo::Generation {
        namespace: &namespace,
        seed,
        name_prefix: &prefix,
    };
    let started = std::time::Instant::now();
    let mut done = 0;
    while done < machines {
        let count = BATCH.min(machines - done);
        core.seed_machines(tenant, &generation, done, count)
            .map_err(|e| e.to_string())?;
        done += count;
        progress("machines", done, machines, started);
    }
    let machine_secs = started.elapsed().as_secs_f64();
    if machines > 0 {
        eprintln!();
    }
    let alerts_started = std::time::Instant::now();
    let population = palisade_domain::control::demo::AlertPopulation { alerts, machines };
    let mut done = 0;
    while done < alerts {
        let count = BATCH.min(alerts - done);
        core.seed_alerts(tenant, &generation, population, done, count)
            .map_err(|e| e.to_string())?;
        done += count;
        progress("alerts", done, alerts, alerts_started);
    }
    if alerts > 0 {
        eprintln!();
    }
    let indexing = std::time::Instant::now();
    if let Some(store) = &sqlite {
        store.finish_bulk_load().map_err(|e| e.to_string())?;
    }
    eprintln!("indexes built in {:.1} s", indexing.elapsed().as_secs_f64());
    // Over the whole run, index builds included.
    let alert_secs = alerts_started.elapsed().as_secs_f64();
    // Hunting events on the tenant's machines (those just generated and any it had).
    let events_started = std::time::Instant::now();
    let mut event_rows = 0;
    if events > 0 {
        let on = core.machines_of(tenant).map_err(core_error)?;
        if on.is_empty() {
            return Err("--events needs machines in the tenant (add --machines N)".into());
        }
        const EVENT_BATCH: u64 = 10_000;
        let mut done = 0;
        while done < events {
            let count = EVENT_BATCH.min(events - done);
            event_rows += core
                .seed_hunting_events(tenant, &on, seed, events, done, count)
                .map_err(core_error)?;
            done += count;
            progress("process events", done, events, events_started);
        }
        eprintln!();
    }
    let event_secs = events_started.elapsed().as_secs_f64();
    core.analyze().map_err(core_error)?;
    println!(
        "seeded {machines} machines ({:.0} rows/s), {alerts} alerts ({:.0} rows/s) and {event_rows} hunting events ({:.0} rows/s) into tenant {tenant} in {:.1} s",
        machines as f64 / machine_secs.max(1e-9),
        alerts as f64 / alert_secs.max(1e-9),
        event_rows as f64 / event_secs.max(1e-9),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// The configuration of the store `location` names: `sqlite:<data directory or .db file>` or a
/// PostgreSQL URL.
fn store_location(location: &str) -> Result<Config, String> {
    if let Some(path) = location.strip_prefix("sqlite:") {
        let path = PathBuf::from(path);
        // A `.db` file names the database itself; anything else is a data directory.
        return Ok(match path.extension().and_then(|e| e.to_str()) {
            Some("db") => {
                let mut config = Config::new(path.parent().unwrap_or(std::path::Path::new(".")));
                if path.file_name() != Some(std::ffi::OsStr::new("palisade.db")) {
                    return Err(format!(
                        "{}: a SQLite store is the palisade.db of a data directory; name the directory",
                        path.display()
                    ));
                }
                config.store = palisade_server::StoreConfig::default();
                config
            }
            _ => Config::new(path),
        });
    }
    let mut config = Config::new("palisade-data");
    config.store = palisade_server::StoreConfig::from_location(Some(location))?;
    if config.store.postgres_url.is_none() {
        return Err(format!(
            "'{location}' is neither sqlite:<data directory> nor a postgres:// URL"
        ));
    }
    Ok(config)
}

fn migrate(from: &str, to: &str) -> Result<ExitCode, String> {
    let (source, target) = (store_location(from)?, store_location(to)?);
    let started = std::time::Instant::now();
    let mut current = String::new();
    let mut phase_started = started;
    let moved = palisade_server::migrate_store(&source, &target, &mut |p| {
        if p.what != current {
            if !current.is_empty() {
                eprintln!();
            }
            current = p.what.to_string();
            phase_started = std::time::Instant::now();
        }
        progress(p.what, p.done, p.total, phase_started);
    })
    .map_err(|e| e.to_string())?;
    eprintln!();
    eprintln!(
        "moved {} tenants, {} apps, {} entities, {} hunting rows, {} relations and {} meta values in {:.1} s",
        moved.tenants,
        moved.apps,
        moved.entities,
        moved.hunting_rows,
        moved.links,
        moved.meta,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// A one-line progress bar on stderr.
fn progress(what: &str, done: u64, total: u64, started: std::time::Instant) {
    const WIDTH: u64 = 30;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
    eprint!(
        "\r[{}{}] {done}/{total} {what}  {rate:.0} rows/s",
        "#".repeat(filled as usize),
        "-".repeat((WIDTH - filled) as usize)
    );
}

/// A domain error as the CLI reports it (the API's message for documented failures).
fn core_error(error: palisade_domain::DomainError) -> String {
    match error {
        palisade_domain::DomainError::Rule(api) => format!("{}: {}", api.code, api.message),
        other => other.to_string(),
    }
}

fn print_json(value: &impl serde::Serialize) -> Result<ExitCode, String> {
    println!("{}", serde_json::to_string_pretty(value).map_err(|e| e.to_string())?);
    Ok(ExitCode::SUCCESS)
}

fn tenants(command: TenantsCommand) -> Result<ExitCode, String> {
    match command {
        TenantsCommand::List { data } => {
            let core = open(&data)?;
            for tenant in core.list_tenants().map_err(core_error)? {
                println!("{}  {}  {}", tenant.id, tenant.domain, tenant.display_name);
            }
            Ok(ExitCode::SUCCESS)
        }
        TenantsCommand::Create { data, name, empty } => {
            let core = open(&data)?;
            let request = palisade_domain::control::tenants::NewTenant {
                display_name: name,
                demo_data: !empty,
                ..Default::default()
            };
            let (tenant, app) = core.add_tenant(request).map_err(core_error)?;
            print_json(&serde_json::json!({
                "tenantId": tenant.id,
                "domain": tenant.domain,
                "clientId": app.client_id,
                "clientSecret": app.client_secret,
                "roles": app.roles,
            }))
        }
        TenantsCommand::Delete { tenant, data } => {
            open(&data)?.delete_tenant(&tenant).map_err(core_error)?;
            eprintln!("deleted tenant {tenant}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn app_json(app: &palisade_model::tenant::AppRegistration) -> serde_json::Value {
    serde_json::json!({
        "clientId": app.client_id,
        "tenantId": app.tenant_id,
        "displayName": app.display_name,
        "clientSecret": app.client_secret,
        "roles": app.roles,
    })
}

/// `--roles ""` (or a trailing comma) means no role rather than a role named "".
fn role_list(roles: Vec<String>) -> Vec<String> {
    roles.into_iter().filter(|r| !r.trim().is_empty()).collect()
}

fn apps(command: AppsCommand) -> Result<ExitCode, String> {
    match command {
        AppsCommand::List { data, tenant } => {
            let apps = open(&data)?.list_apps(&tenant).map_err(core_error)?;
            let views: Vec<palisade_domain::control::apps::AppView> = apps.iter().map(Into::into).collect();
            print_json(&views)
        }
        AppsCommand::Add {
            data,
            tenant,
            name,
            roles,
        } => {
            let app = open(&data)?
                .register_app(&tenant, &name, &role_list(roles))
                .map_err(core_error)?;
            print_json(&app_json(&app))
        }
        AppsCommand::Rotate {
            client_id,
            data,
            tenant,
        } => {
            let app = open(&data)?.rotate_secret(&tenant, &client_id).map_err(core_error)?;
            print_json(&app_json(&app))
        }
        AppsCommand::SetRoles {
            client_id,
            data,
            tenant,
            roles,
        } => {
            let app = open(&data)?
                .update_app(&tenant, &client_id, None, Some(&role_list(roles)))
                .map_err(core_error)?;
            print_json(&palisade_domain::control::apps::AppView::from(&app))
        }
        AppsCommand::Delete {
            client_id,
            data,
            tenant,
        } => {
            open(&data)?.delete_app(&tenant, &client_id).map_err(core_error)?;
            eprintln!("deleted app {client_id}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load(data: DataArg, file: &std::path::Path, tenant: &str) -> Result<ExitCode, String> {
    let text = if file == std::path::Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| e.to_string())?;
        text
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?
    };
    let document: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
    let core = open(&data)?;
    let counts = core.load_data(tenant, document).map_err(core_error)?;
    core.analyze().map_err(core_error)?;
    print_json(&counts)
}

fn export(data: DataArg, tenant: &str) -> Result<ExitCode, String> {
    let document = open(&data)?.export_data(tenant).map_err(core_error)?;
    println!("{}", serde_json::to_string(&document).map_err(|e| e.to_string())?);
    Ok(ExitCode::SUCCESS)
}

fn reset(data: DataArg, tenant: Option<&str>, demo_data: bool) -> Result<ExitCode, String> {
    let core = open(&data)?;
    match tenant {
        Some(tenant) => {
            core.reset_tenant(tenant, demo_data).map_err(core_error)?;
            eprintln!("reset tenant {tenant}");
        }
        None => {
            core.reset_all().map_err(core_error)?;
            eprintln!("reset {} to a first start", data.describe());
        }
    }
    Ok(ExitCode::SUCCESS)
}
