package llm

import "slices"

// Principal identifies who a call is made for. The same value drives budgets,
// tool policy, retrieval ACLs, audit records and telemetry attribution, so it
// travels on every Request.
//
// A zero Principal is anonymous. Packages that need a tenant (retrieval,
// budgets per tenant) treat a missing tenant as an error rather than as
// "all tenants".
type Principal struct {
	// Tenant is the isolation boundary: one customer organisation.
	Tenant string
	// User is the end user inside the tenant.
	User string
	// Roles are application roles such as "admin" or "agent".
	Roles []string
	// Groups are ACL groups the user belongs to (for document permissions).
	Groups []string
}

// IsZero reports whether p names neither a tenant nor a user.
func (p Principal) IsZero() bool { return p.Tenant == "" && p.User == "" }

// HasRole reports whether p holds role.
func (p Principal) HasRole(role string) bool { return slices.Contains(p.Roles, role) }

// InGroup reports whether p belongs to group.
func (p Principal) InGroup(group string) bool { return slices.Contains(p.Groups, group) }
