//! `mtpctl`: log in with the IdP, manage tenants and members, render a tenant's plan offline.
//!
//! The binary (`src/bin/mtpctl.rs`) parses [`Cli`] and calls [`run`]; every command writes its
//! result to stdout and its messages to stderr, and fails with a [`CliError`] whose
//! [`CliError::exit_code`] is documented in `docs/mtpctl.md`.

pub mod api;
pub mod config;
pub mod error;
pub mod oauth;
pub mod output;
pub mod password;
pub mod render;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, CommandFactory as _, Parser, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use api::Api;
use config::{Config, Context};
pub use error::CliError;
use output::{Format, Kind};

/// mtpctl: log in to mtp, manage tenants and members, render tenant plans.
#[derive(Debug, Parser)]
#[command(name = "mtpctl", version, propagate_version = true)]
pub struct Cli {
    /// The context to use (default: the current context).
    #[arg(long, global = true, env = "MTP_CONTEXT")]
    pub context: Option<String>,
    /// The API server URL (overrides the context's; with `login`, the server to log in to).
    #[arg(long, global = true, env = "MTP_SERVER")]
    pub server: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, global = true, env = "MTP_OUTPUT", value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Omit the header line of tables.
    #[arg(long, global = true)]
    pub no_headers: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
    /// Refresh the OIDC tokens even if they look valid (set when the server answered 401).
    #[arg(skip)]
    pub force_refresh: bool,
}

/// `mtpctl install`: the manifests, or with `admin-key` the first API key's Secret.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct InstallCommand {
    /// What else to print.
    #[command(subcommand)]
    pub what: Option<InstallWhat>,
    /// The flags of the manifests (the default).
    #[command(flatten)]
    pub args: crate::install::InstallArgs,
}

/// The subcommands of `mtpctl install`.
#[derive(Debug, Subcommand)]
pub enum InstallWhat {
    /// Print the Secret `mtp-api-keys` with a new platform-admin API key, for `kubectl apply -f -`.
    ///
    /// The API server mounts this Secret as its keys file; in a cluster it cannot write one
    /// itself. Only the key's SHA-256 hash goes into the Secret; the key is printed once, on
    /// stderr: keep it (`export MTP_API_KEY=...`, then `mtpctl login --server ...`). More keys:
    /// add lines to the Secret's `api-keys` (the API server reloads it when it changes).
    AdminKey(crate::install::AdminKeyArgs),
}

