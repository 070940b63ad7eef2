#include "targets/postgres/wire/pg_wire_statement.h"

#include <cstdio>
#include <set>

#include "common/parse_number.h"
#include "targets/postgres/computed_columns.h"
#include "targets/postgres/mask_guard.h"
#include "targets/postgres/result_names.h"
#include "targets/postgres/result_renderer.h"

namespace bastion::pgwire {

bool lookup_origins(PgConnection& catalog, const std::vector<uint32_t>& table_oids, OriginMap& out) {
  if (table_oids.empty()) return true;
  if (!catalog.ok()) return false;
  std::string arr = "{";
  for (std::size_t i = 0; i < table_oids.size(); ++i) arr += (i ? "," : "") + std::to_string(table_oids[i]);
  arr += "}";
  PgResult res = catalog.query(
      "SELECT a.attrelid::pg_catalog.int8, a.attnum::pg_catalog.int4, c.relname, a.attname "
      "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
      "WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attrelid = ANY($1::pg_catalog.oid[])",
      {arr});
  if (!res || PQresultStatus(res.get()) != PGRES_TUPLES_OK) return false;
  for (int i = 0; i < PQntuples(res.get()); ++i) {
    const auto oid = parse_unsigned(PQgetvalue(res.get(), i, 0), 0, UINT32_MAX);
    const auto attnum = parse_unsigned(PQgetvalue(res.get(), i, 1), 1, INT16_MAX);
    if (!oid || !attnum) return false;
    out[{static_cast<uint32_t>(*oid), static_cast<int16_t>(*attnum)}] =
        ColumnOrigin{false, PQgetvalue(res.get(), i, 2), PQgetvalue(res.get(), i, 3)};
  }
  return true;
}

bool TreeCache::parse(const std::string& sql, StatementTree& out) {
  if (tree_ && sql == text_) return out.adopt(tree_, stmt_);
  if (!out.parse(sql)) return false;
  if (out.tree()->bytes() + sql.size() <= kMaxBytes) {
    std::string(sql).swap(text_);  // an assignment may keep a longer text's buffer
    tree_ = out.tree();
    stmt_ = out.stmt();
  }
  return true;
}

std::string prepare_masks(WireStatement& s, const std::string& mask_key, MaskPatternCache* patterns,
                          TreeCache* trees) {
  const Decision& d = s.gate.decision;
  if (!d.mask.empty())
    s.text_masks = patterns ? std::make_unique<MaskingFilter>(patterns->get(d.mask)) : std::make_unique<MaskingFilter>(d.mask);
  if (d.column_masks.empty()) return "";
  s.masker = std::make_unique<ColumnMasker>(d.column_masks, d.mask_derived, mask_key);
  s.withhold_messages = true;
  s.may_read_masked = true;  // until the analysis below says otherwise
  const bool parsed = s.stmt.parse_error.empty() &&
                      (s.stmt.tree ? s.tree.adopt(s.stmt.tree, s.stmt.node)
                                   : trees ? trees->parse(s.stmt.text, s.tree) : s.tree.parse(s.stmt.text));
  if (!parsed) return "the bastion could not analyse this statement, and column masks apply";
  const ColumnMasker& m = *s.masker;
  const MaskGuardFacts f = mask_guard_facts(s.tree.stmt(), [&m](std::string_view c) { return m.masks_name(c); });
  // COPY ... TO STDOUT sends CopyData, which no column plan covers.
  if (f.copy_to) return "COPY ... TO cannot be masked; column masks apply to this statement";
  // Whether it may read masked data: the catalog connection cannot resolve
  // names as the client's session would (search_path, its own uncommitted
  // tables), so any relation read counts, and so does what the text hides.
  const std::string& k = s.stmt.kind;
  s.may_read_masked = !s.stmt.reads.empty() || s.stmt.opaque || k == "do" || k == "call" || k == "execute" ||
                      k == "fetch" || !s.stmt.parse_error.empty();
  return mask_guard_refusal(f, s.may_read_masked, d.allow_derived_objects);
}

namespace {

// Under column masks, a result name the text does not show may be made
// from data (result_names.h): withheld unless it is its column's own name.
// After planning: the plan may mask a computed column by its name.
void withhold_unseen_names(WireStatement& s, std::vector<FieldDescription>& fields, std::vector<ResultColumn>& cols,
                           const OriginMap* origin_of) {
  if (!result_names_hidden(s.stmt)) return;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    FieldDescription& f = fields[i];
    std::string column;
    if (origin_of && f.table_oid)
      if (const auto it = origin_of->find({f.table_oid, f.column}); it != origin_of->end()) column = it->second.column;
    if (result_name_shown(s.stmt, f.name, column)) continue;
    f.name = cols[i].name = kUnnamedColumn;
    s.names_withheld = true;
  }
}

}  // namespace

