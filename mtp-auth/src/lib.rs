//! Authentication (static API keys, OIDC JWTs), rate limiting and tower/axum layers, usable without the rest of mtp.