/// mtpctl's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in to an mtp API server (OIDC device flow by default).
    Login(LoginArgs),
    /// Forget the credentials of the context.
    Logout,
    /// Show the identity the server sees.
    Whoami,
    /// List, show, create, update and delete tenants.
    #[command(subcommand, visible_alias = "tenant")]
    Tenants(TenantsCommand),
    /// List, add and remove the members of a tenant.
    #[command(subcommand, visible_alias = "member")]
    Members(MembersCommand),
    /// Show the audit log of a tenant.
    Audit {
        /// The tenant.
        tenant: String,
        /// Fetch only one page of this many records (the continue token goes to stderr).
        #[arg(long)]
        limit: Option<u32>,
        /// Continue from this token.
        #[arg(long = "continue")]
        continue_token: Option<String>,
    },
    /// Print the objects the controller would apply for a Tenant file, as YAML (offline).
    Render(render::RenderArgs),
    /// Print every manifest of an mtp installation (offline), for `kubectl apply -f -`.
    ///
    /// `mtpctl install admin-key | kubectl apply -f -` creates the Secret with the first API key
    /// of an installation with static keys (the key itself is shown once, on stderr).
    Install(InstallCommand),
    /// Show and switch contexts.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script.
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Flags of `mtpctl login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The OIDC issuer (default: advertised by the server at /api/v1/auth-config).
    #[arg(long, env = "MTP_LOGIN_ISSUER")]
    pub issuer: Option<String>,
    /// The public OAuth2 client id (default: advertised by the server).
    #[arg(long, env = "MTP_LOGIN_CLIENT_ID")]
    pub client_id: Option<String>,
    /// The client secret, for IdPs that only allow confidential clients (kept in the
    /// configuration file, mode 0600).
    #[arg(long, env = "MTP_LOGIN_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<mtp_auth::token::Secret>,
    /// The audience the server expects (default: advertised by the server).
    #[arg(long, env = "MTP_LOGIN_AUDIENCE")]
    pub audience: Option<String>,
    /// Extra scopes to request (`openid` is always requested; `offline_access` by default).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Authorization code with PKCE on a loopback redirect (opens the browser if possible).
    #[arg(long, conflicts_with_all = ["password", "api_key_file"])]
    pub browser: bool,
    /// The resource-owner password grant: asks for the username and the password (no echo).
    #[arg(long, conflicts_with = "api_key_file")]
    pub password: bool,
    /// The username for --password (asked when absent).
    #[arg(long, requires = "password")]
    pub username: Option<String>,
    /// Use the static API key in FILE instead of OIDC.
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Loopback port for --browser (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Do not try to open a browser for --browser; only print the URL.
    #[arg(long)]
    pub no_open: bool,
    /// Seconds to wait for the browser redirect.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

/// `mtpctl tenants ...`
#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// List the tenants you can see.
    #[command(visible_alias = "ls")]
    List {
        /// Only tenants of this tier.
        #[arg(long)]
        tier: Option<String>,
        /// Fetch only one page of this many tenants (the continue token goes to stderr).
        #[arg(long)]
        limit: Option<u32>,
        /// Continue from this token.
        #[arg(long = "continue")]
        continue_token: Option<String>,
    },
    /// Show one tenant.
    Get {
        /// The tenant's name.
        name: String,
    },
    /// Create a tenant from flags or from a file (`-f`).
    Create(CreateArgs),
    /// Change a tenant: flags send a merge patch, `-f` replaces it (PUT).
    Update(UpdateArgs),
    /// Delete a tenant.
    Delete {
        /// The tenant's name.
        name: String,
    },
}

/// The tenant fields settable by flags.
#[derive(Debug, Args, Default)]
pub struct TenantFlags {
    /// The tier: free, pro or enterprise.
    #[arg(long)]
    pub tier: Option<String>,
    /// The owner's e-mail address.
    #[arg(long = "owner", value_name = "EMAIL")]
    pub owner: Option<String>,
    /// A human-readable name.
    #[arg(long)]
    pub display_name: Option<String>,
    /// A tenant admin (repeat the flag for several).
    #[arg(long = "admin", value_name = "USER")]
    pub admins: Vec<String>,
    /// A tenant operator (repeatable).
    #[arg(long = "operator", value_name = "USER")]
    pub operators: Vec<String>,
    /// A tenant viewer (repeatable).
    #[arg(long = "viewer", value_name = "USER")]
    pub viewers: Vec<String>,
    /// Egress policy: none or internet.
    #[arg(long)]
    pub egress: Option<String>,
}

/// Flags of `tenants create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The tenant's name (or `metadata.name`/`name` in the file).
    pub name: Option<String>,
    /// A file with the tenant (API JSON/YAML or a Tenant resource; `-` for stdin).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Fields (override the file's).
    #[command(flatten)]
    pub fields: TenantFlags,
}

/// Flags of `tenants update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The tenant's name.
    pub name: String,
    /// Replace the tenant with this file (PUT); without it the flags are sent as a merge patch.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Only update if the tenant still has this version (ETag); default with -f: the file's
    /// `version`.
    #[arg(long, value_name = "VERSION")]
    pub if_match: Option<String>,
    /// Fields to change (lists replace the current ones).
    #[command(flatten)]
    pub fields: TenantFlags,
}

/// `mtpctl members ...`
#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// List the members of a tenant.
    #[command(visible_alias = "ls")]
    List {
        /// The tenant.
        tenant: String,
    },
    /// Add a member to a tenant.
    Add {
        /// The tenant.
        tenant: String,
        /// The user, as the IdP names them.
        user: String,
        /// The role: admin, operator or viewer.
        #[arg(long, default_value = "viewer")]
        role: String,
    },
    /// Remove a member from a tenant.
    #[command(visible_alias = "rm")]
    Remove {
        /// The tenant.
        tenant: String,
        /// The user.
        user: String,
    },
}