std::string plan_result(WireStatement& s, std::vector<FieldDescription>& fields, const OriginResolver& resolve) {
  s.planned = true;
  s.formats.clear();
  s.masked_columns.clear();
  for (const auto& f : fields) s.formats.push_back(f.format);
  if (s.masker) {
    std::vector<ResultColumn> cols;
    std::vector<ColumnKey> wanted;
    for (const auto& f : fields) {
      cols.push_back({f.name, column_type(f.type_oid)});
      if (f.table_oid) wanted.emplace_back(f.table_oid, f.column);
    }
    OriginMap origin_of;
    const bool resolved = resolve && resolve(wanted, origin_of);
    if (!resolved || !s.tree.stmt().present()) {
      s.masker->plan_all(fields.size());
    } else {
      std::vector<ColumnOrigin> origins;
      std::vector<std::size_t> unknown;
      std::set<std::string, std::less<>> columns;
      for (const auto& [k, o] : origin_of) columns.insert(o.column);
      const ColumnMasker& m = *s.masker;
      const auto carry = computed_may_carry(
          s.tree.stmt(), fields.size(), [&m](std::string_view c) { return m.masks_name(c); },
          [&columns](std::string_view c) { return columns.count(std::string(c)) > 0; });
      for (std::size_t i = 0; i < fields.size(); ++i) {
        ColumnOrigin o;
        o.may_carry_masked = i < carry.size() ? carry[i] : true;
        if (fields[i].table_oid != 0) {
          const auto it = origin_of.find({fields[i].table_oid, fields[i].column});
          if (it != origin_of.end()) o = it->second;
          else o.computed = false, unknown.push_back(i);  // a relation the catalog does not show: masked whole
        }
        origins.push_back(o);
      }
      s.masker->plan(cols, origins, s.may_read_masked);
      for (auto i : unknown) s.masker->mask_whole(i);
    }
    withhold_unseen_names(s, fields, cols, resolved ? &origin_of : nullptr);
    const auto names = s.masker->masked_names(cols);
    for (std::size_t i = 0; i < names.size(); ++i) s.masked_columns += (i ? "," : "") + names[i];
    for (std::size_t i = 0; i < fields.size(); ++i)
      if (fields[i].format != 0 && s.masker->masks(i))
        return "column \"" + fields[i].name + "\" is masked and requested in binary format, which cannot be masked";
  }
  if (s.text_masks)
    for (const auto& f : fields)
      if (f.format != 0) return "output masks apply and column \"" + f.name + "\" is requested in binary format";
  return "";
}

bool mask_data_row(WireStatement& s, std::string_view body, std::string& framed_out) {
  std::vector<std::optional<std::string>> cols;
  std::string err;
  if (!decode_data_row(body, cols, err)) return false;
  if (!s.planned) {
    // An Execute nobody described: the formats are Bind's (none: text), and
    // with no origins every column is masked (fail closed).
    const auto& rf = s.bind_result_formats;
    s.formats.assign(cols.size(), rf.size() == 1 ? rf[0] : int16_t{0});
    for (std::size_t i = 0; rf.size() > 1 && i < cols.size(); ++i) s.formats[i] = i < rf.size() ? rf[i] : int16_t{1};
    s.planned = true;
    if (s.masker) s.masker->plan_all(cols.size());
  }
  if (s.masker) {
    std::vector<Cell> cells(cols.size());
    for (std::size_t i = 0; i < cols.size(); ++i) {
      if (!cols[i]) cells[i].null = true;
      else cells[i].value = *cols[i];
      if (s.masker->masks(i) && cols[i] && (i >= s.formats.size() || s.formats[i] != 0)) return false;
    }
    if (s.masker->active()) s.masker->apply(cells);
    for (std::size_t i = 0; i < cols.size(); ++i)
      if (!cells[i].null) cols[i] = std::move(cells[i].value);
  }
  if (s.text_masks)
    for (std::size_t i = 0; i < cols.size(); ++i) {
      if (!cols[i]) continue;
      if (i >= s.formats.size() || s.formats[i] != 0) return false;
      s.text_masks->mask(*cols[i]);
    }
  framed_out = encode_data_row(cols);
  return true;
}

Fields redacted(const Fields& f, const char* what) {
  std::string severity = "ERROR", sqlstate;
  for (const auto& [k, v] : f) {
    if (k == 'V' || (k == 'S' && severity == "ERROR")) severity = v;
    if (k == 'C') sqlstate = v;
  }
  return make_fields(severity, sqlstate,
                     std::string("the ") + what + " text is withheld because the statement reads masked columns");
}

std::string summary(const WireStatement& s, const std::string& tag, const std::string& error, double ms) {
  char t[48];
  std::snprintf(t, sizeof t, "%.1f ms", ms);
  if (!error.empty()) return "ERROR: " + error;
  const std::string& k = s.stmt.kind;
  if (tag.rfind("SELECT", 0) == 0 || k == "select" || k == "show" || k == "explain" || k == "fetch")
    return "(" + std::to_string(s.rows) + (s.rows == 1 ? " row, " : " rows, ") + t + ")";
  return (tag.empty() ? std::string("(done") : tag + " (") + (tag.empty() ? ", " : "") + t + ")";
}

}  // namespace bastion::pgwire
