//! Generates a static API key: prints the secret once and the line to append to the keys file.
//!
//! `cargo run -p mtp-auth --example keygen -- <key-id> [group,group...]`

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(key_id) = args.next() else {
        eprintln!("usage: keygen <key-id> [group,group...]");
        return std::process::ExitCode::from(2);
    };
    let groups: Vec<String> = args
        .next()
        .map(|g| g.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    match mtp_auth::static_keys::generate_key(&key_id, &groups) {
        Ok(k) => {
            println!("secret (shown once, give it to the client): {}", k.secret);
            println!("append to the keys file:\n{}", k.line);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