/// `mtpctl config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Make NAME the current context.
    UseContext {
        /// The context.
        name: String,
    },
    /// List the contexts.
    GetContexts,
    /// Print the current context's name.
    CurrentContext,
    /// Delete a context and its credentials.
    DeleteContext {
        /// The context.
        name: String,
    },
}

/// Where commands write, and whether those are terminals.
pub struct Io<'a> {
    /// Results.
    pub out: &'a mut dyn Write,
    /// Messages and progress.
    pub err: &'a mut dyn Write,
    /// Whether stderr is a terminal (progress output only then).
    pub err_is_terminal: bool,
}

fn io_err(e: std::io::Error) -> CliError {
    CliError::Other(format!("cannot write the output: {e}"))
}

/// Runs one command. When the server answers 401 to a command made with OIDC tokens that have
/// a refresh token, the tokens are refreshed once and the command is retried (a 401 means the
/// server did nothing).
pub async fn run(mut cli: Cli, io: &mut Io<'_>) -> Result<(), CliError> {
    let result = run_once(&cli, io).await;
    let api_command = matches!(
        cli.command,
        Command::Whoami | Command::Tenants(_) | Command::Members(_) | Command::Audit { .. }
    );
    if let Err(CliError::Api { status: 401, .. }) = &result
        && api_command
        && refreshable(&cli)
    {
        cli.force_refresh = true;
        return run_once(&cli, io).await;
    }
    result
}

/// Whether the command's credentials are OIDC tokens with a refresh token.
fn refreshable(cli: &Cli) -> bool {
    if std::env::var("MTP_API_KEY").is_ok_and(|k| !k.trim().is_empty()) {
        return false;
    }
    let Ok((_, cfg)) = load_config() else {
        return false;
    };
    let name = cli.context.clone().or(cfg.current_context.clone());
    name.and_then(|n| cfg.contexts.get(&n).cloned())
        .is_some_and(|c| c.api_key.is_none() && c.tokens.is_some_and(|t| t.refresh_token.is_some()))
}

async fn run_once(cli: &Cli, io: &mut Io<'_>) -> Result<(), CliError> {
    match &cli.command {
        Command::Render(args) => {
            let yaml = render::run(args)?;
            io.out.write_all(yaml.as_bytes()).map_err(io_err)
        }
        Command::Install(InstallCommand { what: None, args }) => {
            let text = crate::install::run(args)?;
            io.out.write_all(text.as_bytes()).map_err(io_err)
        }
        Command::Install(InstallCommand {
            what: Some(InstallWhat::AdminKey(args)),
            ..
        }) => {
            let (yaml, key) = crate::install::admin_key(args)?;
            io.out.write_all(yaml.as_bytes()).map_err(io_err)?;
            writeln!(
                io.err,
                "mtpctl: the API key {:?} of group {:?} (shown once; only its hash is in the Secret):\n{}",
                args.key_id,
                args.group,
                key.expose()
            )
            .map_err(io_err)
        }
        Command::Completion { shell } => {
            // Into a buffer first: clap_complete panics on a write error (a closed pipe).
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "mtpctl", &mut buf);
            io.out.write_all(&buf).map_err(io_err)
        }
        Command::Config(c) => config_command(cli, c, io),
        Command::Login(args) => login(cli, args, io).await,
        Command::Logout => logout(cli, io),
        Command::Whoami => {
            let api = session(cli).await?;
            let w = api.get(&["api", "v1", "whoami"], &[]).await?;
            w.typed::<mtp_core::api::WhoAmI>()?;
            output::write_one(
                io.out,
                Kind::Whoami,
                &w.body,
                cli.output,
                cli.no_headers,
                oauth::now(),
            )
            .map_err(io_err)
        }
        Command::Tenants(t) => tenants(cli, t, io).await,
        Command::Members(m) => members(cli, m, io).await,
        Command::Audit {
            tenant,
            limit,
            continue_token,
        } => {
            let api = session(cli).await?;
            let (items, next) = api
                .list_all(
                    &["api", "v1", "tenants", tenant, "audit"],
                    &[],
                    *limit,
                    continue_token.as_deref(),
                )
                .await?;
            print_list(cli, io, Kind::Audit, &items, next)
        }
    }
}

