#include "auth/cert_problem_text.h"

#include <ctime>

#include "common/display_escape.h"

namespace bastion {
namespace {
constexpr std::size_t kMaxListChars = 200;
}  // namespace

std::string utc_minute(uint64_t unix_seconds) {
  // year 9999's last minute: anything later (0xFFFF... = "forever") clamps.
  constexpr uint64_t kMax = 253402300740ULL;
  const auto t = static_cast<time_t>(unix_seconds > kMax ? kMax : unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%MZ", &tm);
  return buf;
}

std::string cert_problem_lines(const std::vector<CertProblem>& problems, const std::string& renew_hint) {
  const std::string hint = display_escape(renew_hint);
  std::string out;
  for (const auto& p : problems) {
    std::string line = "bastion: your certificate ";
    switch (p.kind) {
      case CertProblem::Kind::expired:
        line += "expired at " + utc_minute(p.at) + "; " + hint;
        break;
      case CertProblem::Kind::not_yet_valid:
        line += "is not valid before " + utc_minute(p.at) + "; check this computer's clock, or " + hint;
        break;
      case CertProblem::Kind::no_principals:
        line += "names no principals; " + hint;
        break;
      case CertProblem::Kind::source_address:
        // The list is the CA's (signed), the address the peer's own: both bounded.
        line += "may be used only from " + display_escape_truncated(p.allowed_from, kMaxListChars) + ", not from " +
                display_escape_truncated(p.peer, kMaxListChars) +
                "; log in from an allowed address, or " + hint;
        break;
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace bastion
