#include "targets/postgres/sql_facts.h"

#include <nlohmann/json.hpp>

namespace bastion {

void SqlCommandFacts::describe(FactWriter& out) const {
  const SqlFacts& q = facts;
  out.text("statement", q.statement);
  out.list("reads", q.reads);
  out.list("writes", q.writes);
  out.list("functions", q.functions);
  out.list("opaque_reasons", q.opaque_reasons);
  out.list("creates_object_from", q.creates_object_from);
  out.flag("writes_data", q.writes_data);
  out.flag("has_where", q.has_where);
  out.flag("copy_program", q.copy_program);
  out.flag("opaque", q.opaque);
  out.flag("copy_to", q.copy_to);
  out.flag("query_string", q.query_string);
  out.flag("reads_statistics", q.reads_statistics);
  out.begin_records("sets");
  for (const auto& st : q.sets) {
    out.begin_record();
    out.text("name", st.name);
    out.text("value", st.value);
    out.flag("reset", st.reset);
    out.end_record();
  }
  out.end_records();
  if (!q.parse_error.empty()) out.text("parse_error", q.parse_error);
}

std::string SqlCommandFacts::audit_details() const {
  const SqlFacts& q = facts;
  nlohmann::json j = {{"statement", q.statement}, {"reads", q.reads}, {"writes", q.writes}, {"functions", q.functions}};
  // What an auditor searches for: what the classifier could not see, and settings changed.
  if (q.opaque) j["opaque_reasons"] = q.opaque_reasons;
  for (const auto& st : q.sets) j["sets"].push_back({{"name", st.name}, {"value", st.value}, {"reset", st.reset}});
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace bastion