fn print_list(
    cli: &Cli,
    io: &mut Io<'_>,
    kind: Kind,
    items: &[Value],
    next: Option<String>,
) -> Result<(), CliError> {
    if cli.output == Format::Table && items.is_empty() {
        writeln!(io.err, "No resources found.").map_err(io_err)?;
    } else {
        output::write_list(
            io.out,
            kind,
            items,
            cli.output,
            cli.no_headers,
            oauth::now(),
        )
        .map_err(io_err)?;
    }
    if let Some(n) = next {
        writeln!(io.err, "More results: add --continue {n}").map_err(io_err)?;
    }
    Ok(())
}

fn load_config() -> Result<(PathBuf, Config), CliError> {
    let path = config::default_path()?;
    let cfg = Config::load(&path)?;
    Ok((path, cfg))
}

/// Builds the API client for the current context: `MTP_API_KEY` wins, then the context's key,
/// then its OIDC tokens (refreshed and saved when expired).
pub async fn session(cli: &Cli) -> Result<Api, CliError> {
    let http = api::http_client()?;
    let env_key = std::env::var("MTP_API_KEY")
        .ok()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty());
    let (path, mut cfg) = load_config()?;
    let ctx_name = match cli.context.as_deref() {
        Some(n) => Some(n.to_string()),
        None => cfg.current_context.clone(),
    };
    let ctx: Option<Context> = match &ctx_name {
        Some(n) => match cfg.contexts.get(n) {
            Some(c) => Some(c.clone()),
            // An unknown --context is an error; a dangling current-context only if needed.
            None if cli.context.is_some() || cli.server.is_none() => {
                cfg.context(n)?;
                None
            }
            None => None,
        },
        None => None,
    };
    let server = match (&cli.server, &ctx) {
        (Some(s), _) => api::parse_server(s)?,
        (None, Some(c)) => api::parse_server(&c.server)?,
        (None, None) => return Err(CliError::NotLoggedIn { context: None }),
    };
    if let Some(k) = env_key {
        return Ok(Api::new(http, server, Some(k)).with_credential("the API key in MTP_API_KEY"));
    }
    let Some(mut ctx) = ctx else {
        return Err(CliError::NotLoggedIn { context: ctx_name });
    };
    let of_context = ctx_name
        .as_deref()
        .map(|n| format!(" of context {n:?}"))
        .unwrap_or_default();
    if let Some(k) = &ctx.api_key {
        return Ok(Api::new(http, server, Some(k.clone()))
            .with_credential(format!("the API key{of_context}")));
    }
    let Some(tokens) = ctx.tokens.clone() else {
        return Err(CliError::NotLoggedIn { context: ctx_name });
    };
    if tokens.expired(oauth::now(), 30) || cli.force_refresh {
        let issuer = ctx.issuer.clone().ok_or_else(|| {
            CliError::Auth(
                "the login expired and the context has no issuer: run mtpctl login".into(),
            )
        })?;
        let disc = oauth::discover(&http, &issuer).await?;
        let client = oauth::Client {
            client_id: ctx.client_id.clone().unwrap_or_default(),
            client_secret: ctx.client_secret.clone().map(mtp_auth::token::Secret::new),
            scopes: Vec::new(),
            audience: ctx.audience.clone(),
        };
        let fresh = oauth::refresh(&http, &disc, &client, &tokens).await?;
        ctx.tokens = Some(fresh);
        if let Some(n) = &ctx_name {
            cfg.contexts.insert(n.clone(), ctx.clone());
            cfg.save(&path)?;
        }
    }
    let bearer = ctx.tokens.as_ref().map(|t| t.bearer().to_string());
    Ok(Api::new(http, server, bearer).with_credential(format!("the OIDC token{of_context}")))
}

