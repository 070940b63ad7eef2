#include "policy/policy_lint.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <optional>
#include <set>


#include "lua/lua_lexer.h"
#include "policy/policy.h"
#include "policy/policy_library.h"

namespace bastion {
namespace {

constexpr const char* kHooks[] = {"on_session", "on_command"};


using Token = LuaToken;

bool is(const Token& t, Token::Kind k, std::string_view text) { return t.kind == k && t.text == text; }

// Names a text declares or assigns: locals (`local a, b`, `local function
// f`), parameters, loop variables and anything assigned `NAME = ...`
// (globals, and table keys too: a superset, so no false warning from them).
std::set<std::string> seen_names(const std::vector<Token>& toks) {
  std::set<std::string> out;
  auto name_list = [&](std::size_t j, std::string_view stop) {
    for (; j < toks.size(); ++j) {
      if (toks[j].kind == Token::Kind::name && toks[j].text != stop) out.insert(toks[j].text);
      else if (!is(toks[j], Token::Kind::other, ",")) break;
    }
  };
  for (std::size_t i = 0; i < toks.size(); ++i) {
    const Token& t = toks[i];
    if (is(t, Token::Kind::name, "local") || is(t, Token::Kind::name, "for")) {
      name_list(i + 1 + (i + 1 < toks.size() && is(toks[i + 1], Token::Kind::name, "function")), "in");
    } else if (is(t, Token::Kind::name, "function")) {
      std::size_t j = i + 1;
      while (j < toks.size() && !is(toks[j], Token::Kind::other, "(")) ++j;
      name_list(j + 1, "");
    } else if (t.kind == Token::Kind::name && i + 1 < toks.size() && is(toks[i + 1], Token::Kind::other, "=") &&
               !(i + 2 < toks.size() && is(toks[i + 2], Token::Kind::other, "="))) {
      out.insert(t.text);
    }
  }
  return out;
}

bool is_keyword_value(const std::string& s) { return s == "nil" || s == "true" || s == "false"; }

std::string base(const std::string& path) { return std::filesystem::path(path).filename().string(); }

}  // namespace

std::vector<std::string> hook_problems(const std::vector<std::string>& functions) {
  std::vector<std::string> out;
  bool any_hook = false;
  for (const auto& f : functions) {
    if (f == kHooks[0] || f == kHooks[1]) {
      any_hook = true;
      continue;
    }
    const char* nearest = kHooks[0];
    std::size_t best = edit_distance(f, kHooks[0]);
    if (const std::size_t d = edit_distance(f, kHooks[1]); d < best) best = d, nearest = kHooks[1];
    // A function named on_* is meant as a hook; so is one a typo away from one.
    if (f.starts_with("on_") || best <= 2)
      out.push_back("unknown hook " + f + (best <= 3 ? std::string("; did you mean ") + nearest + "?" : std::string()) +
                    " (hooks: on_session, on_command)");
  }
  if (!any_hook) out.push_back("defines no hook (on_session or on_command): it never decides anything");
  return out;
}

LuaTextScan scan_policy_text(const std::string& text, const std::string& file) {
  LuaTextScan scan;
  std::vector<Token> toks;
  LuaLexer lex(text);
  for (Token t = lex.next(); t.kind != Token::Kind::end; t = lex.next()) toks.push_back(std::move(t));
  const std::set<std::string> names = seen_names(toks);
  // The index one past the bracket that closes the one at `open`.
  auto closing = [&](std::size_t open) {
    const std::string o = toks[open].text, c = o == "{" ? "}" : ")";
    int depth = 0;
    for (std::size_t j = open; j < toks.size(); ++j) {
      if (toks[j].kind != Token::Kind::other) continue;
      if (toks[j].text == "{" || toks[j].text == "(") ++depth;
      if (toks[j].text == "}" || toks[j].text == ")") --depth;
      if (depth == 0) return j + 1;
    }
    return toks.size();
  };
  for (std::size_t i = 0; i < toks.size(); ++i) {
    const Token& t = toks[i];
    const bool defined_here = i > 0 && (is(toks[i - 1], Token::Kind::name, "function") ||
                                        is(toks[i - 1], Token::Kind::other, ".") ||
                                        is(toks[i - 1], Token::Kind::other, ":"));
    if (is(t, Token::Kind::name, "review") && !defined_here && i + 1 < toks.size()) {
      const Token& n = toks[i + 1];
      if (n.kind == Token::Kind::string) {
        scan.reviews.push_back({t.line, false, ""});
      } else if (is(n, Token::Kind::other, "{") || is(n, Token::Kind::other, "(")) {
        const std::size_t end = closing(i + 1);
        bool approvers = false;
        std::string unseen;
        // `approvers = {}` is no approvers (the target's are asked, as with
        // none), nor is `approvers = nil`; `approvers = ""` names a
        // principal nobody has.
        for (std::size_t j = i + 2; j < end; ++j) {
          if (!is(toks[j], Token::Kind::name, "approvers")) continue;
          const bool assigned = j + 2 < end && is(toks[j + 1], Token::Kind::other, "=");
          const bool empty_list = j + 3 < end && assigned && is(toks[j + 2], Token::Kind::other, "{") &&
                                  is(toks[j + 3], Token::Kind::other, "}");
          const bool empty_name = assigned && toks[j + 2].kind == Token::Kind::string && toks[j + 2].text.empty();
          const bool nil = assigned && is(toks[j + 2], Token::Kind::name, "nil");
          approvers = approvers || !(empty_list || empty_name || nil);
          // A bare name as the whole value (not a call, field or expression).
          if (assigned && j + 3 < toks.size() && toks[j + 2].kind == Token::Kind::name &&
              !is_keyword_value(toks[j + 2].text) && !names.contains(toks[j + 2].text) &&
              (is(toks[j + 3], Token::Kind::other, ",") || is(toks[j + 3], Token::Kind::other, ";") ||
               is(toks[j + 3], Token::Kind::other, "}")))
            unseen = toks[j + 2].text;
        }
        scan.reviews.push_back({t.line, approvers, unseen});
      }
    }
    // columns = { "email", card = "hash", ["users.ssn"] = "last:4" }: each
    // string given as a value is a method.
    if (is(t, Token::Kind::name, "columns") && i + 2 < toks.size() && is(toks[i + 1], Token::Kind::other, "=") &&
        is(toks[i + 2], Token::Kind::other, "{")) {
      const std::size_t end = closing(i + 2);
      int depth = 0;
      for (std::size_t j = i + 2; j < end; ++j) {
        if (is(toks[j], Token::Kind::other, "{")) ++depth;
        if (is(toks[j], Token::Kind::other, "}")) --depth;
        if (depth != 1 || !is(toks[j], Token::Kind::other, "=") || j + 1 >= end) continue;
        const Token& v = toks[j + 1];
        // "a == b" inside a table constructor is an expression, not a key.
        if (j + 1 < end && is(v, Token::Kind::other, "=")) continue;
        ColumnMaskRule r;
        if (v.kind == Token::Kind::string && !parse_column_mask_method(v.text, r))
          scan.mask_problems.push_back(file + ":" + std::to_string(v.line) + ": mask column method \"" + v.text +
                                       "\" is not full, hash or last:N (N 0-999)");
      }
    }
    // patterns = { "re", ... }, mask = "re", mask = { "re", ... }: each
    // string in the list is a pattern RE2 must compile, as parse_mask does
    // at decision time (a bad one makes every such decision a policy error).
    // Strings are decoded as Lua reads them, so the text is what RE2 gets
    // (one with an escape Lua refuses is left to Lua's own error).
    if ((is(t, Token::Kind::name, "patterns") || is(t, Token::Kind::name, "mask")) && i + 2 < toks.size() &&
        is(toks[i + 1], Token::Kind::other, "=")) {
      auto check = [&](const Token& v) {
        if (v.kind != Token::Kind::string || !v.plain) return;
        const std::string why = mask_pattern_error(v.text);
        if (!why.empty())
          scan.mask_problems.push_back(file + ":" + std::to_string(v.line) + ": mask pattern \"" + v.text +
                                       "\" does not compile: " + why);
      };
      if (is(toks[i + 2], Token::Kind::other, "{")) {
        const std::size_t end = closing(i + 2);
        int depth = 0;
        for (std::size_t j = i + 2; j < end; ++j) {
          if (is(toks[j], Token::Kind::other, "{")) ++depth;
          if (is(toks[j], Token::Kind::other, "}")) --depth;
          // List entries only: a string right after "{" or "," (not a key's value, not "k = ").
          if (depth != 1 || toks[j].kind != Token::Kind::string || j + 1 >= end) continue;
          const bool entry = is(toks[j - 1], Token::Kind::other, "{") || is(toks[j - 1], Token::Kind::other, ",") ||
                             is(toks[j - 1], Token::Kind::other, ";");
          const bool ends = is(toks[j + 1], Token::Kind::other, ",") || is(toks[j + 1], Token::Kind::other, ";") ||
                            is(toks[j + 1], Token::Kind::other, "}");
          if (entry && ends) check(toks[j]);
        }
      } else if (is(t, Token::Kind::name, "mask") && i + 3 < toks.size() &&
                 (is(toks[i + 3], Token::Kind::other, ",") || is(toks[i + 3], Token::Kind::other, "}") ||
                  is(toks[i + 3], Token::Kind::other, ";"))) {
        check(toks[i + 2]);
      }
    }
  }
  return scan;
}

std::vector<std::string> lint_policy(const PolicySource& src, const std::vector<std::string>& functions) {
  std::vector<std::string> out;
  for (const auto& p : hook_problems(functions)) out.push_back(src.path + ": " + p);
  auto scan_one = [&](const std::string& text, const std::string& file) {
    for (auto& p : scan_policy_text(text, file).mask_problems) out.push_back(std::move(p));
  };
  scan_one(src.text, src.path);
  for (const auto& [name, text] : src.modules)
    scan_one(text, (std::filesystem::path(src.dir) / (name + ".lua")).string());
  return out;
}

std::vector<std::string> review_approver_warnings(const PolicySource& src) {
  std::vector<std::string> out;
  auto scan_one = [&](const std::string& text, const std::string& file) {
    for (const auto& r : scan_policy_text(text, file).reviews)
      if (!r.unseen_approvers_variable.empty())
        out.push_back(base(file) + ":" + std::to_string(r.line) + ": approvers is a variable the checker cannot see (" +
                      r.unseen_approvers_variable + "); make sure it names principals");
  };
  scan_one(src.text, src.path);
  for (const auto& [name, text] : src.modules) scan_one(text, name + ".lua");
  return out;
}

std::vector<std::string> reviews_without_approvers(const PolicySource& src) {
  std::vector<std::string> out;
  auto scan_one = [&](const std::string& text, const std::string& file) {
    for (const auto& r : scan_policy_text(text, file).reviews)
      if (!r.names_approvers) out.push_back(base(file) + ":" + std::to_string(r.line));
  };
  scan_one(src.text, src.path);
  for (const auto& [name, text] : src.modules) scan_one(text, name + ".lua");
  return out;
}

}  // namespace bastion
