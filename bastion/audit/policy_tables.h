// Whether the stored-policy tables are plain tables, per backend: a view
// (or, on PostgreSQL, row-level security) could show bastiond other rows
// than every other reader sees, for example by the text of its queries.
// Each query returns one row: how many of the four are plain tables.
#pragma once

namespace bastion {

inline constexpr const char* kPolicyTablesNotPlain =
    "policy_versions, policy_activations, policy_signatures and audit_chain must be plain tables "
    "(one is a view, or has row-level security): the store was changed outside bastiond";

inline constexpr const char* kSqlitePlainPolicyTables =
    "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name IN "
    "('policy_versions','policy_activations','policy_signatures','audit_chain')";

// Qualified throughout, and the connection's search_path leaves pg_catalog
// implicit, so searched first (pg_connect.cpp): no function or operator of
// the store's own schemas stands in for the built-in ones.
inline constexpr const char* kPgPlainPolicyTables =
    "SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) ANY (ARRAY["
    "pg_catalog.to_regclass('policy_versions'), pg_catalog.to_regclass('policy_activations'), "
    "pg_catalog.to_regclass('policy_signatures'), pg_catalog.to_regclass('audit_chain')]) "
    "AND c.relkind OPERATOR(pg_catalog.=) 'r' AND NOT c.relrowsecurity";

}  // namespace bastion