async fn login(cli: &Cli, args: &LoginArgs, io: &mut Io<'_>) -> Result<(), CliError> {
    let (path, mut cfg) = load_config()?;
    let existing = match cli.context.as_deref() {
        Some(n) => cfg.contexts.get(n).cloned(),
        None if cli.server.is_none() => cfg
            .current_context
            .as_ref()
            .and_then(|n| cfg.contexts.get(n).cloned()),
        None => None,
    };
    let server = match (&cli.server, &existing) {
        (Some(s), _) => api::parse_server(s)?,
        (None, Some(c)) => api::parse_server(&c.server)?,
        (None, None) => {
            return Err(CliError::Usage(
                "mtpctl login needs --server URL (or an existing --context)".into(),
            ));
        }
    };
    let name = match (&cli.context, &cli.server, &cfg.current_context) {
        (Some(n), _, _) => n.clone(),
        (None, None, Some(cur)) if existing.is_some() => cur.clone(),
        _ => config::context_name_for(&server),
    };
    let http = api::http_client()?;
    let mut ctx = existing.unwrap_or_default();
    ctx.server = server.to_string().trim_end_matches('/').to_string();

    let env_key = std::env::var("MTP_API_KEY")
        .ok()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty() && !args.browser && !args.password);
    if let Some(file) = &args.api_key_file {
        let key =
            mtp_auth::token::Secret::from_file(file).map_err(|e| CliError::Input(e.to_string()))?;
        ctx.api_key = Some(key.expose().to_string());
        ctx.tokens = None;
    } else if let Some(key) = env_key {
        // `MTP_API_KEY=... mtpctl login --server URL`: keep that key in the context.
        ctx.api_key = Some(key);
        ctx.tokens = None;
    } else {
        // The server advertises its IdP; flags win.
        let mut issuer = args.issuer.clone();
        let mut client_id = args.client_id.clone();
        let mut audience = args.audience.clone();
        if issuer.is_none() || client_id.is_none() {
            let anon = Api::new(http.clone(), server.clone(), None);
            let ac: mtp_core::api::AuthConfigView = anon
                .get(&["api", "v1", "auth-config"], &[])
                .await?
                .typed()?;
            issuer = issuer.or(ac.issuer);
            client_id = client_id.or(ac.client_id);
            audience = audience.or(ac.audience);
        }
        let (Some(issuer), Some(client_id)) = (issuer, client_id) else {
            return Err(CliError::Usage(format!(
                "{server} advertises no OIDC issuer and client id: pass --issuer and --client-id, or log in with --api-key-file"
            )));
        };
        let disc = oauth::discover(&http, &issuer).await?;
        let mut scopes = vec!["offline_access".to_string()];
        scopes.extend(args.scopes.iter().cloned());
        let client = oauth::Client {
            client_id: client_id.clone(),
            client_secret: args.client_secret.clone(),
            scopes,
            audience: audience.clone(),
        };
        let tokens = if args.browser {
            oauth::browser_login(
                &http,
                &disc,
                &client,
                oauth::BrowserOptions {
                    port: args.port,
                    timeout: std::time::Duration::from_secs(args.timeout),
                    open: !args.no_open,
                },
                io.err,
            )
            .await?
        } else if args.password {
            let creds = password::ask(args.username.as_deref(), io.err)?;
            oauth::password_login(
                &http,
                &disc,
                &client,
                &creds.username,
                creds.password.expose(),
            )
            .await?
        } else {
            oauth::device_login(
                &http,
                &disc,
                &client,
                oauth::Prompt {
                    out: io.err,
                    progress: io.err_is_terminal,
                },
            )
            .await?
        };
        ctx.issuer = Some(issuer);
        ctx.client_id = Some(client_id);
        ctx.client_secret = args.client_secret.as_ref().map(|s| s.expose().to_string());
        ctx.audience = audience;
        ctx.api_key = None;
        ctx.tokens = Some(tokens);
    }
    // The credentials just obtained (not MTP_API_KEY) are checked first: only credentials the
    // server accepts are saved and made current.
    let (bearer, kind) = match (&ctx.api_key, &ctx.tokens) {
        (Some(k), _) => (Some(k.clone()), "API key"),
        (None, Some(t)) => (Some(t.bearer().to_string()), "OIDC token"),
        (None, None) => (None, "no credential"),
    };
    let api = Api::new(http, server, bearer)
        .with_credential(format!("the new {kind} of context {name:?}"));
    let who: mtp_core::api::WhoAmI = match api.get(&["api", "v1", "whoami"], &[]).await {
        Ok(w) => w.typed()?,
        // One error line, which says that nothing was saved.
        Err(CliError::Api { status, line }) => {
            return Err(CliError::Api {
                status,
                line: format!("{line}; nothing saved"),
            });
        }
        Err(e) => return Err(e),
    };
    cfg.contexts.insert(name.clone(), ctx);
    cfg.current_context = Some(name.clone());
    cfg.save(&path)?;
    writeln!(
        io.err,
        "Logged in to {} as {} (context {name}).",
        api.base(),
        who.user
    )
    .map_err(io_err)
}

