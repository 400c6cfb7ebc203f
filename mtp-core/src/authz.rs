//! Who may do what: a pure function of the caller, the action and the caller's membership in
//! the tenant.
//!
//! ```
//! use mtp_core::authz::{authorize, Action, Caller, Denied};
//! use mtp_core::Role;
//! let alice = Caller { platform_admin: false };
//! assert!(authorize(alice, Action::UpdateTenant, Some(Role::Admin)).is_ok());
//! assert_eq!(authorize(alice, Action::ReadTenant, None), Err(Denied::NotVisible));
//! ```

use crate::Role;

/// The default group whose members are platform admins (`mtp-apiserver --platform-admin-group`).
pub const DEFAULT_PLATFORM_ADMIN_GROUP: &str = "mtp:platform-admins";

/// The key id of the first API key: the one `mtp-apiserver` generates on a first start and
/// `mtpctl install admin-key` writes.
pub const FIRST_KEY_ID: &str = "platform-admin";

/// What the decision needs to know about the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// Whether the caller is in the platform-admin group.
    pub platform_admin: bool,
}

/// What the caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// List the tenants they may see.
    ListTenants,
    /// Create a tenant.
    CreateTenant,
    /// Read a tenant or its members.
    ReadTenant,
    /// Change a tenant's fields or members (not its tier).
    UpdateTenant,
    /// Change a tenant's tier.
    ChangeTier,
    /// Delete a tenant.
    DeleteTenant,
    /// Add a member.
    AddMember,
    /// Remove a member.
    RemoveMember,
    /// Read the tenant's audit log.
    ReadAudit,
}

/// The caller's access to a tenant, when allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A platform admin: everything.
    PlatformAdmin,
    /// A member with this role.
    Member(Role),
    /// No tenant involved (listing, creating).
    Platform,
}

/// Why the caller may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The caller may not even see the tenant (answered as "not found").
    #[error("the tenant does not exist or the caller may not see it")]
    NotVisible,
    /// The caller sees the tenant but may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
}

/// Decides whether `caller`, a member of the tenant with role `membership` (`None`: not a
/// member, or no tenant involved), may do `action`.
pub fn authorize(
    caller: Caller,
    action: Action,
    membership: Option<Role>,
) -> Result<Access, Denied> {
    use Action::*;
    if caller.platform_admin {
        return Ok(Access::PlatformAdmin);
    }
    match action {
        ListTenants => return Ok(Access::Platform),
        CreateTenant => {
            return Err(Denied::Forbidden("only platform admins may create tenants"));
        }
        _ => {}
    }
    let Some(role) = membership else {
        return Err(Denied::NotVisible);
    };
    let admin = role == Role::Admin;
    let refusal = match action {
        ReadTenant => None,
        UpdateTenant if !admin => {
            Some("only tenant admins and platform admins may change a tenant")
        }
        ChangeTier => Some("only platform admins may change the tier"),
        DeleteTenant => Some("only platform admins may delete tenants"),
        AddMember if !admin => Some("only tenant admins and platform admins may add members"),
        RemoveMember if !admin => Some("only tenant admins and platform admins may remove members"),
        ReadAudit if !admin => {
            Some("only tenant admins and platform admins may read the audit log")
        }
        _ => None,
    };
    match refusal {
        Some(r) => Err(Denied::Forbidden(r)),
        None => Ok(Access::Member(role)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        use Action::*;
        const PA: Caller = Caller {
            platform_admin: true,
        };
        const USER: Caller = Caller {
            platform_admin: false,
        };
        let admin = Some(Role::Admin);
        let operator = Some(Role::Operator);
        let viewer = Some(Role::Viewer);
        let ok = |a: Access| Ok::<Access, Denied>(a);
        let forbidden = |s: &'static str| Err::<Access, Denied>(Denied::Forbidden(s));
        let hidden = Err::<Access, Denied>(Denied::NotVisible);
        #[rustfmt::skip]
        let table = [
            // caller, action, membership, decision
            (PA, CreateTenant, None, ok(Access::PlatformAdmin)),
            (PA, DeleteTenant, None, ok(Access::PlatformAdmin)),
            (PA, ChangeTier, None, ok(Access::PlatformAdmin)),
            (PA, ReadAudit, viewer, ok(Access::PlatformAdmin)),
            (USER, ListTenants, None, ok(Access::Platform)),
            (USER, CreateTenant, admin, forbidden("only platform admins may create tenants")),
            (USER, ReadTenant, None, hidden),
            (USER, UpdateTenant, None, hidden),
            (USER, DeleteTenant, None, hidden),
            (USER, AddMember, None, hidden),
            (USER, ReadAudit, None, hidden),
            (USER, ReadTenant, viewer, ok(Access::Member(Role::Viewer))),
            (USER, ReadTenant, operator, ok(Access::Member(Role::Operator))),
            (USER, UpdateTenant, admin, ok(Access::Member(Role::Admin))),
            (USER, UpdateTenant, operator, forbidden("only tenant admins and platform admins may change a tenant")),
            (USER, UpdateTenant, viewer, forbidden("only tenant admins and platform admins may change a tenant")),
            (USER, ChangeTier, admin, forbidden("only platform admins may change the tier")),
            (USER, DeleteTenant, admin, forbidden("only platform admins may delete tenants")),
            (USER, AddMember, admin, ok(Access::Member(Role::Admin))),
            (USER, AddMember, operator, forbidden("only tenant admins and platform admins may add members")),
            (USER, RemoveMember, admin, ok(Access::Member(Role::Admin))),
            (USER, RemoveMember, viewer, forbidden("only tenant admins and platform admins may remove members")),
            (USER, ReadAudit, admin, ok(Access::Member(Role::Admin))),
            (USER, ReadAudit, operator, forbidden("only tenant admins and platform admins may read the audit log")),
        ];
        for (caller, action, membership, want) in table {
            assert_eq!(
                authorize(caller, action, membership),
                want,
                "{caller:?} {action:?} {membership:?}"
            );
        }
    }
}
