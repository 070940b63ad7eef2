#include "audit/case_fold.h"

#include <cwctype>
#include <locale.h>

#include <sqlite3.h>

#include "common/strings.h"

namespace bastion {
namespace {

// A C.UTF-8 ctype locale for towlower_l: no process-wide setlocale.
class Utf8Locale {
 public:
  Utf8Locale() : loc_(newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0))) {}
  ~Utf8Locale() {
    if (loc_) freelocale(loc_);
  }
  Utf8Locale(const Utf8Locale&) = delete;
  Utf8Locale& operator=(const Utf8Locale&) = delete;
  uint32_t lower(uint32_t cp) const {
    if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    return loc_ ? static_cast<uint32_t>(towlower_l(static_cast<wint_t>(cp), loc_)) : cp;
  }

 private:
  locale_t loc_;
};

// Decodes one UTF-8 character at s[i]; 0 length when the bytes are not one.
std::size_t decode(std::string_view s, std::size_t i, uint32_t& cp) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not characters.
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return n;
}

std::string fold_with(const Utf8Locale& loc, std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    const std::size_t n = decode(s, i, cp);
    if (n == 0) {
      out += s[i++];
      continue;
    }
    const uint32_t lower = loc.lower(cp);
    if (lower == cp) out.append(s.substr(i, n));
    else append_utf8(out, lower);
    i += n;
  }
  return out;
}

void contains_ci(sqlite3_context* ctx, int /*argc*/, sqlite3_value** argv) {
  const auto& loc = *static_cast<const Utf8Locale*>(sqlite3_user_data(ctx));
  const auto* text = static_cast<const char*>(sqlite3_value_blob(argv[0]));
  const auto* needle = static_cast<const char*>(sqlite3_value_blob(argv[1]));
  if (!text || !needle) return sqlite3_result_int(ctx, 0);
  const std::string_view t(text, static_cast<std::size_t>(sqlite3_value_bytes(argv[0])));
  const std::string_view n(needle, static_cast<std::size_t>(sqlite3_value_bytes(argv[1])));
  sqlite3_result_int(ctx, fold_with(loc, t).find(fold_with(loc, n)) != std::string::npos);
}

}  // namespace

std::string fold_case(std::string_view utf8) {
  const Utf8Locale loc;
  return fold_with(loc, utf8);
}

bool register_contains_ci(sqlite3* db) {
  auto* loc = new Utf8Locale();
  // SQLite owns `loc` from here (it calls the destructor even on failure).
  return sqlite3_create_function_v2(db, "contains_ci", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, loc, &contains_ci,
                                    nullptr, nullptr,
                                    [](void* p) { delete static_cast<Utf8Locale*>(p); }) == SQLITE_OK;
}

}  // namespace bastion