fn logout(cli: &Cli, io: &mut Io<'_>) -> Result<(), CliError> {
    let (path, mut cfg) = load_config()?;
    let name = cfg.context_name(cli.context.as_deref())?;
    cfg.context(&name)?;
    if let Some(c) = cfg.contexts.get_mut(&name) {
        c.tokens = None;
        c.api_key = None;
    }
    cfg.save(&path)?;
    writeln!(io.err, "Logged out of context {name}.").map_err(io_err)
}

fn config_command(cli: &Cli, c: &ConfigCommand, io: &mut Io<'_>) -> Result<(), CliError> {
    let (path, mut cfg) = load_config()?;
    match c {
        ConfigCommand::UseContext { name } => {
            cfg.context(name)?;
            cfg.current_context = Some(name.clone());
            cfg.save(&path)?;
            writeln!(io.err, "Switched to context {name:?}.").map_err(io_err)
        }
        ConfigCommand::CurrentContext => match &cfg.current_context {
            Some(n) => writeln!(io.out, "{n}").map_err(io_err),
            None => Err(CliError::NotLoggedIn { context: None }),
        },
        ConfigCommand::DeleteContext { name } => {
            cfg.context(name)?;
            cfg.contexts.remove(name);
            if cfg.current_context.as_deref() == Some(name) {
                cfg.current_context = None;
            }
            cfg.save(&path)?;
            writeln!(io.err, "Deleted context {name:?}.").map_err(io_err)
        }
        ConfigCommand::GetContexts => {
            let current = cfg.current_context.as_deref();
            match cli.output {
                Format::Table => {
                    let rows: Vec<Vec<String>> = cfg
                        .contexts
                        .iter()
                        .map(|(n, c)| {
                            vec![
                                if Some(n.as_str()) == current { "*" } else { "" }.to_string(),
                                n.clone(),
                                c.server.clone(),
                                c.auth_kind().to_string(),
                                c.issuer.clone().unwrap_or_else(|| "<none>".into()),
                            ]
                        })
                        .collect();
                    output::write_table(
                        io.out,
                        &["CURRENT", "NAME", "SERVER", "AUTH", "ISSUER"],
                        &rows,
                        cli.no_headers,
                    )
                    .map_err(io_err)
                }
                f => {
                    let items: Vec<Value> = cfg
                        .contexts
                        .iter()
                        .map(|(n, c)| {
                            json!({
                                "name": n, "current": Some(n.as_str()) == current,
                                "server": c.server, "auth": c.auth_kind(),
                                "issuer": c.issuer, "clientId": c.client_id, "audience": c.audience,
                            })
                        })
                        .collect();
                    output::write_document(
                        io.out,
                        &json!({"currentContext": current, "contexts": items}),
                        f,
                    )
                    .map_err(io_err)
                }
            }
        }
    }
}

