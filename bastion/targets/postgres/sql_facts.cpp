#include "targets/postgres/sql_facts.h"

#include <nlohmann/json.hpp>

namespace bastion {

void SqlCommandFacts::describe(FactWriter& out) const {
  const SqlFacts& q = facts;
  out.text("source", q.source);
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
  out.begin_records("params");
  for (const auto& p : q.params) {
    out.begin_record();
    if (p.value) out.text("value", *p.value);  // absent (nil): NULL or binary
    out.flag("null", !p.value && !p.binary);
    out.flag("binary", p.binary);
    out.end_record();
  }
  out.end_records();
}

std::string SqlCommandFacts::audit_details() const {
  const SqlFacts& q = facts;
  nlohmann::json j = {{"statement", q.statement}, {"reads", q.reads}, {"writes", q.writes}, {"functions", q.functions}};
  // What an auditor searches for: what the classifier could not see, and settings changed.
  if (q.opaque) j["opaque_reasons"] = q.opaque_reasons;
  for (const auto& st : q.sets) j["sets"].push_back({{"name", st.name}, {"value", st.value}, {"reset", st.reset}});
  // The console's rows keep their details as they were; a wire client's say so.
  if (q.source != "console") j["source"] = q.source;
  if (!q.params.empty()) {
    constexpr std::size_t kAuditParamBytes = 1024;  // a bound value can be a whole file
    auto& params = j["params"] = nlohmann::json::array();
    for (const auto& p : q.params) {
      if (p.binary) params.push_back({{"binary", true}});
      else if (!p.value) params.push_back(nullptr);
      else if (p.value->size() <= kAuditParamBytes) params.push_back(*p.value);
      else params.push_back(p.value->substr(0, kAuditParamBytes) + "... (" + std::to_string(p.value->size()) + " bytes)");
    }
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace bastion
