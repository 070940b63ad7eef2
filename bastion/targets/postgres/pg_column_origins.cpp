// Where result columns come from, for column masks: the catalog lookup of
// the relations a statement names, what masks cannot cover (refused), and
// the mask plan of each result.
#include "targets/postgres/pg_executor.h"

#include <algorithm>
#include <set>

#include "common/display_escape.h"
#include "common/parse_number.h"
#include "targets/postgres/computed_columns.h"
#include "targets/postgres/mask_guard.h"
#include "targets/postgres/pg_text.h"
#include "targets/postgres/result_names.h"

namespace bastion {

using namespace pg_text;

namespace {

// A PostgreSQL text[] literal of names.
std::string text_array(const std::vector<std::string>& v) {
  std::string out = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ",";
    out += '"';
    for (char c : v[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

}  // namespace

bool PgExecutor::resolve_masks(Running& r) {
  const Decision& d = r.gate.decision;
  r.masker = std::make_unique<ColumnMasker>(d.column_masks, d.mask_derived, gate_.mask_key());
  // Every result column that comes from a table comes from one the statement
  // names (reads, or writes for RETURNING); views report themselves. So only
  // those relations are looked up (an index scan), and a column from any
  // other relation is masked whole (see begin_rows).
  std::vector<std::string> names;
  for (const auto* list : {&r.work.stmt.reads, &r.work.stmt.writes})
    for (const auto& t : *list) {
      // The parser has already folded unquoted names: quote every part exactly.
      std::string q;
      std::size_t start = 0;
      while (true) {
        const auto dot = t.find('.', start);
        std::string part = t.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        q += "\"";
        for (char c : part) q += c == '"' ? std::string("\"\"") : std::string(1, c);
        q += "\"";
        if (dot == std::string::npos) break;
        q += ".";
        start = dot + 1;
      }
      names.push_back(q);
    }
  if (conn_.tx_state() == '!') return !names.empty() || !r.work.stmt.functions.empty() ? false : true;
  // A function outside pg_catalog may return anything (SELECT email AS x
  // FROM my_func()): its columns have no origin, so treat the statement as
  // reading masked data and let derived-column masking cover them.
  if (!r.work.stmt.functions.empty()) {
    std::vector<std::string> fns;
    for (const auto& f : r.work.stmt.functions) {
      const auto dot = f.rfind('.');
      fns.push_back(lower(dot == std::string::npos ? f : f.substr(dot + 1)));
    }
    PgResult fr = conn_.query(
        "SELECT 1 FROM pg_catalog.pg_proc WHERE proname = ANY($1::pg_catalog.name[]) "
        "AND pronamespace <> 'pg_catalog'::pg_catalog.regnamespace LIMIT 1",
        {text_array(fns)});
    if (!fr || PQresultStatus(fr.get()) != PGRES_TUPLES_OK) return false;
    if (PQntuples(fr.get()) > 0) r.masked_tables.push_back("(function)");
  }
  if (names.empty()) return true;  // nothing named: every column is computed
  // to_regclass, not ::regclass: an unknown name must not abort the user's transaction.
  PgResult res = conn_.query(
      "SELECT a.attrelid::pg_catalog.int8, a.attnum::pg_catalog.int4, c.relname, a.attname "
      "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
      "WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attrelid IN "
      "(SELECT pg_catalog.to_regclass(n)::pg_catalog.oid FROM pg_catalog.unnest($1::pg_catalog.text[]) n)",
      {text_array(names)});
  if (!res || PQresultStatus(res.get()) != PGRES_TUPLES_OK) return false;
  for (int i = 0; i < PQntuples(res.get()); ++i) {
    ColumnOrigin o{false, PQgetvalue(res.get(), i, 2), PQgetvalue(res.get(), i, 3)};
    // Unparseable catalog values fail the resolution: every column is masked.
    const auto oid = parse_unsigned(PQgetvalue(res.get(), i, 0), 0, UINT32_MAX);
    const auto attnum = parse_unsigned(PQgetvalue(res.get(), i, 1), 1, INT16_MAX);
    if (!oid || !attnum) return false;
    r.origin_of[{static_cast<unsigned>(*oid), static_cast<int>(*attnum)}] = o;
    r.resolved.insert(static_cast<unsigned>(*oid));
    if (r.masker->masks_column(o.table, o.column)) r.masked_tables.push_back(lower(o.table));
  }
  return true;
}

// What column masks cannot cover is refused here, by the bastion, whatever
// the policy decided (mask_guard.h); and notes whether server messages about
// this statement must be withheld.
bool PgExecutor::refuse_under_masks(Running& r) {
  const SqlStatement& s = r.work.stmt;
  const bool unresolved = !r.masked_tables.empty() && r.masked_tables[0] == "*";
  // Statements whose reads their text does not show count as reading masked data.
  const bool hidden_reads = s.kind == "do" || s.kind == "call" || s.kind == "execute" || s.kind == "fetch";
  r.withhold_messages = !r.masked_tables.empty() || hidden_reads;
  // The relations it reads from (not those it only writes into): does one hold a masked column?
  bool reads_masked = unresolved || hidden_reads;
  for (const auto& t : r.masked_tables) reads_masked = reads_masked || t == "(function)";
  for (const auto& t : s.reads) {
    const auto dot = t.rfind('.');
    const std::string base = lower(dot == std::string::npos ? t : t.substr(dot + 1));
    const auto& mt = r.masked_tables;
    reads_masked = reads_masked || std::find(mt.begin(), mt.end(), base) != mt.end();
  }
  std::string reason;
  // What the classifier could not analyse is not parsed again as typed: the
  // server may read that text otherwise (an N'' literal with
  // standard_conforming_strings off), and the guard would judge another statement.
  if (!s.parse_error.empty() || !(s.tree ? r.tree.adopt(s.tree, s.node) : r.tree.parse(s.text))) {
    reason = "the bastion could not analyse this statement, and column masks apply";
  } else {
    const ColumnMasker& m = *r.masker;
    const MaskGuardFacts f = mask_guard_facts(r.tree.stmt(), [&m](std::string_view c) { return m.masks_name(c); });
    reason = mask_guard_refusal(f, reads_masked, r.gate.decision.allow_derived_objects);
  }
  if (reason.empty()) return false;
  CommandOutcome o;
  o.status = 1;
  o.error = reason;
  console_.flush();
  gate_.command_ended(r.gate.command_id, o);
  emit(Stream::err, "ERROR:  " + reason + "\n");
  if (stop_on_error_) queue_.clear(), finish(kSqlExitDenied);
  return true;
}

void PgExecutor::plan_masks(Running& r, std::vector<ColumnOrigin>& origins, const std::vector<std::size_t>& unknown,
                            int n) {
  if (!r.masked_tables.empty() && r.masked_tables[0] == "*") {
    r.masker->plan_all(static_cast<std::size_t>(n));
  } else {
    // masked_tables holds only relations this statement names (or a
    // user function): any entry means it may read masked data.
    const bool reads_masked = !r.masked_tables.empty();
    if (reads_masked) {
      // A computed column is masked only if its expression can carry a masked value.
      const ColumnMasker& m = *r.masker;
      std::set<std::string, std::less<>> columns;  // of every table the statement names (from the catalog)
      for (const auto& [key, o] : r.origin_of) columns.insert(lower(o.column));
      const auto carry = computed_may_carry(
          r.tree.stmt(), origins.size(), [&m](std::string_view c) { return m.masks_name(c); },
          [&columns](std::string_view c) { return columns.count(lower(std::string(c))) > 0; });
      for (std::size_t i = 0; i < origins.size(); ++i) origins[i].may_carry_masked = carry[i];
    }
    r.masker->plan(r.cols, origins, reads_masked);
    for (auto i : unknown) r.masker->mask_whole(i);  // provenance unknown: fail closed
  }
  // After planning (a computed column may be masked by its name): a name
  // the text does not show may be made from data (result_names.h).
  if (result_names_hidden(r.work.stmt))
    for (std::size_t i = 0; i < r.cols.size() && i < origins.size(); ++i)
      if (!result_name_shown(r.work.stmt, r.cols[i].name, origins[i].computed ? "" : origins[i].column))
        r.cols[i].name = kUnnamedColumn;
  const auto names = r.masker->masked_names(r.cols);
  for (std::size_t i = 0; i < names.size(); ++i) r.masked_columns += (i ? "," : "") + names[i];
  // Say why a computed value shows as masked (users took it for a bug).
  const auto derived = r.masker->derived_names(r.cols);
  if (derived.empty()) return;
  std::string list;
  for (const auto& d : derived) list += (list.empty() ? "\"" : ", \"") + display_escape(d) + "\"";
  emit(Stream::err, derived.size() == 1
                        ? "bastion: column " + list + " is masked: it is computed and may carry a masked value\n"
                        : "bastion: columns " + list + " are masked: they are computed and may carry masked values\n");
}

void PgExecutor::begin_rows(const PGresult* res) {
  Running& r = *running_;
  r.header = true;
  const int n = PQnfields(res);
  std::vector<ColumnOrigin> origins;
  std::vector<std::size_t> unknown;  // from a relation the statement did not name
  for (int i = 0; i < n; ++i) {
    r.cols.push_back({PQfname(res, i), column_type(PQftype(res, i))});
    ColumnOrigin o;
    const unsigned tbl = PQftable(res, i);
    if (tbl != 0) {
      o.computed = false;
      // The catalog gave every column of the tables named: anything else
      // (column 0 is a whole row, `SELECT c FROM customers c`) or a table
      // not named is masked whole.
      const auto it = r.origin_of.find({tbl, PQftablecol(res, i)});
      if (it != r.origin_of.end()) o = it->second;
      else unknown.push_back(static_cast<std::size_t>(i));
    }
    origins.push_back(o);
  }
  if (r.masker) plan_masks(r, origins, unknown, n);
}

}  // namespace bastion