/// Reads a tenant file: the API's shape, or a Tenant resource (its metadata.name and spec).
fn tenant_body_from_file(path: &std::path::Path) -> Result<Map<String, Value>, CliError> {
    let (text, origin) = render::read_input(path)?;
    let v: Value =
        serde_yaml::from_str(&text).map_err(|e| CliError::Input(format!("{origin}: {e}")))?;
    let Value::Object(mut m) = v else {
        return Err(CliError::Input(format!(
            "{origin}: expected a mapping (a tenant)"
        )));
    };
    if m.get("kind").and_then(Value::as_str) == Some("Tenant") {
        let name = m
            .get("metadata")
            .and_then(|md| md.get("name"))
            .cloned()
            .ok_or_else(|| CliError::Input(format!("{origin}: metadata.name is missing")))?;
        let mut body = match m.remove("spec") {
            Some(Value::Object(s)) => s,
            _ => return Err(CliError::Input(format!("{origin}: spec is missing"))),
        };
        body.insert("name".into(), name);
        return Ok(body);
    }
    Ok(m)
}

fn apply_flags(body: &mut Map<String, Value>, f: &TenantFlags) {
    let mut set = |k: &str, v: Value| {
        body.insert(k.to_string(), v);
    };
    if let Some(t) = &f.tier {
        set("tier", json!(t));
    }
    if let Some(o) = &f.owner {
        set("ownerEmail", json!(o));
    }
    if let Some(d) = &f.display_name {
        set("displayName", json!(d));
    }
    if !f.admins.is_empty() {
        set("admins", json!(f.admins));
    }
    if !f.operators.is_empty() {
        set("operators", json!(f.operators));
    }
    if !f.viewers.is_empty() {
        set("viewers", json!(f.viewers));
    }
    if let Some(e) = &f.egress {
        set("egress", json!(e));
    }
}

async fn tenants(cli: &Cli, t: &TenantsCommand, io: &mut Io<'_>) -> Result<(), CliError> {
    let now = oauth::now();
    match t {
        TenantsCommand::List {
            tier,
            limit,
            continue_token,
        } => {
            let api = session(cli).await?;
            let mut q = Vec::new();
            if let Some(t) = tier {
                q.push(("tier", t.as_str()));
            }
            let (items, next) = api
                .list_all(
                    &["api", "v1", "tenants"],
                    &q,
                    *limit,
                    continue_token.as_deref(),
                )
                .await?;
            print_list(cli, io, Kind::Tenant, &items, next)
        }
        TenantsCommand::Get { name } => {
            let api = session(cli).await?;
            let a = api.get(&["api", "v1", "tenants", name], &[]).await?;
            output::write_one(
                io.out,
                Kind::Tenant,
                &a.body,
                cli.output,
                cli.no_headers,
                now,
            )
            .map_err(io_err)
        }
        TenantsCommand::Create(args) => {
            let mut body = match &args.file {
                Some(f) => tenant_body_from_file(f)?,
                None => Map::new(),
            };
            if let Some(n) = &args.name {
                body.insert("name".into(), json!(n));
            }
            apply_flags(&mut body, &args.fields);
            let missing: Vec<&str> = [
                ("name", "NAME"),
                ("tier", "--tier"),
                ("ownerEmail", "--owner"),
            ]
            .iter()
            .filter(|(k, _)| !body.contains_key(*k))
            .map(|(_, flag)| *flag)
            .collect();
            if !missing.is_empty() {
                return Err(CliError::Usage(format!(
                    "tenants create needs {} (or -f FILE)",
                    missing.join(", ")
                )));
            }
            let api = session(cli).await?;
            let a = api
                .send_json(
                    Method::POST,
                    &["api", "v1", "tenants"],
                    "application/json",
                    &Value::Object(body),
                    None,
                )
                .await?;
            done(cli, io, Kind::Tenant, &a.body, "created")
        }
        TenantsCommand::Update(args) => {
            let api = session(cli).await?;
            let segs = ["api", "v1", "tenants", args.name.as_str()];
            let a = match &args.file {
                Some(f) => {
                    let mut body = tenant_body_from_file(f)?;
                    apply_flags(&mut body, &args.fields);
                    body.entry("name").or_insert_with(|| json!(args.name));
                    let version = args.if_match.clone().or_else(|| {
                        body.get("version").map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                    });
                    for k in ["version", "createdAt", "updatedAt", "status"] {
                        body.remove(k);
                    }
                    api.send_json(
                        Method::PUT,
                        &segs,
                        "application/json",
                        &Value::Object(body),
                        version.as_deref(),
                    )
                    .await?
                }
                None => {
                    let mut patch = Map::new();
                    apply_flags(&mut patch, &args.fields);
                    if patch.is_empty() {
                        return Err(CliError::Usage(
                            "tenants update needs -f FILE or at least one field flag (--display-name, --owner, --tier, --admin, --operator, --viewer, --egress)".into(),
                        ));
                    }
                    api.send_json(
                        Method::PATCH,
                        &segs,
                        "application/merge-patch+json",
                        &Value::Object(patch),
                        args.if_match.as_deref(),
                    )
                    .await?
                }
            };
            done(cli, io, Kind::Tenant, &a.body, "updated")
        }
        TenantsCommand::Delete { name } => {
            let api = session(cli).await?;
            let url = api.url(&["api", "v1", "tenants", name], &[])?;
            api.call(Method::DELETE, url, None, None).await?;
            writeln!(io.out, "tenant {name} deleted").map_err(io_err)
        }
    }
}

