#include "targets/postgres/column_masker.h"

#include <algorithm>
#include <cctype>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace bastion {
namespace {

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) { return std::tolower(x) == std::tolower(y); });
}

// The relation name of "schema.table" or "table".
std::string base_name(const std::string& t) {
  const auto dot = t.rfind('.');
  return dot == std::string::npos ? t : t.substr(dot + 1);
}

}  // namespace

const ColumnMaskRule* ColumnMasker::rule_for(const std::string& table, const std::string& column) const {
  for (const auto& r : rules_)
    if (same_name(r.column, column) && (r.table.empty() || (!table.empty() && same_name(base_name(r.table), table))))
      return &r;
  return nullptr;
}

bool ColumnMasker::masks_name(std::string_view column) const {
  for (const auto& r : rules_)
    if (same_name(r.column, column)) return true;
  return false;
}

void ColumnMasker::plan(const std::vector<ResultColumn>& cols, const std::vector<ColumnOrigin>& origins,
                        bool reads_masked_table) {
  plan_.assign(cols.size(), nullptr);
  derived_.assign(cols.size(), false);
  bool any = false;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    const ColumnOrigin o = i < origins.size() ? origins[i] : ColumnOrigin{};
    const ColumnMaskRule* r = nullptr;
    if (!o.computed) r = rule_for(o.table, o.column);
    // The output name too: a column named like a masked one is masked, whatever it is.
    if (!r) r = rule_for("", cols[i].name);
    if (!r && o.computed && o.may_carry_masked && mask_derived_ && reads_masked_table) {
      r = &whole_;
      derived_[i] = true;
    }
    plan_[i] = r;
    any |= r != nullptr;
  }
  if (!any) plan_.clear(), derived_.clear();
}

void ColumnMasker::plan_all(std::size_t ncols) {
  plan_.assign(ncols, &whole_);
  derived_.assign(ncols, false);
}

void ColumnMasker::mask_whole(std::size_t col) {
  if (plan_.empty()) plan_.assign(col + 1, nullptr);
  if (plan_.size() <= col) plan_.resize(col + 1, nullptr);
  plan_[col] = &whole_;
}

std::vector<std::string> ColumnMasker::masked_names(const std::vector<ResultColumn>& cols) const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < plan_.size() && i < cols.size(); ++i)
    if (plan_[i]) out.push_back(cols[i].name);
  return out;
}

std::vector<std::string> ColumnMasker::derived_names(const std::vector<ResultColumn>& cols) const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < derived_.size() && i < cols.size(); ++i)
    if (derived_[i]) out.push_back(cols[i].name);
  return out;
}

std::string ColumnMasker::mask_value(const std::string& v, const ColumnMaskRule& r) const {
  switch (r.method) {
    case ColumnMaskRule::Method::full: return "****";
    case ColumnMaskRule::Method::keep_last: {
      // Count characters, not bytes, so a UTF-8 value is never cut mid-character.
      std::vector<std::size_t> starts;
      for (std::size_t i = 0; i < v.size(); ++i)
        if ((static_cast<unsigned char>(v[i]) & 0xC0) != 0x80) starts.push_back(i);
      const auto keep = static_cast<std::size_t>(std::max(r.keep, 0));
      if (starts.size() <= keep) return std::string(starts.size(), '*');
      const std::size_t cut = starts[starts.size() - keep];
      return std::string(starts.size() - keep, '*') + v.substr(cut);
    }
    case ColumnMaskRule::Method::hash: {
      // Keyed, so equal values stay comparable without being guessable
      // (an unkeyed hash of a 9-digit number is reversed in seconds).
      unsigned char md[EVP_MAX_MD_SIZE];
      unsigned int len = 0;
      HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
           reinterpret_cast<const unsigned char*>(v.data()), v.size(), md, &len);
      static const char* hex = "0123456789abcdef";
      std::string out = "h:";
      for (unsigned int i = 0; i < 8 && i < len; ++i) out += hex[md[i] >> 4], out += hex[md[i] & 15];
      return out;
    }
  }
  return "****";
}

void ColumnMasker::apply(std::vector<Cell>& row) const {
  for (std::size_t i = 0; i < plan_.size() && i < row.size(); ++i)
    if (plan_[i] && !row[i].null) row[i].value = mask_value(row[i].value, *plan_[i]);
}

}  // namespace bastion
