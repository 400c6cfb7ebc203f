//! Pod-security checks and admission-webhook building blocks for Kubernetes, embeddable on their own.
pub mod builders;