/// After a change: `tenant NAME created` in table format, the object in JSON/YAML.
fn done(cli: &Cli, io: &mut Io<'_>, kind: Kind, v: &Value, verb: &str) -> Result<(), CliError> {
    match cli.output {
        Format::Table => {
            let what = match kind {
                Kind::Member => "member",
                _ => "tenant",
            };
            let t: mtp_core::api::TenantView = serde_json::from_value(v.clone()).map_err(|e| {
                CliError::Other(format!(
                    "the server's answer is not what the API describes: {e}"
                ))
            })?;
            writeln!(io.out, "{what} {} {verb}", t.name).map_err(io_err)
        }
        f => output::write_document(io.out, v, f).map_err(io_err),
    }
}

async fn members(cli: &Cli, m: &MembersCommand, io: &mut Io<'_>) -> Result<(), CliError> {
    let api = session(cli).await?;
    match m {
        MembersCommand::List { tenant } => {
            let a = api
                .get(&["api", "v1", "tenants", tenant, "members"], &[])
                .await?;
            let page: mtp_core::api::ListView<Value> = a.typed()?;
            print_list(cli, io, Kind::Member, &page.items, None)
        }
        MembersCommand::Add { tenant, user, role } => {
            // An unknown role is sent as it is: the server's 422 says what the roles are.
            let body = match role.parse::<mtp_core::Role>() {
                Ok(r) => serde_json::to_value(mtp_core::api::MemberInput::new(user.clone(), r))
                    .map_err(|e| CliError::Other(format!("cannot serialize the request: {e}")))?,
                Err(_) => json!({"userId": user, "role": role}),
            };
            let a = api
                .send_json(
                    Method::POST,
                    &["api", "v1", "tenants", tenant, "members"],
                    "application/json",
                    &body,
                    None,
                )
                .await?;
            a.typed::<mtp_core::api::MemberView>()?;
            match cli.output {
                Format::Table => {
                    writeln!(io.out, "member {user} added to {tenant} as {role}").map_err(io_err)
                }
                f => output::write_document(io.out, &a.body, f).map_err(io_err),
            }
        }
        MembersCommand::Remove { tenant, user } => {
            let url = api.url(&["api", "v1", "tenants", tenant, "members", user], &[])?;
            api.call(Method::DELETE, url, None, None).await?;
            writeln!(io.out, "member {user} removed from {tenant}").map_err(io_err)
        }
    }
}
