//! The mtp domain: the Tenant custom resource, tiers, members, the `Store` trait and the tenant plan.
