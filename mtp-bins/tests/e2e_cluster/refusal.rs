//! Who refused a request: RBAC, Pod Security admission, one of mtp's webhooks, or something
//! else, read from the apiserver's Status (code and message).

use std::fmt;

/// What refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusedBy {
    /// The authorizer (RBAC): `... is forbidden: User "x" cannot list resource ...`.
    Rbac,
    /// Pod Security admission: `... violates PodSecurity "restricted:latest": ...`.
    PodSecurity,
    /// An admission webhook, by name: `admission webhook "x" denied the request: ...`.
    Webhook(String),
    /// The apiserver could not call a webhook (`failed calling webhook "x"`): not a decision.
    WebhookUnreachable(String),
    /// Anything else (validation, quota, ...).
    Other,
}

impl fmt::Display for RefusedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefusedBy::Rbac => write!(f, "RBAC"),
            RefusedBy::PodSecurity => write!(f, "Pod Security admission"),
            RefusedBy::Webhook(name) => write!(f, "webhook {name}"),
            RefusedBy::WebhookUnreachable(name) => write!(f, "an unreachable webhook {name}"),
            RefusedBy::Other => write!(f, "something else"),
        }
    }
}

/// A refused request: the HTTP code, who refused it and the apiserver's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status code.
    pub code: u16,
    /// Who refused it.
    pub by: RefusedBy,
    /// The apiserver's message.
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refused by {} ({}: {})",
            self.by, self.code, self.message
        )
    }
}

fn quoted_after<'a>(message: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let end = rest.find('"')?;
    Some(&rest[..end])
}

/// Classifies an apiserver answer by its code and message.
pub fn classify(code: u16, message: &str) -> Refusal {
    let by = if let Some(name) = quoted_after(message, "admission webhook \"") {
        RefusedBy::Webhook(name.to_owned())
    } else if let Some(name) = quoted_after(message, "failed calling webhook \"") {
        RefusedBy::WebhookUnreachable(name.to_owned())
    } else if message.contains("violates PodSecurity") {
        RefusedBy::PodSecurity
    } else if code == 403
        && message.contains(" cannot ")
        && message.contains("resource")
        // The admin may not impersonate: nothing was decided about the impersonated user.
        && !message.contains(" cannot impersonate ")
    {
        RefusedBy::Rbac
    } else {
        RefusedBy::Other
    };
    Refusal {
        code,
        by,
        message: message.to_owned(),
    }
}

/// The refusal of a failed kube call; `None` for errors that are no apiserver answer (network).
pub fn of_error(error: &kube::Error) -> Option<Refusal> {
    match error {
        kube::Error::Api(status) => Some(classify(status.code, &status.message)),
        _ => None,
    }
}

/// What a check that expects a refusal concludes from a call's result.
pub fn expect_refused<T>(
    result: Result<T, kube::Error>,
    accepted: &[RefusedBy],
) -> Result<Refusal, String> {
    match result {
        Ok(_) => Err("the cluster accepted it".to_owned()),
        Err(e) => match of_error(&e) {
            Some(refusal)
                if refusal.code == 403 && accepted.iter().any(|a| same_kind(a, &refusal.by)) =>
            {
                Ok(refusal)
            }
            Some(refusal) => Err(format!(
                "it was {refusal}, not a 403 from {}",
                accepted
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" or ")
            )),
            None => Err(format!("the call failed without an answer: {e}")),
        },
    }
}

/// `Webhook("")` in an accepted list stands for any webhook.
fn same_kind(accepted: &RefusedBy, actual: &RefusedBy) -> bool {
    match (accepted, actual) {
        (RefusedBy::Webhook(a), RefusedBy::Webhook(b)) => a.is_empty() || a == b,
        (a, b) => a == b,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn tells_the_refusers_apart() {
        let rbac = classify(
            403,
            "nodes is forbidden: User \"alice@e2e.example\" cannot list resource \"nodes\" in API group \"\" at the cluster scope",
        );
        assert_eq!(rbac.by, RefusedBy::Rbac);
        let psa = classify(
            403,
            "pods \"p\" is forbidden: violates PodSecurity \"restricted:latest\": privileged (container \"c\" must not set securityContext.privileged=true)",
        );
        assert_eq!(psa.by, RefusedBy::PodSecurity);
        let hook = classify(
            403,
            "admission webhook \"namespace-labels.mtp.dev\" denied the request: only the platform may set mtp.dev/tenant=x",
        );
        assert_eq!(
            hook.by,
            RefusedBy::Webhook("namespace-labels.mtp.dev".into())
        );
        let down = classify(
            500,
            "Internal error occurred: failed calling webhook \"namespace-labels.mtp.dev\": failed to call webhook: Post \"https://127.0.0.1:1/validate/namespace-labels?timeout=5s\": dial tcp 127.0.0.1:1: connect: connection refused",
        );
        assert_eq!(
            down.by,
            RefusedBy::WebhookUnreachable("namespace-labels.mtp.dev".into())
        );
        let no_impersonation = classify(
            403,
            "users \"alice@e2e.example\" is forbidden: User \"ci\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope",
        );
        assert_eq!(no_impersonation.by, RefusedBy::Other);
        let invalid = classify(
            422,
            "Pod \"p\" is invalid: spec.containers[0].image: Required value",
        );
        assert_eq!(invalid.by, RefusedBy::Other);
        assert!(
            hook.to_string()
                .starts_with("refused by webhook namespace-labels.mtp.dev (403: admission webhook")
        );
    }

    fn api_error(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(
            serde_json::from_value(serde_json::json!({"status": "Failure", "code": code, "message": message, "reason": "Forbidden"})).unwrap(),
        ))
    }

    #[test]
    fn expect_refused_accepts_only_the_listed_refusers() {
        let rbac = || {
            Err::<(), _>(api_error(
                403,
                "x is forbidden: User \"a\" cannot delete resource \"limitranges\"",
            ))
        };
        assert_eq!(
            expect_refused(rbac(), &[RefusedBy::Rbac]).unwrap().by,
            RefusedBy::Rbac
        );
        let any_hook = [RefusedBy::Rbac, RefusedBy::Webhook(String::new())];
        let hook = Err::<(), _>(api_error(
            403,
            "admission webhook \"managed-objects.mtp.dev\" denied the request: no",
        ));
        assert_eq!(
            expect_refused(hook, &any_hook).unwrap().by,
            RefusedBy::Webhook("managed-objects.mtp.dev".into())
        );
        let err = expect_refused(rbac(), &[RefusedBy::PodSecurity]).unwrap_err();
        assert!(
            err.contains("not a 403 from Pod Security admission"),
            "{err}"
        );
        let err = expect_refused(Ok::<(), kube::Error>(()), &[RefusedBy::Rbac]).unwrap_err();
        assert_eq!(err, "the cluster accepted it");
        let invalid = Err::<(), _>(api_error(422, "Pod \"p\" is invalid"));
        let err = expect_refused(invalid, &[RefusedBy::Rbac]).unwrap_err();
        assert!(err.contains("refused by something else (422"), "{err}");
    }
}
